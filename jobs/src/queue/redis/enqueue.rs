//! Enqueueing: one script call stores up to [`BATCH_LIMIT`] jobs, and batches
//! pipeline several calls per round trip.

use chrono::{DateTime, Utc};
use redis::{ErrorKind, RedisError, ServerErrorKind, ToRedisArgs, Value};

use super::codec::{self, millis};
use super::scripts::{ENQUEUE, ENQUEUE_SOURCE};
use super::{BATCH_LIMIT, RedisJobQueue, redis_error};
use crate::error::EnqueueError;
use crate::job::{Job, NewJob};

/// The enqueue script's reply for one job: 1 and the new id, or 0 and the id
/// of the job that holds the unique key.
type EnqueueReply = (u8, String);

/// The maximum number of jobs in one `enqueue_many` round trip, so one round
/// trip stays well within the response timeout.
const PIPELINE_LIMIT: usize = 1000;

/// A command being built, to which the arguments of a job are appended.
trait ArgSink {
    fn push_arg<T: ToRedisArgs>(&mut self, arg: T);
}

impl ArgSink for redis::Cmd {
    fn push_arg<T: ToRedisArgs>(&mut self, arg: T) {
        self.arg(arg);
    }
}

impl ArgSink for redis::ScriptInvocation<'_> {
    fn push_arg<T: ToRedisArgs>(&mut self, arg: T) {
        self.arg(arg);
    }
}

impl RedisJobQueue {
    pub(super) async fn enqueue_one(&self, job: NewJob) -> Result<Job, EnqueueError> {
        if let Err(source) = job.validate() {
            return Err(EnqueueError::Invalid {
                source,
                job: Box::new(job),
            });
        }
        let now = Utc::now();
        let mut invocation = ENQUEUE.prepare_invoke();
        for key in self.enqueue_keys() {
            invocation.key(key);
        }
        invocation.arg(1);
        push_job_args(&mut invocation, &job, now);
        let result = invocation
            .invoke_async::<Vec<EnqueueReply>>(&mut self.connection.clone())
            .await;
        match result.map(|mut replies| replies.pop()) {
            Ok(Some(reply)) => stored_or_duplicate(job, reply, now),
            Ok(None) => Err(enqueue_failed(job, missing_reply())),
            Err(source) => Err(enqueue_failed(job, source)),
        }
    }

