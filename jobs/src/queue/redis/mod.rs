//! The Redis queue.
//!
//! # Keys
//!
//! The keys and hash fields are those of svc-infra's Python `RedisJobQueue`,
//! so Python producers and workers can share a prefix `p` (default `jobs`)
//! with ours:
//!
//! | key | type | contents |
//! |---|---|---|
//! | `{p}:ready` | LIST | due job ids, pushed at the head, popped at the tail (FIFO) |
//! | `{p}:processing` | LIST | reserved job ids |
//! | `{p}:processing_vt` | ZSET | reserved ids, scored by lease deadline in epoch seconds |
//! | `{p}:delayed` | ZSET | waiting ids, scored by due time in epoch seconds |
//! | `{p}:seq` | STRING | the id counter: each job id is `INCR {p}:seq` |
//! | `{p}:job:{id}` | HASH | the job's fields |
//! | `{p}:dlq` | LIST | dead job ids, newest at the head |
//! | `{p}:unique:{key}` | STRING | the id of the job that holds unique key `key` |
//! | `{p}:wake` | LIST | at most one wake token for idle workers |
//! | `{p}:schedule:{key}` | STRING | a `claim_once` claim until its ttl; the scheduler's are `{task}:{slot}` |
//!
//! The first seven are svc-infra's; the unique-key locks, the wake list, the claims and
//! some hash fields are ours, and svc-infra ignores them. A unique-key lock has no expiry while
//! its job is queued and expires at the lease deadline while it runs, so the
//! key of a job whose worker died frees itself. A svc-infra worker that acks
//! such a job leaves the lock behind, and the next enqueue with that key
//! replaces it, because the job it names is gone.
//!
//! The dead-letter queue keeps at most the dead-letter limit of jobs
//! ([`RedisQueueOptions::dead_letter_limit`]); the scripts that dead-letter a
//! job delete the oldest dead jobs beyond it, at most 100 more than they
//! dead-lettered per call, and the queue logs how many.
//!
//! A job whose lease expires goes back to the head of `{p}:ready`, behind the
//! jobs already waiting, as in svc-infra and the in-memory queue. A released
//! job goes to the tail, so it is the next one popped.
//!
//! # Entries written by other programs
//!
//! Reserving never fails on a bad entry, because a failed call would lose
//! the reply after it leased earlier jobs of the batch:
//!
//! - An id whose `{p}:job:{id}` key has another type than a hash is taken off
//!   `{p}:ready` or `{p}:processing` and logged as a warning naming the key
//!   and its type. It is not dead-lettered, because no `last_error` can be
//!   written at that key, and the key is left as it is.
//! - An id that is not valid UTF-8 is dead-lettered at once, without counting
//!   an attempt, with a `last_error` saying so: its lease and ack would name
//!   another key, so it would run on every attempt. Ids that this crate and
//!   svc-infra write are decimal integers from `INCR {p}:seq`. `dead_jobs`
//!   lists such an id in an escaped form (printable ASCII as it is, a
//!   backslash doubled, every other byte as `\xHH`), which `dead_job` and
//!   `requeue_dead` accept, and `purge_dead` deletes it with the rest.
//!
//! # Idle workers and wake tokens
//!
//! An idle worker blocks with `BLPOP {p}:wake` on a connection of its own
//! (see `wake.rs`) instead of sleeping for its poll interval. The scripts that
//! make a job ready (enqueue, release, requeue, a reserve that leaves jobs
//! behind) or make a delayed job the earliest (enqueue, a retry) leave a
//! token there, so one idle worker wakes within a round trip. The block also
//! ends when the earliest delayed job is due or the earliest lease expires.
//! Producers that leave no token, such as svc-infra, are seen at the next
//! poll.
//!
//! # Batches
//!
//! `ack` hands its lease to a task that acks all waiting leases in one script
//! call (see `ack_batch.rs`), `enqueue_many` stores up to 100 jobs per script
//! call and pipelines the calls, and `reserve_many` reserves up to 100 jobs
//! per script call.
//!
//! # Atomicity and time
//!
//! Every change that touches more than one key is one Lua script (see the
//! `scripts/` folder), so a crash or a concurrent worker never finds a job in
//! two states or in none. Scripts take the time from the server's `TIME`, so
//! due times and lease deadlines follow one clock for all workers. The
//! `available_at` and `died_at` texts are informational and come from the
//! worker's clock.
//!
//! On Redis Cluster ([`RedisJobQueue::connect_cluster`]), every script touches
//! several keys of one queue, and Redis runs a script only when all its keys
//! hash to one slot. So the prefix must contain a hash tag, such as `{jobs}`:
//! Redis then hashes only the text between the braces, and every key of the
//! queue, job hashes included, lands in the slot of `jobs`. `connect_cluster`
//! rejects a prefix without one.
//!
//! # Lost connections
//!
//! The connection is a `redis::aio::ConnectionManager` (redis crate 1.8). When
//! the connection drops, the commands in flight on it fail with an I/O error
//! and are not sent again. The manager starts reconnecting in the background,
//! and later commands wait for the new connection. A failed command may or may
//! not have run on the server: for example a reserve whose reply was lost has
//! still reserved its jobs, which return to the queue when their leases
//! expire, and an enqueue reported as failed may have stored the job. Every
//! command, including its wait for a reconnection, is bounded by the response
//! timeout (5 s by default), so operations fail instead of hanging while Redis
//! is down, with errors for which [`QueueError::is_transient`] is true.
//!
//! A cluster connection (`redis::cluster_async::ClusterConnection`) keeps
//! one connection per node and reconnects each by itself. It is built without
//! retries, so here too a command in flight when its connection drops fails
//! and is not sent again. A command that reaches a node after the queue's slot
//! moved fails with `MOVED`, and the connection reloads the slot map, so later
//! commands reach the new node.
//!
//! [`QueueError::is_transient`]: crate::QueueError::is_transient

