//! Opens a fresh queue of either backend, so one test body runs on both.

use std::sync::Arc;
use std::time::Duration;

use jobs::DynQueue;
use jobs::queue::memory::InMemoryJobQueue;
use jobs::queue::redis::{RedisJobQueue, RedisQueueOptions};

use crate::RedisServer;

/// The queue backends under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `InMemoryJobQueue`.
    Memory,
    /// `RedisJobQueue` on a throwaway `redis-server`.
    Redis,
}

/// A queue for one test, with the server behind it when there is one.
pub struct TestQueue {
    /// The queue.
    pub queue: DynQueue,
    /// The Redis server, kept alive for the test's duration.
    pub server: Option<RedisServer>,
}

impl TestQueue {
    /// Opens an empty queue whose leases last `visibility_timeout`.
    pub async fn open(backend: Backend, visibility_timeout: Duration) -> Self {
        match backend {
            Backend::Memory => Self {
                queue: Arc::new(InMemoryJobQueue::with_visibility_timeout(visibility_timeout)),
                server: None,
            },
            Backend::Redis => {
                let server = RedisServer::start();
                let queue = connect_redis(&server.url(), visibility_timeout).await;
                Self {
                    queue,
                    server: Some(server),
                }
            }
        }
    }

    /// A second handle on the same queue, as another worker process would open it.
    /// For the in-memory queue it is the same queue.
    pub async fn reopen(&self) -> DynQueue {
        match &self.server {
            None => self.queue.clone(),
            Some(server) => connect_redis(&server.url(), self.queue.visibility_timeout()).await,
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

/// Defines one `#[tokio::test]` per backend for each listed async function
/// taking a [`Backend`]: `backend_tests!(enqueue_then_ack, ...)` creates
/// `memory::enqueue_then_ack` and `redis::enqueue_then_ack`.
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
    };
}