    /// Validates the jobs in order and enqueues those before the first invalid
    /// one, which is then returned in the error.
    pub(super) async fn enqueue_batch(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, EnqueueError> {
        let mut jobs = jobs.into_iter();
        let mut valid = Vec::new();
        let mut invalid = None;
        for job in jobs.by_ref() {
            match job.validate() {
                Ok(()) => valid.push(job),
                Err(source) => {
                    invalid = Some(EnqueueError::Invalid {
                        source,
                        job: Box::new(job),
                    });
                    break;
                }
            }
        }

        let mut stored = Vec::with_capacity(valid.len());
        let mut valid = valid.into_iter().peekable();
        while valid.peek().is_some() {
            let calls = next_round_trip(&mut valid);
            self.enqueue_pipelined(calls, &mut stored).await?;
        }
        match invalid {
            Some(error) => Err(error),
            None => Ok(stored),
        }
    }

    /// Sends one script call per element of `calls` in one pipeline, and
    /// appends the stored records to `stored`.
    ///
    /// On a server error for a call, returns the first job of that call in
    /// the error; on a duplicate unique key, the duplicate job. Each call is
    /// separate, so a job of a later call may still have been stored.
    async fn enqueue_pipelined(&self, calls: Vec<Vec<NewJob>>, stored: &mut Vec<Job>) -> Result<(), EnqueueError> {
        let now = Utc::now();
        let mut replies = match self.send_enqueue_pipeline(&calls, now).await {
            Ok(replies) => replies,
            Err(source) => return Err(enqueue_failed(first_job(calls), source)),
        };

        // A server that lost its script cache (a restart, SCRIPT FLUSH) rejects
        // every call with NOSCRIPT without running it. So load the script and
        // send the batch once more.
        if replies.iter().any(is_noscript) {
            let resent = self.load_enqueue_script().await;
            let resent = match resent {
                Ok(()) => self.send_enqueue_pipeline(&calls, now).await,
                Err(error) => Err(error),
            };
            match resent {
                Ok(again) => replies = again,
                Err(source) => return Err(enqueue_failed(first_job(calls), source)),
            }
        }

        for (call, reply) in calls.into_iter().zip(replies) {
            let per_job = match reply {
                Value::ServerError(error) => Err(RedisError::from(error)),
                reply => redis::from_redis_value::<Vec<EnqueueReply>>(reply).map_err(RedisError::from),
            };
            let per_job = match per_job {
                Ok(per_job) => per_job,
                Err(error) => return Err(enqueue_failed(first_job(vec![call]), error)),
            };
            let mut per_job = per_job.into_iter();
            for job in call {
                match per_job.next() {
                    Some(reply) => stored.push(stored_or_duplicate(job, reply, now)?),
                    None => return Err(enqueue_failed(job, missing_reply())),
                }
            }
        }
        Ok(())
    }

    async fn send_enqueue_pipeline(
        &self,
        calls: &[Vec<NewJob>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, redis::RedisError> {
        let keys = self.enqueue_keys();
        let mut pipeline = redis::pipe();
        for call in calls {
            let mut command = redis::cmd("EVALSHA");
            command
                .arg(ENQUEUE.get_hash())
                .arg(keys.len())
                .arg(&keys)
                .arg(call.len());
            for job in call {
                push_job_args(&mut command, job, now);
            }
            pipeline.add_command(command);
        }
        // Per-call replies, errors included, so each call gets its own outcome.
        pipeline.ignore_errors();
        pipeline.query_async(&mut self.connection.clone()).await
    }

    async fn load_enqueue_script(&self) -> Result<(), redis::RedisError> {
        redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(ENQUEUE_SOURCE)
            .query_async::<String>(&mut self.connection.clone())
            .await
            .map(drop)
    }

    fn enqueue_keys(&self) -> [&str; 6] {
        [
            &self.keys.seq,
            &self.keys.job_prefix,
            &self.keys.ready,
            &self.keys.delayed,
            &self.keys.unique_prefix,
            &self.keys.wake,
        ]
    }
}

/// Takes the jobs of one round trip from `jobs`: script calls of up to
/// [`BATCH_LIMIT`] jobs, and up to [`PIPELINE_LIMIT`] jobs in all.
///
/// The round trip ends after a call that holds a job with a unique key. That
/// call stops at a duplicate key, so when there is one, no job after it has
/// been sent.
fn next_round_trip(jobs: &mut std::iter::Peekable<std::vec::IntoIter<NewJob>>) -> Vec<Vec<NewJob>> {
    let mut calls = Vec::new();
    let mut total = 0;
    while total < PIPELINE_LIMIT && jobs.peek().is_some() {
        let mut call = Vec::new();
        let mut unique = false;
        while call.len() < BATCH_LIMIT && total < PIPELINE_LIMIT {
            let Some(job) = jobs.next() else {
                break;
            };
            unique |= job.unique_key.is_some();
            call.push(job);
            total += 1;
        }
        calls.push(call);
        if unique {
            break;
        }
    }
    calls
}

/// Appends one job's arguments of the enqueue script: the delay in
/// milliseconds, the unique key or an empty string, the number of hash
/// arguments, then the hash fields and values.
fn push_job_args(command: &mut impl ArgSink, job: &NewJob, now: DateTime<Utc>) {
    let available_at = now + chrono::Duration::from_std(job.delay).unwrap_or(chrono::Duration::MAX);
    let fields = codec::encode_new(job, available_at);
    command.push_arg(millis(job.delay));
    command.push_arg(job.unique_key.as_deref().unwrap_or_default());
    command.push_arg(2 * fields.len());
    for (name, value) in &fields {
        command.push_arg(*name);
        command.push_arg(value.as_str());
    }
}

fn first_job(calls: Vec<Vec<NewJob>>) -> NewJob {
    calls.into_iter().flatten().next().expect("a round trip has jobs")
}

fn stored_or_duplicate(job: NewJob, (created, id): EnqueueReply, now: DateTime<Utc>) -> Result<Job, EnqueueError> {
    if created == 1 {
        Ok(job.into_job(id, now))
    } else {
        Err(EnqueueError::Duplicate {
            existing_id: id,
            job: Box::new(job),
        })
    }
}

fn missing_reply() -> RedisError {
    RedisError::from((
        ErrorKind::UnexpectedReturnType,
        "the enqueue script returned fewer replies than it was sent jobs",
    ))
}

fn is_noscript(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(error) if error.kind() == Some(ServerErrorKind::NoScript))
}

fn enqueue_failed(job: NewJob, source: redis::RedisError) -> EnqueueError {
    EnqueueError::Queue {
        job: Box::new(job),
        source: redis_error("enqueue")(source),
    }
}
