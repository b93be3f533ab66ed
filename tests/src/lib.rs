//! Shared support for the integration tests: throwaway Redis servers and
//! clusters, and helpers to run one test body against every queue backend.

pub mod backend;
pub mod cluster;
pub mod logs;
pub mod process;
pub mod redis_server;

pub use backend::{Backend, TestQueue};
pub use cluster::RedisCluster;
pub use redis_server::RedisServer;
