//! `RedisJobQueue` on a three-primary Redis Cluster: key placement, routing
//! to every primary, configuration, and a slot that moves to another node.
//! The shared queue and worker suites also run every case on a cluster.

use std::collections::HashSet;
use std::time::Duration;

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{ConfigError, Failure, JobQueue, JobsConfig, LeaseOutcome, NewJob, display_chain};
use jobs_tests::{RedisCluster, RedisServer};
use serde_json::json;

fn options(prefix: &str) -> RedisQueueOptions {
    RedisQueueOptions::default()
        .prefix(prefix)
        .visibility_timeout(Duration::from_secs(30))
}

async fn connect(urls: &[String], prefix: &str) -> RedisJobQueue {
    RedisJobQueue::connect_cluster(urls, options(prefix))
        .await
        .unwrap_or_else(|error| panic!("connect to the test cluster at {urls:?}: {error}"))
}

fn job(name: &str) -> NewJob {
    NewJob::new(name, json!({"n": 1}))
}

#[tokio::test]
async fn queue_keys_share_one_slot() {
    let cluster = RedisCluster::shared();
    let prefix = cluster.unique_prefix();
    let queue = connect(&cluster.urls(), &prefix).await;

    queue.enqueue(job("ready")).await.unwrap();
    queue
        .enqueue(job("later").delay(Duration::from_secs(600)))
        .await
        .unwrap();
    queue.enqueue(job("reserved")).await.unwrap();
    queue.enqueue(job("doomed").max_attempts(1)).await.unwrap();
    let mut reserved = queue.reserve_many(3).await.unwrap();
    assert_eq!(reserved.len(), 3);
    let doomed = reserved.pop().unwrap();
    assert_eq!(doomed.job.name, "doomed");
    queue
        .fail(
            &doomed.lease,
            Failure::Retry {
                error: "broken".to_owned(),
                delay: Duration::ZERO,
            },
        )
        .await
        .unwrap();
    let ready_again = reserved.remove(0);
    queue.release(&ready_again.lease).await.unwrap();

    let slot = cluster.slot_of(&format!("{prefix}:ready"));
    let port = cluster.port_serving(slot);
    let listed = cluster.cli(port, &["CLUSTER", "GETKEYSINSLOT", &slot.to_string(), "100"]);
    let in_slot: HashSet<&str> = listed.lines().filter(|key| !key.is_empty()).collect();
    let expected: HashSet<String> = [
        "ready",
        "delayed",
        "processing",
        "processing_vt",
        "seq",
        "dlq",
        "job:1",
        "job:2",
        "job:3",
        "job:4",
    ]
    .iter()
    .map(|name| format!("{prefix}:{name}"))
    .collect();
    for key in &expected {
        assert!(
            in_slot.contains(key.as_str()),
            "{key} is not in slot {slot}: {in_slot:?}"
        );
    }
    for other in cluster.ports().into_iter().filter(|&other| other != port) {
        let count = cluster.cli(other, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
        assert_eq!(count.trim(), "0", "node {other} holds keys of slot {slot}");
    }
}

#[tokio::test]
async fn queues_on_every_primary_work() {
    let cluster = RedisCluster::shared();
    let urls = cluster.urls();

    // Find one prefix for each primary, then reach each queue through a
    // seed node that does not serve it, so the client has to find the node.
    let mut prefixes = Vec::new();
    let mut covered = HashSet::new();
    while covered.len() < cluster.ports().len() {
        let prefix = cluster.unique_prefix();
        let port = cluster.port_serving(cluster.slot_of(&format!("{prefix}:ready")));
        if covered.insert(port) {
            prefixes.push((prefix, port));
        }
    }

    for (prefix, port) in prefixes {
        let seed: Vec<String> = urls
            .iter()
            .filter(|url| !url.ends_with(&format!(":{port}")))
            .take(1)
            .cloned()
            .collect();
        let queue = connect(&seed, &prefix).await;

        let queued = queue.enqueue(job("routed")).await.unwrap();
        let reserved = queue.reserve().await.unwrap().expect("the job is due");
        assert_eq!(reserved.job.id, queued.id, "queue {prefix} on port {port}");
        assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
        assert_eq!(queue.stats().await.unwrap().ready, 0);
        let count = cluster.cli(port, &["DBSIZE"]);
        assert_ne!(count.trim(), "0", "node {port} should hold {prefix}:seq");
    }
}

#[tokio::test]
async fn prefix_without_hash_tag_rejected() {
    let cluster = RedisCluster::shared();
    let error = RedisJobQueue::connect_cluster(&cluster.urls(), options("myapp:jobs"))
        .await
        .expect_err("a prefix without a hash tag must be rejected");
    let text = error.to_string();

    assert!(matches!(error, ConfigError::InvalidPrefix { .. }), "{text}");
    assert!(text.contains("\"myapp:jobs\""), "{text}");
    assert!(text.contains("`{myapp:jobs}`"), "{text}");
}

#[tokio::test]
async fn single_server_rejected_as_cluster() {
    let server = RedisServer::start();
    let error = RedisJobQueue::connect_cluster(&[server.url()], options("{jobs}"))
        .await
        .expect_err("a server without cluster mode is not a cluster");
    let text = error.to_string();

    assert!(matches!(error, ConfigError::RedisUnreachable { .. }), "{text}");
    assert!(text.contains(&server.url()), "{text}");
}

#[tokio::test]
async fn config_selects_cluster() {
    let cluster = RedisCluster::shared();
    let prefix = cluster.unique_prefix();
    let urls = cluster.urls().join(", ");
    let config = JobsConfig::from_lookup(|name| match name {
        "JOBS_DRIVER" => Some("redis".to_owned()),
        "JOBS_REDIS_CLUSTER" => Some("1".to_owned()),
        "REDIS_URL" => Some(urls.clone()),
        "JOBS_REDIS_PREFIX" => Some(prefix.clone()),
        _ => None,
    })
    .unwrap();
    assert!(config.redis_cluster);

    let queue = config.connect().await.unwrap();
    let queued = queue.enqueue(job("configured")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().expect("the job is due");

    assert_eq!(reserved.job.id, queued.id);
    let slot = cluster.slot_of(&format!("{prefix}:seq"));
    let stored = cluster.cli(cluster.port_serving(slot), &["GET", &format!("{prefix}:seq")]);
    assert_eq!(stored.trim(), "1");
}

/// A command that reaches the old node after its slot moved fails with
/// `MOVED`, because the connection is built without retries. The reply makes
/// the connection reload the slot map, so the next command reaches the new node.
#[tokio::test]
async fn moved_slot_followed_after_one_error() {
    // A cluster of its own, because moving a slot would disturb other tests.
    let cluster = RedisCluster::start();
    let prefix = "{moving}";
    let queue = connect(&cluster.urls(), prefix).await;
    let first = queue.enqueue(job("first")).await.unwrap();
    let second = queue.enqueue(job("second")).await.unwrap();

    let slot = cluster.slot_of(&format!("{prefix}:ready"));
    let old_port = cluster.port_serving(slot);
    let new_port = cluster.ports().into_iter().find(|&port| port != old_port).unwrap();
    cluster.move_slot(slot, new_port);
    assert_eq!(cluster.port_serving(slot), new_port);

    let error = queue
        .reserve()
        .await
        .expect_err("the old node no longer serves the slot");
    let chain = display_chain(&error);
    let source = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<redis::RedisError>())
        .unwrap_or_else(|| panic!("not a Redis error: {chain}"));
    assert_eq!(
        source.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::Moved),
        "{chain}"
    );

    let reserved = queue.reserve().await.unwrap().expect("the moved jobs are still queued");
    assert_eq!(reserved.job.id, first.id);
    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    let reserved = queue.reserve().await.unwrap().expect("the second job is still queued");
    assert_eq!(reserved.job.id, second.id);
    let count = cluster.cli(new_port, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
    assert_ne!(count.trim(), "0", "the new node holds the queue");
}
