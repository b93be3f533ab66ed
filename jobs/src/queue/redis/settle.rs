//! Operations on a held lease: fail, release and renewal (ack is in
//! `ack_batch.rs`). Each script first checks that the job's `lease` field still contains the lease's token
//! and that the job is still in `{p}:processing_vt`.
//!
//! NOTE: a svc-infra worker that requeues a job after its lease expired
//! leaves the `lease` field in place. If that worker then reserves the job,
//! a late ack or fail under the old lease still matches and takes effect.

use chrono::Utc;

use super::codec::{self, millis};
use super::scripts::{EXTEND_LEASE, FAIL, RELEASE};
use super::{BATCH_LIMIT, RedisJobQueue, redis_error};
use crate::backoff::MAX_DELAY;
use crate::error::QueueError;
use crate::queue::{FailOutcome, Failure, Lease, LeaseOutcome, log_dropped_dead};

/// The fail script's replies.
const LEASE_LOST: u8 = 0;
const RETRYING: u8 = 1;

impl RedisJobQueue {
    pub(super) async fn fail_lease(&self, lease: &Lease, failure: Failure) -> Result<FailOutcome, QueueError> {
        let (mode, delay) = match &failure {
            Failure::Retry { delay, .. } => ("retry", (*delay).min(MAX_DELAY)),
            Failure::Permanent { .. } => ("permanent", std::time::Duration::ZERO),
        };
        let now = Utc::now();
        let retry_at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        let (reply, dropped): (u8, u64) = FAIL
            .key(&self.keys.processing)
            .key(&self.keys.processing_vt)
            .key(&self.keys.delayed)
            .key(&self.keys.dlq)
            .key(self.keys.job(lease.job_id()))
            .key(&self.keys.unique_prefix)
            .key(&self.keys.job_prefix)
            .key(&self.keys.wake)
            .arg(lease.job_id())
            .arg(lease.token())
            .arg(failure.error())
            .arg(mode)
            .arg(millis(delay))
            .arg(codec::format_time(retry_at))
            .arg(codec::format_time(now))
            .arg(self.dead_letter_limit)
            .arg(BATCH_LIMIT)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("fail"))?;
        log_dropped_dead(dropped, self.dead_letter_limit);
        Ok(match reply {
            LEASE_LOST => FailOutcome::LeaseLost,
            RETRYING => FailOutcome::Retrying { at: retry_at },
            _ => FailOutcome::DeadLettered,
        })
    }

    pub(super) async fn release_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let done: u8 = RELEASE
            .key(&self.keys.processing)
            .key(&self.keys.processing_vt)
            .key(&self.keys.ready)
            .key(self.keys.job(lease.job_id()))
            .key(&self.keys.unique_prefix)
            .key(&self.keys.wake)
            .arg(lease.job_id())
            .arg(lease.token())
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("release"))?;
        Ok(outcome(done))
    }

    pub(super) async fn extend(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let done: u8 = EXTEND_LEASE
            .key(&self.keys.processing_vt)
            .key(self.keys.job(lease.job_id()))
            .key(&self.keys.unique_prefix)
            .arg(lease.job_id())
            .arg(lease.token())
            .arg(millis(lease.visibility_timeout().min(MAX_DELAY)))
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(redis_error("extend_lease"))?;
        Ok(outcome(done))
    }
}

fn outcome(done: u8) -> LeaseOutcome {
    if done == 1 {
        LeaseOutcome::Done
    } else {
        LeaseOutcome::Lost
    }
}
