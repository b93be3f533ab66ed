//! The connection every queue operation goes through.
//!
//! Scripts and pipelines reach Redis only through [`ConnectionLike`], so the
//! same code runs on one server and on a Redis Cluster.
//!
//! On a cluster, `redis::cluster_async::ClusterConnection` (redis crate 1.8)
//! sends `EVALSHA` to the primary that serves the slot of the script's first
//! key, and a pipeline to the node of its first command with a key. All keys
//! of a queue share one slot, because cluster mode requires a hash-tagged
//! prefix, so every command of a queue goes to one node. `SCRIPT LOAD` goes
//! to every primary.
//!
//! The cluster connection keeps one connection per node and reconnects to a
//! node in the background after an I/O error on it. A `MOVED` reply, which a
//! node sends for a slot it no longer serves, makes it reload the slot map
//! from the cluster. It is built with no retries, so, as on a single server,
//! a command in flight when its connection drops fails and is not sent
//! again, and a script runs at most once per call. A command that gets
//! `MOVED` or `ASK` during a failover or a slot migration fails as well, and
//! later commands go to the node the reloaded slot map names.
//!
//! Replies with the `WRONGTYPE` error are rewritten to name the queue's
//! prefix; see the `wrong_type` module.

mod wrong_type;

use std::io;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value};

/// A cloneable handle on the server or cluster, with a bound on how long any
/// command, including the wait for a reconnection, may take.
#[derive(Clone)]
pub(super) struct Connection {
    link: Link,
    response_timeout: Duration,
}

#[derive(Clone)]
enum Link {
    /// One server, through a manager that reconnects by itself.
    Single(ConnectionManager),
    /// A Redis Cluster, through a connection that routes each command to
    /// the node that serves its keys.
    Cluster(ClusterConnection),
}

impl Connection {
    pub(super) fn single(manager: ConnectionManager, response_timeout: Duration) -> Self {
        Self {
            link: Link::Single(manager),
            response_timeout,
        }
    }

    pub(super) fn cluster(connection: ClusterConnection, response_timeout: Duration) -> Self {
        Self {
            link: Link::Cluster(connection),
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
            Link::Cluster(cluster) => cluster.req_packed_command(cmd),
        };
        // The manager's own response timeout starts once a connection is up.
        // This one also covers the wait for a reconnection, which can retry
        // for several seconds while the server is down. The cluster connection
        // applies the same bound to each request itself.
        Box::pin(async move {
            let keys = || wrong_type::keys_of(cmd);
            match tokio::time::timeout(timeout, request).await {
                Ok(Ok(mut value)) => {
                    wrong_type::explain_value(&mut value, &keys);
                    Ok(value)
                }
                Ok(Err(error)) => Err(wrong_type::explain_error(error, &keys)),
                Err(_) => Err(timed_out(timeout)),
            }
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
            Link::Cluster(cluster) => cluster.req_packed_commands(pipeline, offset, count),
        };
        Box::pin(async move {
            let keys = || wrong_type::keys_of_pipeline(pipeline);
            match tokio::time::timeout(timeout, request).await {
                Ok(Ok(mut values)) => {
                    for value in &mut values {
                        wrong_type::explain_value(value, &keys);
                    }
                    Ok(values)
                }
                Ok(Err(error)) => Err(wrong_type::explain_error(error, &keys)),
                Err(_) => Err(timed_out(timeout)),
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(manager) => manager.get_db(),
            Link::Cluster(cluster) => cluster.get_db(),
        }
    }
}
