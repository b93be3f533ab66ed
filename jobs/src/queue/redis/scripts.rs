//! The Lua scripts, one per file under `scripts/`, each wrapped once in a
//! [`redis::Script`], which sends `EVALSHA` and loads the script on `NOSCRIPT`.
//!
//! Every key a script touches is passed in `KEYS`. Where the job id is only
//! known inside the script, the job hash prefix `{p}:job:` is passed and the
//! id appended, and likewise `{p}:unique:` for unique-key locks, so with a
//! hash-tagged prefix such as `{jobs}` every key of a queue lives in one Redis
//! Cluster slot. Each file's header lists its KEYS and ARGV.
//!
//! The helpers in `scripts/lib/` are prepended to the scripts that use them,
//! so each script still runs as one atomic call.

use std::sync::LazyLock;

use redis::Script;

/// The enqueue script's source, also sent with `SCRIPT LOAD` by batched enqueues.
pub(super) const ENQUEUE_SOURCE: &str = include_str!("scripts/enqueue.lua");

/// Builds a script from the unique-key helpers followed by `$file`.
macro_rules! with_unique_lock {
    ($file:literal) => {
        concat!(include_str!("scripts/lib/unique_lock.lua"), include_str!($file))
    };
}

/// Builds a script from the unique-key and dead-letter trimming helpers followed by `$file`.
macro_rules! with_unique_lock_and_trim {
    ($file:literal) => {
        concat!(
            include_str!("scripts/lib/unique_lock.lua"),
            include_str!("scripts/lib/trim_dead.lua"),
            include_str!($file)
        )
    };
}

pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(ENQUEUE_SOURCE));
pub(super) static RESERVE: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_unique_lock_and_trim!("scripts/reserve.lua")));
pub(super) static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(with_unique_lock!("scripts/ack.lua")));
pub(super) static FAIL: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_unique_lock_and_trim!("scripts/fail.lua")));
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(with_unique_lock!("scripts/release.lua")));
pub(super) static EXTEND_LEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_unique_lock!("scripts/extend_lease.lua")));
pub(super) static REQUEUE_DEAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_unique_lock!("scripts/requeue_dead.lua")));
pub(super) static REQUEUE_ALL_DEAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(with_unique_lock!("scripts/requeue_all_dead.lua")));
pub(super) static PURGE_DEAD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/purge_dead.lua")));
