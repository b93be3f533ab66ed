//! Stopping idle workers on Redis: the stop ends the fetch loop cleanly and
//! never reports an aborted queue call that did not happen.

use std::time::Duration;

use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};
use jobs::{JobOptions, Registry, WorkerRunner};
use jobs_tests::RedisServer;
use jobs_tests::logs::captured_logs;

/// The warning a stop logs when it has to abort the fetch loop's queue call.
const ABORT_WARNING: &str = "did not reply to the fetch loop's call in time";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_worker_stops_without_abort() {
    let logs = captured_logs();
    let server = RedisServer::start();
    let queue = RedisJobQueue::connect(&server.url(), RedisQueueOptions::default())
        .await
        .unwrap();

    for round in 0..30u64 {
        let mut registry = Registry::new();
        registry.register("noop", JobOptions::DEFAULT, |_| async {}).unwrap();
        let worker = WorkerRunner::new(queue.clone(), registry)
            .poll_interval(Duration::from_millis(10))
            .start();
        // Stop at varied points of the idle loop: inside a wait, between
        // waits and inside the reserve call.
        tokio::time::sleep(Duration::from_millis(3 + round % 7 * 4)).await;

        let report = worker.stop(Duration::from_secs(1)).await;

        assert_eq!(report.in_flight, 0, "round {round}");
        assert_eq!(report.unsettled, 0, "round {round}");
    }

    let text = logs.text();
    let aborts = text.lines().filter(|line| line.contains(ABORT_WARNING)).count();
    assert_eq!(aborts, 0, "a clean stop reported an aborted call:\n{text}");
}
