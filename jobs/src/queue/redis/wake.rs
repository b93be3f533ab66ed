//! Waiting for work: an idle worker blocks on the `{p}:wake` list until a
//! script leaves a wake token, the next delayed job is due, the next lease
//! expires or the poll interval has passed.
//!
//! A blocking command holds its connection until it returns, and every other
//! command sent on that connection waits behind it. So BLPOP never runs on
//! the shared connection: each waiter takes a connection of its own from a
//! small pool, opened on first use, and returns it when BLPOP returns. A wait
//! that is cancelled, or that fails, drops its connection, so a connection
//! with a BLPOP still pending on the server is never used again.
//!
//! An idle server ends a BLPOP whose timeout has passed only on its next cron
//! tick, every 1000 / `hz` ms, so a wait would end up to a tick late. On a
//! single server the wait therefore ends the BLPOP itself once its block
//! time has passed, with `CLIENT UNBLOCK <id> TIMEOUT` on the shared
//! connection, and the blocking connection stays usable for the next wait.
//! On a cluster, and where the server refuses `CLIENT ID`, the wait still
//! ends on the server's tick.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};

use tracing::debug;

use super::connection::Connection;
use super::{RedisJobQueue, redis_error};
use crate::error::QueueError;

/// The most blocking connections kept open between waits. Each waiting fetch
/// loop uses one; a worker has one fetch loop.
const MAX_IDLE_CONNECTIONS: usize = 4;

/// The shortest block: BLPOP reads a timeout of 0 as "forever".
const MIN_BLOCK: Duration = Duration::from_millis(1);

/// How blocking connections are opened: with the client of the server or of
/// the cluster that the shared connection came from.
#[derive(Clone)]
pub(super) enum WakeSource {
    Single(Client),
    Cluster(Box<ClusterClient>),
}

/// A connection that only ever sends BLPOP.
enum BlockingConnection {
    /// With the connection's client id, unless the server rejected `CLIENT ID`.
    Single(MultiplexedConnection, Option<u64>),
    Cluster(ClusterConnection),
}

/// The blocking connections of one queue, and their settings.
pub(super) struct WakeConnections {
    source: WakeSource,
    idle: Mutex<Vec<BlockingConnection>>,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl WakeConnections {
    pub(super) fn new(source: WakeSource, connect_timeout: Duration, response_timeout: Duration) -> Self {
        Self {
            source,
            idle: Mutex::new(Vec::new()),
            connect_timeout,
            response_timeout,
        }
    }

    async fn take(&self) -> Result<BlockingConnection, RedisError> {
        let kept = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        if let Some(connection) = kept {
            return Ok(connection);
        }
        match &self.source {
            WakeSource::Single(client) => {
                // No response timeout of its own: the wait bounds each BLPOP
                // by its block time plus the queue's response timeout.
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(None);
                let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
                // An error, from an ACL or a server before 5.0, leaves the
                // waits on this connection to end on the server's tick.
                let command = redis::cmd("CLIENT").arg("ID").clone();
                let id = tokio::time::timeout(self.response_timeout, command.query_async(&mut connection))
                    .await
                    .map_err(|_| timed_out("CLIENT ID", self.response_timeout))?
                    .ok();
                Ok(BlockingConnection::Single(connection, id))
            }
            WakeSource::Cluster(client) => Ok(BlockingConnection::Cluster(client.get_async_connection().await?)),
        }
    }

    fn put_back(&self, connection: BlockingConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(connection);
        }
    }

    /// The longest block. A cluster connection applies the queue's response
    /// timeout to every command, BLPOP included, so a block stays within
    /// half of it on both kinds of connection.
    fn max_block(&self) -> Duration {
        (self.response_timeout / 2).max(MIN_BLOCK)
    }
}