mod ack_batch;
mod claim;
mod codec;
mod connect;
mod connection;
mod dead;
mod enqueue;
mod inspect;
mod keys;
mod reserve;
mod scripts;
mod settle;
mod wake;

pub(crate) use connect::mask_password;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::RedisError;

use self::ack_batch::AckBatcher;
use self::connection::Connection;
use self::keys::Keys;
use self::wake::{WakeConnections, WakeSource};
use super::memory::DEFAULT_VISIBILITY_TIMEOUT;
use super::{
    DEFAULT_DEAD_LETTER_LIMIT, DeadJob, FailOutcome, Failure, JobQueue, Lease, LeaseOutcome, QueueStats, Reserved,
};
use crate::config::{ConfigError, DEFAULT_REDIS_PREFIX};
use crate::error::{EnqueueError, QueueError};
use crate::job::{Job, NewJob};

/// The maximum number of items one script call handles: jobs reserved,
/// delayed jobs promoted, expired leases, skipped ready entries, dead jobs
/// requeued or purged, or old dead jobs deleted beyond those it dead-lettered.
/// It keeps any one script from blocking Redis for long.
const BATCH_LIMIT: usize = 100;

/// Settings of a [`RedisJobQueue`].
#[derive(Debug, Clone)]
pub struct RedisQueueOptions {
    prefix: String,
    visibility_timeout: Duration,
    response_timeout: Duration,
    connect_timeout: Duration,
    dead_letter_limit: usize,
}

impl Default for RedisQueueOptions {
    /// Prefix `jobs`, 60 s visibility timeout, 5 s response and connect
    /// timeouts, and at most [`DEFAULT_DEAD_LETTER_LIMIT`] dead jobs.
    fn default() -> Self {
        Self {
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            response_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            dead_letter_limit: DEFAULT_DEAD_LETTER_LIMIT,
        }
    }
}

impl RedisQueueOptions {
    /// Sets the key prefix. On Redis Cluster, use a hash tag such as `{jobs}`
    /// so all the queue's keys share a slot.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the lease length for jobs that do not set their own.
    ///
    /// # Panics
    ///
    /// If `visibility_timeout` is zero.
    pub fn visibility_timeout(mut self, visibility_timeout: Duration) -> Self {
        assert!(!visibility_timeout.is_zero(), "the visibility timeout must be positive");
        self.visibility_timeout = visibility_timeout;
        self
    }

    /// Sets how long one command may take, including the wait for a
    /// reconnection, before it fails with a timeout error.
    ///
    /// # Panics
    ///
    /// If `response_timeout` is zero.
    pub fn response_timeout(mut self, response_timeout: Duration) -> Self {
        assert!(!response_timeout.is_zero(), "the response timeout must be positive");
        self.response_timeout = response_timeout;
        self
    }

