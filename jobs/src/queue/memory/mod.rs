//! The in-memory queue, for development and tests.

mod claim;
mod state;
mod unique;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::Notify;
use tokio::time::Instant;

use self::claim::Claims;
use self::state::{Place, State};
use super::{DeadJob, FailOutcome, Failure, JobQueue, Lease, LeaseOutcome, QueueStats, Reserved, log_dropped_dead};
use crate::error::{EnqueueError, QueueError};
use crate::job::{Job, NewJob};

/// The default lease length, 60 s, as in svc-infra.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

/// A queue held in the process's memory, with the same behaviour as the Redis
/// queue: delayed jobs, leases with a visibility timeout, retries, unique keys
/// and a dead-letter queue with a size limit. Jobs are lost when the process exits.
///
/// It is safe to share between tasks (wrap it in an `Arc`). Due times follow
/// tokio's clock, so tests that pause time control delays and leases.
#[derive(Debug)]
pub struct InMemoryJobQueue {
    state: Mutex<State>,
    arrivals: Notify,
    visibility_timeout: Duration,
    claims: Mutex<Claims>,
}

impl InMemoryJobQueue {
    /// An empty queue with the default 60 s visibility timeout.
    pub fn new() -> Self {
        Self::with_visibility_timeout(DEFAULT_VISIBILITY_TIMEOUT)
    }

    /// An empty queue whose leases last `visibility_timeout` unless a job sets its own.
    ///
    /// # Panics
    ///
    /// If `visibility_timeout` is zero.
    pub fn with_visibility_timeout(visibility_timeout: Duration) -> Self {
        assert!(!visibility_timeout.is_zero(), "the visibility timeout must be positive");
        Self {
            state: Mutex::new(State::default()),
            arrivals: Notify::new(),
            visibility_timeout,
            claims: Mutex::default(),
        }
    }

    /// Sets the maximum number of dead jobs kept (default
    /// [`DEFAULT_DEAD_LETTER_LIMIT`](super::DEFAULT_DEAD_LETTER_LIMIT)).
    /// Dead-lettering a job beyond it deletes the oldest dead jobs and logs
    /// how many. Pass `usize::MAX` to keep every dead job.
    ///
    /// # Panics
    ///
    /// If `limit` is zero.
    pub fn dead_letter_limit(mut self, limit: usize) -> Self {
        assert!(limit > 0, "the dead-letter limit must be positive");
        self.state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .dead_letter_limit = limit;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held cannot leave a job in two places,
        // because every method moves a job with plain inserts and removes
        // after all fallible work, so the state is still consistent.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lease_of(&self, job: &Job, token: u64) -> Lease {
        let timeout = job.visibility_timeout.unwrap_or(self.visibility_timeout);
        Lease::new(job.id.clone(), token.to_string(), timeout)
    }
}

impl Default for InMemoryJobQueue {
    fn default() -> Self {
        Self::new()
    }
}

fn duplicate(holder: u64, job: Box<NewJob>) -> EnqueueError {
    EnqueueError::Duplicate {
        existing_id: holder.to_string(),
        job,
    }
}

