//! The interval scheduler. (Being built.)

use crate::queue::DynQueue;

/// Enqueues jobs or runs tasks at fixed intervals.
pub struct Scheduler {
    #[allow(dead_code)]
    queue: DynQueue,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler with no tasks that enqueues into `queue`.
    pub fn new(queue: DynQueue) -> Self {
        Self { queue }
    }
}