    /// Sets the maximum number of dead jobs kept (default
    /// [`DEFAULT_DEAD_LETTER_LIMIT`]). Dead-lettering a job beyond it deletes
    /// the oldest dead jobs, hashes included, and logs how many. One call
    /// deletes at most 100 more than it dead-lettered, so after the limit is
    /// lowered the queue shrinks to it over several calls. Pass `usize::MAX`
    /// to keep every dead job.
    ///
    /// # Panics
    ///
    /// If `limit` is zero.
    pub fn dead_letter_limit(mut self, limit: usize) -> Self {
        assert!(limit > 0, "the dead-letter limit must be positive");
        self.dead_letter_limit = limit;
        self
    }

    /// Sets how long [`RedisJobQueue::connect`] tries to reach the server.
    ///
    /// # Panics
    ///
    /// If `connect_timeout` is zero.
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> Self {
        assert!(!connect_timeout.is_zero(), "the connect timeout must be positive");
        self.connect_timeout = connect_timeout;
        self
    }
}

/// A queue stored in Redis, with the key layout of svc-infra.
///
/// Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisJobQueue {
    connection: Connection,
    acks: Arc<AckBatcher>,
    wake: Arc<WakeConnections>,
    keys: Keys,
    visibility_timeout: Duration,
    dead_letter_limit: usize,
    masked_url: String,
}

impl fmt::Debug for RedisJobQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisJobQueue")
            .field("url", &self.masked_url)
            .field("prefix", &self.keys.prefix())
            .field("visibility_timeout", &self.visibility_timeout)
            .field("dead_letter_limit", &self.dead_letter_limit)
            .finish_non_exhaustive()
    }
}

impl RedisJobQueue {
    /// Connects to the Redis server at `url` (`redis://`, `rediss://` when the
    /// redis crate is built with TLS, or `unix://`) and checks that it replies to PING.
    ///
    /// Logs a warning when the server's `maxmemory-policy` is not
    /// `noeviction`, because eviction can delete jobs.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidPrefix`] for an empty prefix or one with
    /// whitespace, [`ConfigError::InvalidRedisUrl`] for a malformed URL, and
    /// [`ConfigError::RedisUnreachable`] when the server does not reply within
    /// the connect timeout. Both URL errors show the URL with its password
    /// replaced by `***`.
    pub async fn connect(url: &str, options: RedisQueueOptions) -> Result<Self, ConfigError> {
        check_prefix(&options.prefix)?;
        let masked_url = connect::mask_password(url);
        let client = connect::client(url, &masked_url)?;
        let timeouts = connect::Timeouts {
            connect: options.connect_timeout,
            response: options.response_timeout,
        };
        let wake = WakeSource::Single(client.clone());
        let connection = connect::open(client, &masked_url, &timeouts).await?;
        Ok(Self::from_connection(connection, wake, masked_url, &options))
    }

    /// Returns the key prefix.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Builds the queue on an open connection to a server or a cluster, with
    /// `wake` to open the connections idle workers block on.
    fn from_connection(
        connection: Connection,
        wake: WakeSource,
        masked_url: String,
        options: &RedisQueueOptions,
    ) -> Self {
        Self {
            connection,
            acks: Arc::default(),
            wake: Arc::new(WakeConnections::new(
                wake,
                options.connect_timeout,
                options.response_timeout,
            )),
            keys: Keys::new(&options.prefix),
            visibility_timeout: options.visibility_timeout,
            dead_letter_limit: options.dead_letter_limit,
            masked_url,
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), ConfigError> {
    let reason = if prefix.is_empty() {
        "it is empty"
    } else if prefix.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidPrefix {
        value: prefix.to_owned(),
        reason: format!("{reason}; use letters, digits and `:`, `_`, `-` or a hash tag such as `{{jobs}}`"),
    })
}

/// Wraps a Redis error with the queue operation that issued it.
fn redis_error(operation: &'static str) -> impl FnOnce(RedisError) -> QueueError {
    move |source| QueueError::Redis { operation, source }
}

#[async_trait]
impl JobQueue for RedisJobQueue {
    /// Cancel safety: when the future is dropped, the job may or may not be stored.
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError> {
        self.enqueue_one(job).await
    }

