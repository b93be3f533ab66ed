//! Enqueueing: one script call per job, pipelined for batches.

use chrono::{DateTime, Utc};
use redis::{ServerErrorKind, Value};

use super::codec::{self, millis};
use super::scripts::{ENQUEUE, ENQUEUE_SOURCE};
use super::{RedisJobQueue, redis_error};
use crate::error::EnqueueError;
use crate::job::{Job, NewJob};

/// The enqueue script's reply: 1 and the new id, or 0 and the id of the job
/// that holds the unique key.
type EnqueueReply = (u8, String);

/// The maximum number of script calls in one `enqueue_many` pipeline, so one
/// round trip stays well within the response timeout.
const PIPELINE_LIMIT: usize = 1000;

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
        for arg in enqueue_args(&job, now) {
            invocation.arg(arg);
        }
        let result = invocation
            .invoke_async::<EnqueueReply>(&mut self.connection.clone())
            .await;
        match result {
            Ok(reply) => stored_or_duplicate(job, reply, now),
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
            // A pipeline ends after a job with a unique key, so when that job
            // is a duplicate, no job after it has been sent.
            let mut chunk = Vec::new();
            while chunk.len() < PIPELINE_LIMIT {
                let Some(job) = valid.next() else {
                    break;
                };
                let unique = job.unique_key.is_some();
                chunk.push(job);
                if unique {
                    break;
                }
            }
            self.enqueue_pipelined(chunk, &mut stored).await?;
        }
        match invalid {
            Some(error) => Err(error),
            None => Ok(stored),
        }
    }

    /// Enqueues `jobs` in one pipeline and appends the stored records to `stored`.
    ///
    /// On a server error or a duplicate unique key for one job, returns it in
    /// the error. Each script call is separate, so a job after the failing one
    /// may still have been stored.
    async fn enqueue_pipelined(&self, jobs: Vec<NewJob>, stored: &mut Vec<Job>) -> Result<(), EnqueueError> {
        let now = Utc::now();
        let mut replies = match self.send_enqueue_pipeline(&jobs, now).await {
            Ok(replies) => replies,
            Err(source) => {
                let first = jobs.into_iter().next().expect("a pipeline has jobs");
                return Err(enqueue_failed(first, source));
            }
        };

        // A server that lost its script cache (a restart, SCRIPT FLUSH) rejects
        // every call with NOSCRIPT without running it. So load the script and
        // send the batch once more.
        if replies.iter().any(is_noscript) {
            let resent = self.load_enqueue_script().await;
            let resent = match resent {
                Ok(()) => self.send_enqueue_pipeline(&jobs, now).await,
                Err(error) => Err(error),
            };
            match resent {
                Ok(again) => replies = again,
                Err(source) => {
                    let first = jobs.into_iter().next().expect("a pipeline has jobs");
                    return Err(enqueue_failed(first, source));
                }
            }
        }

        for (job, reply) in jobs.into_iter().zip(replies) {
            match reply {
                Value::ServerError(error) => return Err(enqueue_failed(job, error.into())),
                reply => match redis::from_redis_value::<EnqueueReply>(reply) {
                    Ok(reply) => stored.push(stored_or_duplicate(job, reply, now)?),
                    Err(error) => return Err(enqueue_failed(job, error.into())),
                },
            }
        }
        Ok(())
    }

    async fn send_enqueue_pipeline(
        &self,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<Value>, redis::RedisError> {
        let keys = self.enqueue_keys();
        let mut pipeline = redis::pipe();
        for job in jobs {
            let args = enqueue_args(job, now);
            pipeline
                .cmd("EVALSHA")
                .arg(ENQUEUE.get_hash())
                .arg(keys.len())
                .arg(&keys)
                .arg(args);
        }
        // Per-call replies, errors included, so each job gets its own outcome.
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

    fn enqueue_keys(&self) -> [&str; 5] {
        [
            &self.keys.seq,
            &self.keys.job_prefix,
            &self.keys.ready,
            &self.keys.delayed,
            &self.keys.unique_prefix,
        ]
    }
}

/// ARGV of the enqueue script: the delay in milliseconds, the unique key or
/// an empty string, then the hash fields.
fn enqueue_args(job: &NewJob, now: DateTime<Utc>) -> Vec<String> {
    let available_at = now + chrono::Duration::from_std(job.delay).unwrap_or(chrono::Duration::MAX);
    let fields = codec::encode_new(job, available_at);
    let mut args = Vec::with_capacity(2 + 2 * fields.len());
    args.push(millis(job.delay).to_string());
    args.push(job.unique_key.clone().unwrap_or_default());
    for (name, value) in fields {
        args.push(name.to_owned());
        args.push(value);
    }
    args
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

fn is_noscript(reply: &Value) -> bool {
    matches!(reply, Value::ServerError(error) if error.kind() == Some(ServerErrorKind::NoScript))
}

fn enqueue_failed(job: NewJob, source: redis::RedisError) -> EnqueueError {
    EnqueueError::Queue {
        job: Box::new(job),
        source: redis_error("enqueue")(source),
    }
}
