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
//!
//! # Flags and memory
//!
//! Every script starts with a `#!lua` line, which Redis 7.0 and later read
//! (older servers reject the scripts). A script with that line runs under the
//! flags it declares and no others:
//!
//! - The scripts that settle, move or delete jobs declare `allow-oom`. When
//!   Redis is at `maxmemory` with the `noeviction` policy, they still run, so
//!   workers can drain the queue and free memory. Without the flag, the
//!   commands that may grow memory (LMOVE, LPUSH, HSET, ZADD) fail with OOM.
//! - The enqueue script declares no flag, so at `maxmemory` Redis rejects it
//!   before it writes anything. Producers get the OOM error as backpressure.
//! - No script declares `allow-cross-slot-keys`, so on Redis Cluster every key
//!   a script touches, the ones it builds from a declared prefix included,
//!   must hash to the slot of its declared keys. A hash-tagged prefix makes
//!   them all hash to the tag's slot; `connect_cluster` requires one.

use std::sync::LazyLock;

use redis::Script;

/// Builds a script source that may run when Redis is over `maxmemory`: the
/// `allow-oom` flag line, then the `lib/` helpers named, then `$file`.
macro_rules! allow_oom {
    ($file:literal $(, $helper:literal)*) => {
        concat!(
            "#!lua flags=allow-oom\n",
            $(include_str!(concat!("scripts/lib/", $helper)),)*
            include_str!($file)
        )
    };
}

/// The enqueue script's source, also sent with `SCRIPT LOAD` by batched enqueues.
pub(super) const ENQUEUE_SOURCE: &str = concat!(
    "#!lua\n",
    include_str!("scripts/lib/wake.lua"),
    include_str!("scripts/enqueue.lua")
);

pub(super) static ENQUEUE: LazyLock<Script> = LazyLock::new(|| Script::new(ENQUEUE_SOURCE));
pub(super) static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(allow_oom!(
        "scripts/reserve.lua",
        "unique_lock.lua",
        "trim_dead.lua",
        "wake.lua"
    ))
});
pub(super) static ACK: LazyLock<Script> =
    LazyLock::new(|| Script::new(allow_oom!("scripts/ack.lua", "unique_lock.lua")));
pub(super) static FAIL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(allow_oom!(
        "scripts/fail.lua",
        "unique_lock.lua",
        "trim_dead.lua",
        "wake.lua"
    ))
});
pub(super) static RELEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(allow_oom!("scripts/release.lua", "unique_lock.lua", "wake.lua")));
pub(super) static EXTEND_LEASE: LazyLock<Script> =
    LazyLock::new(|| Script::new(allow_oom!("scripts/extend_lease.lua", "unique_lock.lua")));
pub(super) static REQUEUE_DEAD: LazyLock<Script> =
    LazyLock::new(|| Script::new(allow_oom!("scripts/requeue_dead.lua", "unique_lock.lua", "wake.lua")));
pub(super) static REQUEUE_ALL_DEAD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(allow_oom!(
        "scripts/requeue_all_dead.lua",
        "unique_lock.lua",
        "wake.lua"
    ))
});
pub(super) static PURGE_DEAD: LazyLock<Script> = LazyLock::new(|| Script::new(allow_oom!("scripts/purge_dead.lua")));
