//! Unique-key locks of the in-memory queue, with the rules of the Redis queue's
//! `{p}:unique:{key}` strings: a lock names the job that holds it, lasts until
//! the holder's lease deadline while the job runs and has no expiry while it
//! is queued, and only its holder changes or deletes it.

use std::collections::HashMap;

use tokio::time::Instant;

/// The held unique keys, by key.
#[derive(Debug, Default)]
pub(super) struct UniqueLocks {
    locks: HashMap<String, Lock>,
}

#[derive(Debug, Clone, Copy)]
struct Lock {
    holder: u64,
    /// The holder's lease deadline while it runs; `None` while it is queued.
    expires: Option<Instant>,
}

impl UniqueLocks {
    /// Returns the job that holds `key` at `now`, and forgets an expired lock.
    pub(super) fn holder(&mut self, key: &str, now: Instant) -> Option<u64> {
        let lock = *self.locks.get(key)?;
        if lock.expires.is_some_and(|at| at <= now) {
            self.locks.remove(key);
            return None;
        }
        Some(lock.holder)
    }

    /// Makes job `id` hold `key` until `expires`, or with no expiry for
    /// `None`, unless another job holds the key at `now`.
    pub(super) fn hold(&mut self, key: &str, id: u64, expires: Option<Instant>, now: Instant) {
        match self.holder(key, now) {
            Some(holder) if holder != id => {}
            _ => {
                self.locks.insert(key.to_owned(), Lock { holder: id, expires });
            }
        }
    }

    /// Deletes the lock on `key` if job `id` holds it.
    pub(super) fn release(&mut self, key: &str, id: u64) {
        if self.locks.get(key).is_some_and(|lock| lock.holder == id) {
            self.locks.remove(key);
        }
    }

    /// Returns the number of locks kept, expired ones included.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.locks.len()
    }
}