    /// Stores up to 100 jobs per script call and sends up to 1000 jobs per
    /// round trip, in pipelined calls.
    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, EnqueueError> {
        self.enqueue_batch(jobs).await
    }

    async fn reserve(&self) -> Result<Option<Reserved>, QueueError> {
        Ok(self.reserve_up_to(1).await?.pop())
    }

    /// Reserves up to 100 jobs per script call, so `max` above 100 takes
    /// several round trips. A call also stops after skipping 100 ready entries
    /// (ids without a hash, or jobs to dead-letter), and is then repeated.
    async fn reserve_many(&self, max: usize) -> Result<Vec<Reserved>, QueueError> {
        self.reserve_up_to(max).await
    }

    /// Returns at once when jobs are ready. Otherwise it blocks until a script
    /// leaves a wake token (a job became ready or a delayed job became the
    /// earliest), the next delayed job is due, the next lease expires or
    /// `max_wait` has passed, whichever is first. It blocks at most half the
    /// response timeout per call, on a connection of its own.
    ///
    /// Cancel safety: dropping the future closes the connection it blocks on.
    async fn wait_for_job(&self, max_wait: Duration) -> Result<(), QueueError> {
        self.wait_until_due(max_wait).await
    }

    /// Acks through the queue's ack task, which sends the acks of concurrent
    /// callers in one script call. The call waits for the outcome, at most
    /// twice the response timeout.
    async fn ack(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        self.ack_lease(lease).await
    }

    /// Acks up to 100 leases per script call, one round trip per call.
    async fn ack_many(&self, leases: &[Lease]) -> Result<Vec<LeaseOutcome>, QueueError> {
        let leases: Vec<&Lease> = leases.iter().collect();
        self.ack_leases(&leases).await
    }

    /// Sends the ack calls and the first reserve call on the shared
    /// connection without waiting in between, acks first, so both take one
    /// round trip. Redis runs each script atomically and in the order sent.
    async fn ack_and_reserve(
        &self,
        leases: &[Lease],
        max: usize,
    ) -> (Result<Vec<LeaseOutcome>, QueueError>, Result<Vec<Reserved>, QueueError>) {
        let leases: Vec<&Lease> = leases.iter().collect();
        if leases.is_empty() {
            return (Ok(Vec::new()), self.reserve_up_to(max).await);
        }
        tokio::join!(self.ack_leases(&leases), self.reserve_up_to(max))
    }

    async fn fail(&self, lease: &Lease, failure: Failure) -> Result<FailOutcome, QueueError> {
        self.fail_lease(lease, failure).await
    }

    async fn release(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        self.release_lease(lease).await
    }

    async fn extend_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        self.extend(lease).await
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, QueueError> {
        self.read_job(id).await
    }

    /// Counts `{p}:ready`, `{p}:delayed`, `{p}:processing_vt` and `{p}:dlq`.
    async fn stats(&self) -> Result<QueueStats, QueueError> {
        self.count_jobs().await
    }

    /// Skips ids in the dead-letter queue whose hash is gone, so it may return
    /// fewer than `limit` jobs while more follow.
    async fn dead_jobs(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        self.list_dead(offset, limit).await
    }

    /// Finds the id with `LPOS`, whose scan the dead-letter limit bounds, and
    /// reads the hash in the same transaction.
    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        self.read_dead(id).await
    }

    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        self.requeue_one_dead(id).await
    }

    /// Moves up to 100 jobs per script call, so a failure part way leaves the
    /// earlier batches requeued. Ids whose hash is gone are dropped and not counted.
    async fn requeue_all_dead(&self) -> Result<u64, QueueError> {
        self.requeue_dead_batches().await
    }

    /// Deletes up to 100 jobs per script call, so a failure part way leaves the
    /// earlier batches deleted. Ids whose hash is gone are dropped and not counted.
    async fn purge_dead(&self) -> Result<u64, QueueError> {
        self.purge_dead_batches().await
    }

    /// Sets `{p}:schedule:{key}` with `SET NX PX`. A `ttl` under 1 ms counts as 1 ms.
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, QueueError> {
        self.claim_key_once(key, ttl).await
    }

    fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }
}
