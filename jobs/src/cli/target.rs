//! The queue a command uses, described for the start-up log of `run` and the
//! first line of the one-shot commands, so a default left in place by a
//! misspelled variable is visible.

use crate::config::{DRIVER_ENV, Driver, JobsConfig, env_var};

/// Describes the configured queue, with any password in the Redis URL
/// replaced by `***`.
pub(super) fn describe_queue(config: &JobsConfig) -> String {
    match config.driver {
        Driver::Memory => "the in-memory queue of this process".to_owned(),
        Driver::Redis => format!(
            "the Redis queue at {:?} with key prefix {:?}",
            masked_redis_url(config),
            config.redis_prefix
        ),
    }
}

/// Returns the Redis URL with its passwords masked. In cluster mode the URL
/// is a comma-separated list of nodes, and each node's password is masked.
#[cfg(feature = "redis")]
pub(super) fn masked_redis_url(config: &JobsConfig) -> String {
    let nodes: Vec<String> = config
        .redis_url
        .split(',')
        .map(|url| crate::queue::redis::mask_password(url.trim()))
        .collect();
    nodes.join(",")
}

/// Without the `redis` feature there is no masking code, so the URL is not
/// shown. Such a build cannot open a Redis queue anyway.
#[cfg(not(feature = "redis"))]
pub(super) fn masked_redis_url(_config: &JobsConfig) -> String {
    "(not shown: this build lacks the `redis` feature)".to_owned()
}

/// Names where the `memory` driver came from: an explicit `JOBS_DRIVER` or
/// the default for an unset one.
pub(super) fn memory_driver_source() -> &'static str {
    match env_var(DRIVER_ENV) {
        Ok(Some(value)) if !value.trim().is_empty() => "JOBS_DRIVER is `memory`",
        _ => "JOBS_DRIVER is unset and defaults to `memory`",
    }
}
