//! The in-memory queue, for development and tests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{DeadJob, FailOutcome, Failure, JobQueue, Lease, LeaseOutcome, QueueStats, Reserved};
use crate::error::{EnqueueError, QueueError};
use crate::job::{Job, NewJob};

/// The default lease length, 60 s, as in svc-infra.
pub const DEFAULT_VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

/// A queue held in the process's memory, with the same behaviour as the Redis
/// queue: delayed jobs, leases with a visibility timeout, retries and a
/// dead-letter queue. Jobs are lost when the process exits.
///
/// It is safe to share between tasks (wrap it in an `Arc`). Due times follow
/// tokio's clock, so tests that pause time control delays and leases.
#[derive(Debug)]
pub struct InMemoryJobQueue {
    state: Mutex<State>,
    arrivals: Notify,
    visibility_timeout: Duration,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    next_token: u64,
    jobs: HashMap<u64, Entry>,
    ready: VecDeque<u64>,
    delayed: BTreeMap<(Instant, u64), ()>,
    processing: BTreeMap<(Instant, u64), ()>,
    dead: VecDeque<u64>,
}

#[derive(Debug)]
struct Entry {
    job: Job,
    place: Place,
}

#[derive(Debug, Clone, Copy)]
enum Place {
    Ready,
    Delayed,
    Processing { token: u64, deadline: Instant },
    Dead { died_at: DateTime<Utc> },
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
        }
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

impl State {
    fn insert(&mut self, new: NewJob, now: Instant) -> Job {
        self.next_id += 1;
        let id = self.next_id;
        let delay = new.delay;
        let job = new.into_job(id.to_string(), Utc::now());
        let place = if delay.is_zero() {
            self.ready.push_back(id);
            Place::Ready
        } else {
            let due = now + delay;
            self.delayed.insert((due, id), ());
            Place::Delayed
        };
        self.jobs.insert(
            id,
            Entry {
                job: job.clone(),
                place,
            },
        );
        job
    }

    /// Moves due delayed jobs to ready, and jobs whose lease expired to ready
    /// or, when their attempts are used up, to the dead-letter queue.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            let (due, id) = *entry.key();
            if due > now {
                break;
            }
            entry.remove();
            self.ready.push_back(id);
            self.jobs.get_mut(&id).expect("delayed job has an entry").place = Place::Ready;
        }
        while let Some(entry) = self.processing.first_entry() {
            let (deadline, id) = *entry.key();
            if deadline > now {
                break;
            }
            entry.remove();
            let job = &mut self.jobs.get_mut(&id).expect("processing job has an entry").job;
            if job.is_last_attempt() {
                job.last_error = Some(lease_expired_error(job));
                self.kill(id);
            } else {
                self.ready.push_back(id);
                self.jobs.get_mut(&id).expect("processing job has an entry").place = Place::Ready;
            }
        }
    }

    fn kill(&mut self, id: u64) {
        self.dead.push_front(id);
        self.jobs.get_mut(&id).expect("job has an entry").place = Place::Dead { died_at: Utc::now() };
    }

    /// Pops the next ready job, counts the attempt and leases it until `deadline_of(job)`.
    fn reserve(&mut self, deadline_of: impl Fn(&Job) -> Instant) -> Option<(Job, u64)> {
        let id = self.ready.pop_front()?;
        self.next_token += 1;
        let token = self.next_token;
        let entry = self.jobs.get_mut(&id).expect("ready job has an entry");
        entry.job.attempts = entry.job.attempts.saturating_add(1);
        let deadline = deadline_of(&entry.job);
        entry.place = Place::Processing { token, deadline };
        let job = entry.job.clone();
        self.processing.insert((deadline, id), ());
        Some((job, token))
    }

    /// Checks that `lease` is the current reservation of its job, and returns
    /// the job's id and lease deadline.
    fn held(&self, lease: &Lease) -> Option<(u64, Instant)> {
        let id: u64 = lease.job_id().parse().ok()?;
        let token: u64 = lease.token().parse().ok()?;
        match self.jobs.get(&id)?.place {
            Place::Processing { token: held, deadline } if held == token => Some((id, deadline)),
            _ => None,
        }
    }

    fn requeue_dead(&mut self, id: u64) {
        let entry = self.jobs.get_mut(&id).expect("dead job has an entry");
        entry.job.attempts = 0;
        entry.place = Place::Ready;
        self.ready.push_back(id);
    }
}

fn lease_expired_error(job: &Job) -> String {
    format!(
        "lease expired on attempt {} of {}: the worker neither acked nor failed the job within its visibility timeout",
        job.attempts, job.max_attempts
    )
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
        let stored = self.lock().insert(job, Instant::now());
        self.arrivals.notify_waiters();
        Ok(stored)
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
                stored.push(state.insert(job, now));
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
        state.promote(now);
        let mut reserved = Vec::new();
        let deadline_of = |job: &Job| now + job.visibility_timeout.unwrap_or(self.visibility_timeout);
        while reserved.len() < max {
            let Some((job, token)) = state.reserve(deadline_of) else {
                break;
            };
            let lease = self.lease_of(&job, token);
            reserved.push(Reserved::new(job, lease));
        }
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
        state.jobs.remove(&id);
        Ok(LeaseOutcome::Done)
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
            state.kill(id);
            return Ok(FailOutcome::DeadLettered);
        };
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX);
        job.available_at = at;
        let due = now + delay;
        state.delayed.insert((due, id), ());
        state.jobs.get_mut(&id).expect("held job has an entry").place = Place::Delayed;
        drop(state);
        self.arrivals.notify_waiters();
        Ok(FailOutcome::Retrying { at })
    }

    async fn release(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let mut state = self.lock();
        let Some((id, deadline)) = state.held(lease) else {
            return Ok(LeaseOutcome::Lost);
        };
        state.processing.remove(&(deadline, id));
        let entry = state.jobs.get_mut(&id).expect("held job has an entry");
        entry.job.attempts = entry.job.attempts.saturating_sub(1);
        entry.place = Place::Ready;
        state.ready.push_front(id);
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
        let renewed = Instant::now() + lease.visibility_timeout();
        state.processing.remove(&(deadline, id));
        state.processing.insert((renewed, id), ());
        state.jobs.get_mut(&id).expect("held job has an entry").place = Place::Processing {
            token,
            deadline: renewed,
        };
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

    async fn requeue_dead(&self, id: &str) -> Result<bool, QueueError> {
        let Ok(id) = id.parse::<u64>() else {
            return Ok(false);
        };
        let mut state = self.lock();
        let Some(position) = state.dead.iter().position(|&dead| dead == id) else {
            return Ok(false);
        };
        state.dead.remove(position);
        state.requeue_dead(id);
        drop(state);
        self.arrivals.notify_waiters();
        Ok(true)
    }

    async fn requeue_all_dead(&self) -> Result<u64, QueueError> {
        let mut state = self.lock();
        let dead: Vec<u64> = state.dead.drain(..).rev().collect();
        for &id in &dead {
            state.requeue_dead(id);
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

    fn visibility_timeout(&self) -> Duration {
        self.visibility_timeout
    }
}
