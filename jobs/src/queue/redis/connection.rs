//! The connection every queue operation goes through.

use std::io;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// A cloneable handle on the server, with a bound on how long any command,
/// including the wait for a reconnection, may take.
///
/// Scripts and pipelines reach the server only through [`ConnectionLike`], so
/// a Redis Cluster link (`redis::cluster_async::ClusterConnection`) can be
/// added as a second [`Link`] variant without changing them.
#[derive(Clone)]
pub(super) struct Connection {
    link: Link,
    response_timeout: Duration,
}

#[derive(Clone)]
enum Link {
    /// One server, through a manager that reconnects by itself.
    Single(ConnectionManager),
}

impl Connection {
    pub(super) fn single(manager: ConnectionManager, response_timeout: Duration) -> Self {
        Self {
            link: Link::Single(manager),
            response_timeout,
        }
    }
}

/// Builds the error of a command that got no reply within `timeout`: an I/O
/// error of kind `TimedOut`, which [`RedisError::is_timeout`] recognises.
fn timed_out(timeout: Duration) -> RedisError {
    RedisError::from(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("no reply from Redis within {timeout:?}"),
    ))
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let timeout = self.response_timeout;
        let request = match &mut self.link {
            Link::Single(manager) => manager.req_packed_command(cmd),
        };
        // The manager's own response timeout starts once a connection is up.
        // This one also covers the wait for a reconnection, which can retry
        // for several seconds while the server is down.
        Box::pin(async move {
            tokio::time::timeout(timeout, request)
                .await
                .unwrap_or_else(|_| Err(timed_out(timeout)))
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let timeout = self.response_timeout;
        let request = match &mut self.link {
            Link::Single(manager) => manager.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(async move {
            tokio::time::timeout(timeout, request)
                .await
                .unwrap_or_else(|_| Err(timed_out(timeout)))
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(manager) => manager.get_db(),
        }
    }
}
