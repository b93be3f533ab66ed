//! Shared support for the integration tests: throwaway Redis servers and
//! helpers to run one test body against every queue backend.

pub mod backend;
pub mod redis_server;

pub use backend::{Backend, TestQueue};
pub use redis_server::RedisServer;
