//! The Lua scripts, one per file under `scripts/`, each wrapped once in a
//! [`redis::Script`], which sends `EVALSHA` and loads the script on `NOSCRIPT`.
//!
//! Every key a script touches is passed in `KEYS`. Where the job id is only
//! known inside the script, the job hash prefix `{p}:job:` is passed and the
//! id appended, so with a hash-tagged prefix such as `{jobs}` every key of a
//! queue lives in one Redis Cluster slot. Each file's header lists its KEYS
//! and ARGV.

use std::sync::LazyLock;

use redis::Script;

/// The enqueue script's source, also sent with `SCRIPT LOAD` by batched enqueues.
pub(super) const ENQUEUE_SOURCE: &str = include_str!("scripts/enqueue.lua");

pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(ENQUEUE_SOURCE));
pub(super) static RESERVE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/reserve.lua")));
pub(super) static ACK: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/ack.lua")));
pub(super) static FAIL: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/fail.lua")));
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/release.lua")));
pub(super) static EXTEND_LEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/extend_lease.lua")));
pub(super) static REQUEUE_DEAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/requeue_dead.lua")));
pub(super) static REQUEUE_ALL_DEAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("scripts/requeue_all_dead.lua")));
pub(super) static PURGE_DEAD: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("scripts/purge_dead.lua")));