impl BlockingConnection {
    /// Sends `BLPOP key seconds` and waits at most `block` plus `slack` for the
    /// reply. When the connection's client id is known, ends the BLPOP through
    /// `shared` once `block` has passed, rather than waiting for the server's tick.
    async fn blpop(
        &mut self,
        key: &str,
        block: Duration,
        slack: Duration,
        shared: &Connection,
    ) -> Result<(), RedisError> {
        let mut command = redis::cmd("BLPOP");
        command.arg(key).arg(format!("{:.3}", block.as_secs_f64()));
        let id = match self {
            BlockingConnection::Single(_, id) => *id,
            BlockingConnection::Cluster(_) => None,
        };
        let request = async {
            match self {
                BlockingConnection::Single(connection, _) => connection.req_packed_command(&command).await,
                BlockingConnection::Cluster(connection) => connection.req_packed_command(&command).await,
            }
        };
        tokio::pin!(request);
        let limit = tokio::time::Instant::now() + block + slack;
        if let Some(id) = id {
            if let Ok(reply) = tokio::time::timeout(block, &mut request).await {
                return reply.map(drop);
            }
            // A token that arrived meanwhile has been popped: then the
            // server unblocks nothing and the reply carries the token.
            // NOTE: the shared connection reconnects by URL, so after a
            // DNS-based failover it may reach another server, where the id
            // names another client. Redis ends blocked commands when a
            // primary becomes a replica (replication.c), which makes that
            // rare, not impossible.
            let unblocked: Result<i64, RedisError> = redis::cmd("CLIENT")
                .arg("UNBLOCK")
                .arg(id)
                .arg("TIMEOUT")
                .query_async(&mut shared.clone())
                .await;
            if let Err(error) = unblocked {
                debug!(error = %error, "CLIENT UNBLOCK failed; the BLPOP ends on the server's next tick");
            }
        }
        match tokio::time::timeout_at(limit, request).await {
            Ok(reply) => reply.map(drop),
            Err(_) => Err(timed_out("BLPOP", block + slack)),
        }
    }
}

impl RedisJobQueue {
    /// Reads, in one transaction, the server time, the ready count and the
    /// earliest due time and lease deadline, and deletes the wake tokens,
    /// which that read makes stale. Then blocks on `{p}:wake` until a token
    /// arrives or the earlier of those two times or `max_wait` has passed.
    pub(super) async fn wait_until_due(&self, max_wait: Duration) -> Result<(), QueueError> {
        type Earliest = Vec<(Vec<u8>, f64)>;
        let ((seconds, micros), ready, next_due, next_expiry): ((u64, u64), u64, Earliest, Earliest) = redis::pipe()
            .atomic()
            .cmd("TIME")
            .cmd("LLEN")
            .arg(&self.keys.ready)
            .cmd("ZRANGE")
            .arg(&self.keys.delayed)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .cmd("ZRANGE")
            .arg(&self.keys.processing_vt)
            .arg(0)
            .arg(0)
            .arg("WITHSCORES")
            .cmd("DEL")
            .arg(&self.keys.wake)
            .ignore()
            .query_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("wait_for_job"))?;
        if ready > 0 {
            return Ok(());
        }

        let now = seconds as f64 + micros as f64 / 1e6;
        let due_in = |earliest: &Earliest| earliest.first().and_then(|(_, at)| time_until(*at - now));
        let wait = [due_in(&next_due), due_in(&next_expiry)]
            .into_iter()
            .flatten()
            .fold(max_wait, Duration::min)
            .min(self.wake.max_block());
        if wait.is_zero() {
            return Ok(());
        }

        let mut connection = self.wake.take().await.map_err(redis_error("wait_for_job"))?;
        connection
            .blpop(
                &self.keys.wake,
                wait.max(MIN_BLOCK),
                self.wake.response_timeout,
                &self.connection,
            )
            .await
            .map_err(redis_error("wait_for_job"))?;
        self.wake.put_back(connection);
        Ok(())
    }
}

fn timed_out(command: &str, limit: Duration) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no reply to {command} within {limit:?}"),
    ))
}

/// Converts the seconds until a due time into a duration: zero when it is due
/// now or past, and `None` when it is too far ahead for a `Duration` (such as
/// a score of 1e300 that another program wrote) or not a number, so such a
/// time never counts as due and an idle worker never polls without pause.
fn time_until(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() {
        return None;
    }
    if seconds <= 0.0 {
        return Some(Duration::ZERO);
    }
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_and_present_due_times_are_zero() {
        assert_eq!(time_until(-5.0), Some(Duration::ZERO));
        assert_eq!(time_until(0.0), Some(Duration::ZERO));
        assert_eq!(time_until(f64::NEG_INFINITY), Some(Duration::ZERO));
    }

    #[test]
    fn far_future_due_times_are_ignored() {
        assert_eq!(time_until(1e300), None);
        assert_eq!(time_until(f64::INFINITY), None);
        assert_eq!(time_until(0.25), Some(Duration::from_millis(250)));
    }
}
