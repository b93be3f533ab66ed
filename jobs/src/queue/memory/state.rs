//! The in-memory queue's state and the moves of a job between its states.

use std::collections::{BTreeMap, HashMap, VecDeque};

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::unique::UniqueLocks;
use crate::job::{Job, NewJob};
use crate::queue::{DEFAULT_DEAD_LETTER_LIMIT, Lease};

#[derive(Debug)]
pub(super) struct State {
    next_id: u64,
    next_token: u64,
    pub(super) jobs: HashMap<u64, Entry>,
    pub(super) ready: VecDeque<u64>,
    pub(super) delayed: BTreeMap<(Instant, u64), ()>,
    pub(super) processing: BTreeMap<(Instant, u64), ()>,
    pub(super) dead: VecDeque<u64>,
    unique: UniqueLocks,
    pub(super) dead_letter_limit: usize,
}

#[derive(Debug)]
pub(super) struct Entry {
    pub(super) job: Job,
    pub(super) place: Place,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Place {
    Ready,
    Delayed,
    Processing { token: u64, deadline: Instant },
    Dead { died_at: DateTime<Utc> },
}

impl Default for State {
    fn default() -> Self {
        Self {
            next_id: 0,
            next_token: 0,
            jobs: HashMap::new(),
            ready: VecDeque::new(),
            delayed: BTreeMap::new(),
            processing: BTreeMap::new(),
            dead: VecDeque::new(),
            unique: UniqueLocks::default(),
            dead_letter_limit: DEFAULT_DEAD_LETTER_LIMIT,
        }
    }
}

impl State {
    /// Stores a new job, or hands it back with the id of the queued or
    /// running job that holds its unique key.
    pub(super) fn insert(&mut self, new: NewJob, now: Instant) -> Result<Job, (u64, Box<NewJob>)> {
        if let Some(key) = &new.unique_key {
            // A lock whose holder is gone is stale and does not count.
            if let Some(holder) = self.unique.holder(key, now).filter(|id| self.jobs.contains_key(id)) {
                return Err((holder, Box::new(new)));
            }
        }

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
        if let Some(key) = &job.unique_key {
            if let Some(stale) = self.unique.holder(key, now) {
                self.unique.release(key, stale);
            }
            self.unique.hold(key, id, None, now);
        }
        self.jobs.insert(
            id,
            Entry {
                job: job.clone(),
                place,
            },
        );
        Ok(job)
    }

    /// Moves due delayed jobs to ready, and jobs whose lease expired to ready
    /// or, when their attempts are used up, to the dead-letter queue. Returns
    /// how many dead jobs were deleted to keep the dead-letter queue within its limit.
    pub(super) fn promote(&mut self, now: Instant) -> u64 {
        while let Some(entry) = self.delayed.first_entry() {
            let (due, id) = *entry.key();
            if due > now {
                break;
            }
            entry.remove();
            self.ready.push_back(id);
            self.jobs.get_mut(&id).expect("delayed job has an entry").place = Place::Ready;
        }
        let mut dropped = 0;
        while let Some(entry) = self.processing.first_entry() {
            let (deadline, id) = *entry.key();
            if deadline > now {
                break;
            }
            entry.remove();
            let job = &mut self.jobs.get_mut(&id).expect("processing job has an entry").job;
            if job.is_last_attempt() {
                job.last_error = Some(lease_expired_error(job));
                dropped += self.kill(id);
            } else {
                self.ready.push_back(id);
                self.jobs.get_mut(&id).expect("processing job has an entry").place = Place::Ready;
                self.hold_unique(id, None, now);
            }
        }
        dropped
    }

    /// Dead-letters job `id`, releases its unique key and deletes the oldest
    /// dead jobs beyond the limit. Returns how many it deleted.
    pub(super) fn kill(&mut self, id: u64) -> u64 {
        self.dead.push_front(id);
        let entry = self.jobs.get_mut(&id).expect("job has an entry");
        entry.place = Place::Dead { died_at: Utc::now() };
        if let Some(key) = &entry.job.unique_key {
            self.unique.release(key, id);
        }

        let mut dropped = 0;
        while self.dead.len() > self.dead_letter_limit {
            let oldest = self.dead.pop_back().expect("the dead-letter queue is over its limit");
            self.jobs.remove(&oldest);
            dropped += 1;
        }
        dropped
    }

    /// Pops the next ready job, counts the attempt and leases it until `deadline_of(job)`.
    pub(super) fn reserve(&mut self, now: Instant, deadline_of: impl Fn(&Job) -> Instant) -> Option<(Job, u64)> {
        let id = self.ready.pop_front()?;
        self.next_token += 1;
        let token = self.next_token;
        let entry = self.jobs.get_mut(&id).expect("ready job has an entry");
        entry.job.attempts = entry.job.attempts.saturating_add(1);
        let deadline = deadline_of(&entry.job);
        entry.place = Place::Processing { token, deadline };
        let job = entry.job.clone();
        self.processing.insert((deadline, id), ());
        self.hold_unique(id, Some(deadline), now);
        Some((job, token))
    }

    /// Checks that `lease` is the current reservation of its job, and returns
    /// the job's id and lease deadline.
    pub(super) fn held(&self, lease: &Lease) -> Option<(u64, Instant)> {
        let id: u64 = lease.job_id().parse().ok()?;
        let token: u64 = lease.token().parse().ok()?;
        match self.jobs.get(&id)?.place {
            Place::Processing { token: held, deadline } if held == token => Some((id, deadline)),
            _ => None,
        }
    }

    /// Deletes an acked job and its unique key.
    pub(super) fn remove(&mut self, id: u64) {
        let entry = self.jobs.remove(&id).expect("acked job has an entry");
        if let Some(key) = &entry.job.unique_key {
            self.unique.release(key, id);
        }
    }

    pub(super) fn requeue_dead(&mut self, id: u64, now: Instant) {
        let entry = self.jobs.get_mut(&id).expect("dead job has an entry");
        entry.job.attempts = 0;
        entry.place = Place::Ready;
        self.ready.push_back(id);
        self.hold_unique(id, None, now);
    }

    /// Makes job `id` hold its unique key, if it has one, until `expires`
    /// (its lease deadline) or, for `None`, while it is queued. A key that
    /// another job took meanwhile stays with that job.
    pub(super) fn hold_unique(&mut self, id: u64, expires: Option<Instant>, now: Instant) {
        let Some(key) = self.jobs.get(&id).and_then(|entry| entry.job.unique_key.as_deref()) else {
            return;
        };
        self.unique.hold(key, id, expires, now);
    }

    /// Returns the number of unique-key locks kept.
    #[cfg(test)]
    pub(super) fn unique_locks(&self) -> usize {
        self.unique.len()
    }
}

fn lease_expired_error(job: &Job) -> String {
    format!(
        "lease expired on attempt {} of {}: the worker neither acked nor failed the job within its visibility timeout",
        job.attempts, job.max_attempts
    )
}