#[async_trait]
impl JobQueue for InMemoryJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<Job, EnqueueError> {
        if let Err(source) = job.validate() {
            return Err(EnqueueError::Invalid {
                source,
                job: Box::new(job),
            });
        }
        let inserted = self.lock().insert(job, Instant::now());
        match inserted {
            Ok(stored) => {
                self.arrivals.notify_waiters();
                Ok(stored)
            }
            Err((holder, job)) => Err(duplicate(holder, job)),
        }
    }

    async fn enqueue_many(&self, jobs: Vec<NewJob>) -> Result<Vec<Job>, EnqueueError> {
        let mut stored = Vec::with_capacity(jobs.len());
        {
            let mut state = self.lock();
            let now = Instant::now();
            for job in jobs {
                if let Err(source) = job.validate() {
                    drop(state);
                    self.arrivals.notify_waiters();
                    return Err(EnqueueError::Invalid {
                        source,
                        job: Box::new(job),
                    });
                }
                match state.insert(job, now) {
                    Ok(job) => stored.push(job),
                    Err((holder, job)) => {
                        drop(state);
                        self.arrivals.notify_waiters();
                        return Err(duplicate(holder, job));
                    }
                }
            }
        }
        self.arrivals.notify_waiters();
        Ok(stored)
    }

    async fn reserve(&self) -> Result<Option<Reserved>, QueueError> {
        Ok(self.reserve_many(1).await?.pop())
    }

    async fn reserve_many(&self, max: usize) -> Result<Vec<Reserved>, QueueError> {
        let now = Instant::now();
        let mut state = self.lock();
        let dropped = state.promote(now);
        let mut reserved = Vec::new();
        let deadline_of = |job: &Job| now + job.visibility_timeout.unwrap_or(self.visibility_timeout);
        while reserved.len() < max {
            let Some((job, token)) = state.reserve(now, deadline_of) else {
                break;
            };
            let lease = self.lease_of(&job, token);
            reserved.push(Reserved::new(job, lease));
        }
        let limit = state.dead_letter_limit;
        drop(state);
        log_dropped_dead(dropped, limit);
        Ok(reserved)
    }

    async fn wait_for_job(&self, max_wait: Duration) -> Result<(), QueueError> {
        let arrived = self.arrivals.notified();
        let wake_at = {
            let state = self.lock();
            if !state.ready.is_empty() {
                return Ok(());
            }
            let next_due = state.delayed.keys().next().map(|(due, _)| *due);
            let next_expiry = state.processing.keys().next().map(|(deadline, _)| *deadline);
            let limit = Instant::now() + max_wait;
            [next_due, next_expiry].into_iter().flatten().fold(limit, Instant::min)
        };
        let _ = tokio::time::timeout_at(wake_at, arrived).await;
        Ok(())
    }

    async fn ack(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let mut state = self.lock();
        let Some((id, deadline)) = state.held(lease) else {
            return Ok(LeaseOutcome::Lost);
        };
        state.processing.remove(&(deadline, id));
        state.remove(id);
        Ok(LeaseOutcome::Done)
    }

    async fn ack_many(&self, leases: &[Lease]) -> Result<Vec<LeaseOutcome>, QueueError> {
        let mut state = self.lock();
        let outcomes = leases
            .iter()
            .map(|lease| match state.held(lease) {
                Some((id, deadline)) => {
                    state.processing.remove(&(deadline, id));
                    state.remove(id);
                    LeaseOutcome::Done
                }
                None => LeaseOutcome::Lost,
            })
            .collect();
        Ok(outcomes)
    }

    async fn fail(&self, lease: &Lease, failure: Failure) -> Result<FailOutcome, QueueError> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some((id, deadline)) = state.held(lease) else {
            return Ok(FailOutcome::LeaseLost);
        };
        state.processing.remove(&(deadline, id));
        let job = &mut state.jobs.get_mut(&id).expect("held job has an entry").job;
        job.last_error = Some(failure.error().to_owned());
        let retry_delay = match failure {
            Failure::Retry { delay, .. } if !job.is_last_attempt() => Some(delay.min(crate::backoff::MAX_DELAY)),
            _ => None,
        };
        let Some(delay) = retry_delay else {
            let dropped = state.kill(id);
            let limit = state.dead_letter_limit;
            drop(state);
            log_dropped_dead(dropped, limit);
            return Ok(FailOutcome::DeadLettered);
        };
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        job.available_at = at;
        let due = now + delay;
        state.delayed.insert((due, id), ());
        state.jobs.get_mut(&id).expect("held job has an entry").place = Place::Delayed;
        state.hold_unique(id, None, now);
        drop(state);
        self.arrivals.notify_waiters();
        Ok(FailOutcome::Retrying { at })
    }

    async fn release(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some((id, deadline)) = state.held(lease) else {
            return Ok(LeaseOutcome::Lost);
        };
        state.processing.remove(&(deadline, id));
        let entry = state.jobs.get_mut(&id).expect("held job has an entry");
        entry.job.attempts = entry.job.attempts.saturating_sub(1);
        entry.place = Place::Ready;
        state.ready.push_front(id);
        state.hold_unique(id, None, now);
        drop(state);
        self.arrivals.notify_waiters();
        Ok(LeaseOutcome::Done)
    }

    async fn extend_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let mut state = self.lock();
        let Some((id, deadline)) = state.held(lease) else {
            return Ok(LeaseOutcome::Lost);
        };
        let token: u64 = lease.token().parse().expect("held lease has a numeric token");
        let now = Instant::now();
        let renewed = now + lease.visibility_timeout();
        state.processing.remove(&(deadline, id));
        state.processing.insert((renewed, id), ());
        state.jobs.get_mut(&id).expect("held job has an entry").place = Place::Processing {
            token,
            deadline: renewed,
        };
        state.hold_unique(id, Some(renewed), now);
        Ok(LeaseOutcome::Done)
    }

    async fn job(&self, id: &str) -> Result<Option<Job>, QueueError> {
        let Ok(id) = id.parse::<u64>() else {
            return Ok(None);
        };
        Ok(self.lock().jobs.get(&id).map(|entry| entry.job.clone()))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        let state = self.lock();
        Ok(QueueStats {
            ready: state.ready.len() as u64,
            delayed: state.delayed.len() as u64,
            processing: state.processing.len() as u64,
            dead: state.dead.len() as u64,
        })
    }

    async fn dead_jobs(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        let state = self.lock();
        let dead = state.dead.iter().skip(offset).take(limit).map(|id| {
            let entry = &state.jobs[id];
            let died_at = match entry.place {
                Place::Dead { died_at } => Some(died_at),
                _ => None,
            };
            DeadJob {
                job: entry.job.clone(),
                died_at,
            }
        });
        Ok(dead.collect())
    }

    async fn dead_job(&self, id: &str) -> Result<Option<DeadJob>, QueueError> {
        let Ok(id) = id.parse::<u64>() else {
            return Ok(None);
        };
        let state = self.lock();
        let dead = state.jobs.get(&id).and_then(|entry| match entry.place {
            Place::Dead { died_at } => Some(DeadJob {
                job: entry.job.clone(),
                died_at: Some(died_at),
            }),
            _ => None,
        });
        Ok(dead)
    }

    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        let Ok(id) = id.parse::<u64>() else {
            return Ok(false);
        };
        let mut state = self.lock();
        let Some(position) = state.dead.iter().position(|&dead| dead == id) else {
            return Ok(false);
        };
        state.dead.remove(position);
        state.requeue_dead(id, Instant::now());
        drop(state);
        self.arrivals.notify_waiters();
        Ok(true)
    }

    async fn requeue_all_dead(&self) -> Result<u64, QueueError> {
        let now = Instant::now();
        let mut state = self.lock();
        let dead: Vec<u64> = state.dead.drain(..).rev().collect();
        for &id in &dead {
            state.requeue_dead(id, now);
        }
        drop(state);
        self.arrivals.notify_waiters();
        Ok(dead.len() as u64)
    }

    async fn purge_dead(&self) -> Result<u64, QueueError> {
        let mut state = self.lock();
        let dead: Vec<u64> = state.dead.drain(..).collect();
        for id in &dead {
            state.jobs.remove(id);
        }
        Ok(dead.len() as u64)
    }

    /// Keeps claims in a map of its own, pruned of expired claims as it grows.
    async fn claim_once(&self, key: &str, ttl: Duration) -> Result<bool, QueueError> {
        let mut claims = self.claims.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(claims.claim(key, ttl, Instant::now()))
    }

    fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;

    fn unique_job(key: &str) -> NewJob {
        NewJob::new("a", Payload::default()).unique_key(key).max_attempts(2)
    }

    #[tokio::test(start_paused = true)]
    async fn settled_jobs_leave_no_state() {
        let lease = Duration::from_secs(30);
        let queue = InMemoryJobQueue::with_visibility_timeout(lease).dead_letter_limit(1);
        for key in ["acked", "dead", "newest dead", "expired"] {
            queue.enqueue(unique_job(key)).await.unwrap();
        }
        let reserved = queue.reserve_many(4).await.unwrap();
        let permanent = || Failure::Permanent { error: "bad".into() };

        queue.ack(&reserved[0].lease).await.unwrap();
        queue.fail(&reserved[1].lease, permanent()).await.unwrap();
        queue.fail(&reserved[2].lease, permanent()).await.unwrap();
        tokio::time::advance(lease + Duration::from_secs(1)).await;
        let again = queue.reserve().await.unwrap().expect("the expired job is back");
        queue.ack(&again.lease).await.unwrap();

        let state = queue.lock();
        let kept: Vec<&str> = state
            .jobs
            .values()
            .filter_map(|entry| entry.job.unique_key.as_deref())
            .collect();
        assert_eq!(kept, ["newest dead"], "only the dead job within the limit is kept");
        assert_eq!(state.unique_locks(), 0, "a settled job left its unique key behind");
        assert!(state.ready.is_empty());
        assert!(state.delayed.is_empty());
        assert!(state.processing.is_empty());
    }

    #[tokio::test]
    async fn ack_and_reserve_acks_then_reserves() {
        let queue = InMemoryJobQueue::new();
        for n in 0..3 {
            queue
                .enqueue(NewJob::new("a", Payload::default()).max_attempts(n + 1))
                .await
                .unwrap();
        }
        let first = queue.reserve_many(2).await.unwrap();
        let leases: Vec<Lease> = first.iter().map(|reserved| reserved.lease.clone()).collect();

        let (acked, reserved) = queue.ack_and_reserve(&leases, 2).await;

        assert_eq!(acked.unwrap(), [LeaseOutcome::Done, LeaseOutcome::Done]);
        let reserved = reserved.unwrap();
        assert_eq!(reserved.len(), 1, "only the third job was left to reserve");
        assert_eq!(reserved[0].job.max_attempts, 3);
        let (again, _) = queue.ack_and_reserve(&leases, 0).await;
        assert_eq!(
            again.unwrap(),
            [LeaseOutcome::Lost, LeaseOutcome::Lost],
            "an acked lease is gone"
        );
        assert_eq!(queue.lock().jobs.len(), 1, "the acked jobs are deleted");
    }
}
