//! Opens a fresh queue of any backend, so one test body runs on each.

use std::sync::Arc;
use std::time::Duration;

use jobs::DynQueue;
use jobs::queue::memory::InMemoryJobQueue;
use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};

use crate::{RedisCluster, RedisServer};

/// The queue backends under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `InMemoryJobQueue`.
    Memory,
    /// `RedisJobQueue` on a throwaway `redis-server`.
    Redis,
    /// `RedisJobQueue` on the Redis Cluster shared by the test binary, under
    /// a hash-tagged prefix of its own.
    RedisCluster,
}

/// A queue for one test, with the server behind it when there is one.
pub struct TestQueue {
    /// The queue.
    pub queue: DynQueue,
    /// The Redis server, kept alive for the test's duration.
    pub server: Option<RedisServer>,
    /// The queue's prefix on the shared cluster, for the `RedisCluster` backend.
    cluster_prefix: Option<String>,
}

impl TestQueue {
    /// Opens an empty queue whose leases last `visibility_timeout`.
    pub async fn open(backend: Backend, visibility_timeout: Duration) -> Self {
        match backend {
            Backend::Memory => Self {
                queue: Arc::new(InMemoryJobQueue::with_visibility_timeout(visibility_timeout)),
                server: None,
                cluster_prefix: None,
            },
            Backend::Redis => {
                let server = RedisServer::start();
                let queue = connect_redis(&server.url(), visibility_timeout).await;
                Self {
                    queue,
                    server: Some(server),
                    cluster_prefix: None,
                }
            }
            Backend::RedisCluster => {
                let prefix = RedisCluster::shared().unique_prefix();
                let queue = connect_cluster(&prefix, visibility_timeout).await;
                Self {
                    queue,
                    server: None,
                    cluster_prefix: Some(prefix),
                }
            }
        }
    }

    /// A second handle on the same queue, as another worker process would open it.
    /// For the in-memory queue it is the same queue.
    pub async fn reopen(&self) -> DynQueue {
        let visibility_timeout = self.queue.visibility_timeout();
        match (&self.server, &self.cluster_prefix) {
            (Some(server), _) => connect_redis(&server.url(), visibility_timeout).await,
            (None, Some(prefix)) => connect_cluster(prefix, visibility_timeout).await,
            (None, None) => self.queue.clone(),
        }
    }
}

/// Connects a Redis queue with the default prefix.
pub async fn connect_redis(url: &str, visibility_timeout: Duration) -> DynQueue {
    let options = RedisQueueOptions::default().visibility_timeout(visibility_timeout);
    let queue = RedisJobQueue::connect(url, options)
        .await
        .unwrap_or_else(|error| panic!("connect to the test Redis at {url}: {error}"));
    Arc::new(queue)
}

/// Connects a Redis queue with `prefix` to the cluster shared by the test binary.
pub async fn connect_cluster(prefix: &str, visibility_timeout: Duration) -> DynQueue {
    let urls = RedisCluster::shared().urls();
    let options = RedisQueueOptions::default()
        .prefix(prefix)
        .visibility_timeout(visibility_timeout);
    let queue = RedisJobQueue::connect_cluster(&urls, options)
        .await
        .unwrap_or_else(|error| panic!("connect to the test cluster at {urls:?}: {error}"));
    Arc::new(queue)
}

/// Defines one `#[tokio::test]` per backend for each listed async function
/// taking a [`Backend`]: `backend_tests!(enqueue_then_ack, ...)` creates
/// `memory::enqueue_then_ack`, `redis::enqueue_then_ack` and
/// `redis_cluster::enqueue_then_ack`.
#[macro_export]
macro_rules! backend_tests {
    ($($case:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::backend::Backend::Memory).await;
                }
            )+
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::backend::Backend::Redis).await;
                }
            )+
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case($crate::backend::Backend::RedisCluster).await;
                }
            )+
        }
    };
}
