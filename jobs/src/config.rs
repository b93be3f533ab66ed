//! Configuration from the environment: `JOBS_DRIVER`, `REDIS_URL`,
//! `JOBS_REDIS_PREFIX`, `JOBS_REDIS_CLUSTER`, `JOBS_VISIBILITY_TIMEOUT_SECONDS`
//! and `JOBS_DEAD_LETTER_LIMIT`.
//!
//! A variable whose value is not valid UTF-8 is an error, never treated as
//! unset, so a worker cannot silently fall back to a default such as the
//! in-memory queue or a Redis on localhost.

use std::ffi::{OsStr, OsString};
use std::sync::Arc;
use std::time::Duration;

use crate::queue::memory::{DEFAULT_VISIBILITY_TIMEOUT, InMemoryJobQueue};
use crate::queue::{DEFAULT_DEAD_LETTER_LIMIT, DynQueue};
use crate::scheduler::Scheduler;

/// Selects the queue backend: `memory` (the default) or `redis`.
pub const DRIVER_ENV: &str = "JOBS_DRIVER";
/// The Redis server for the `redis` driver. With `JOBS_REDIS_CLUSTER=1`, it
/// lists one or more cluster nodes separated by commas.
pub const REDIS_URL_ENV: &str = "REDIS_URL";
/// The key prefix of the Redis queue; use a hash tag such as `{jobs}` on Redis Cluster.
pub const REDIS_PREFIX_ENV: &str = "JOBS_REDIS_PREFIX";
/// Selects a Redis Cluster connection when `1`, `true`, `yes` or `on`. The
/// values `0`, `false`, `no` and `off`, like an unset variable, select a
/// single server.
pub const REDIS_CLUSTER_ENV: &str = "JOBS_REDIS_CLUSTER";
/// The default lease length in seconds, for jobs that set none.
pub const VISIBILITY_TIMEOUT_ENV: &str = "JOBS_VISIBILITY_TIMEOUT_SECONDS";
/// The maximum number of dead jobs kept, a positive integer. The default is
/// [`DEFAULT_DEAD_LETTER_LIMIT`].
pub const DEAD_LETTER_LIMIT_ENV: &str = "JOBS_DEAD_LETTER_LIMIT";
/// The Redis URL used when `REDIS_URL` is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://localhost:6379/0";
/// The Redis key prefix used when `JOBS_REDIS_PREFIX` is unset, as in svc-infra.
pub const DEFAULT_REDIS_PREFIX: &str = "jobs";

/// The queue backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// [`InMemoryJobQueue`]: jobs live in this process only.
    Memory,
    /// [`RedisJobQueue`](crate::RedisJobQueue): jobs live in Redis.
    Redis,
}

impl std::str::FromStr for Driver {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "memory" => Ok(Driver::Memory),
            "redis" => Ok(Driver::Redis),
            _ => Err(ConfigError::UnknownDriver {
                value: value.to_owned(),
            }),
        }
    }
}

/// An environment variable whose value is not valid UTF-8.
///
/// The message gives the position of the first invalid byte but not the
/// value, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not valid UTF-8 (byte 0x{byte:02X} at offset {offset} is invalid); set it to UTF-8 text")]
#[non_exhaustive]
pub struct NotUnicodeError {
    /// The variable's name.
    pub variable: &'static str,
    /// The byte offset of the first invalid byte.
    pub offset: usize,
    /// The first invalid byte.
    pub byte: u8,
}

impl NotUnicodeError {
    /// Describes the problem without naming the variable, for messages that
    /// name it already.
    pub(crate) fn reason(&self) -> String {
        format!(
            "it is not valid UTF-8 (byte 0x{:02X} at offset {} is invalid)",
            self.byte, self.offset
        )
    }
}

/// Reads the environment variable `name`: `None` when it is unset, and an
/// error when its value is not valid UTF-8.
pub(crate) fn env_var(name: &'static str) -> Result<Option<String>, NotUnicodeError> {
    std::env::var_os(name).map(|value| into_string(name, value)).transpose()
}

fn into_string(variable: &'static str, value: OsString) -> Result<String, NotUnicodeError> {
    value.into_string().map_err(|value| not_unicode(variable, &value))
}

fn not_unicode(variable: &'static str, value: &OsStr) -> NotUnicodeError {
    let bytes = value.as_encoded_bytes();
    let offset = std::str::from_utf8(bytes).err().map_or(0, |error| error.valid_up_to());
    NotUnicodeError {
        variable,
        offset,
        byte: bytes.get(offset).copied().unwrap_or_default(),
    }
}

/// A configuration that cannot be used.
///
/// `Debug` prints the same message as `Display`, so a `main` that returns this
/// error with `?` shows what to fix.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `JOBS_DRIVER` names no known backend.
    #[error("JOBS_DRIVER={value:?} is not a known driver; set it to `memory` or `redis`")]
    UnknownDriver {
        /// The value of the variable.
        value: String,
    },
    /// The Redis URL does not parse.
    #[error("REDIS_URL {url:?} is invalid: {reason}; use the form redis://[user:password@]host:port/db")]
    InvalidRedisUrl {
        /// The URL, with any password masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The Redis server did not answer.
    #[error("cannot reach Redis at {url:?}: {reason}; start the server or fix REDIS_URL")]
    RedisUnreachable {
        /// The URL, with any password masked.
        url: String,
        /// The connection error.
        reason: String,
    },
    /// The Redis server has no database with the number the URL selects.
    #[error(
        "the Redis server at {url:?} rejected database {database}; use a database number below the server's \
         `databases` setting (16 by default) in REDIS_URL"
    )]
    RedisDatabaseInvalid {
        /// The URL, with any password masked.
        url: String,
        /// The database number from the URL.
        database: i64,
    },
    /// The Redis server rejected the user name or password, or requires a
    /// password that the URL does not give.
    #[error(
        "authentication failed at Redis {url:?}: {reason}; fix the password in REDIS_URL \
         (redis://user:password@host:port/db)"
    )]
    RedisAuthFailed {
        /// The URL, with any password masked.
        url: String,
        /// What the server reported.
        reason: String,
    },
    /// The server at the URL replied with data that is not the Redis protocol.
    #[error(
        "the server at {url:?} did not answer as Redis does, so it is some other service; check the host and \
         port in REDIS_URL"
    )]
    NotRedis {
        /// The URL, with any password masked.
        url: String,
    },
    /// An environment variable is not valid UTF-8.
    #[error(transparent)]
    NotUnicode(#[from] NotUnicodeError),
    /// `JOBS_DEAD_LETTER_LIMIT` is not a positive integer.
    #[error(
        "JOBS_DEAD_LETTER_LIMIT={value:?} is not a positive integer; set it to the maximum number of dead jobs \
         to keep, such as 10000, or unset it"
    )]
    InvalidDeadLetterLimit {
        /// The value of the variable.
        value: String,
    },
    /// `JOBS_REDIS_CLUSTER` is not a boolean.
    #[error("JOBS_REDIS_CLUSTER={value:?} is not a boolean; set it to 1 for Redis Cluster or 0 for one server")]
    InvalidRedisCluster {
        /// The value of the variable.
        value: String,
    },
    /// `JOBS_VISIBILITY_TIMEOUT_SECONDS` is not a positive number.
    #[error(
        "JOBS_VISIBILITY_TIMEOUT_SECONDS={value:?} is not a positive number of seconds; set it to a value such as 60 or unset it"
    )]
    InvalidVisibilityTimeout {
        /// The value of the variable.
        value: String,
    },
    /// The key prefix is unusable.
    #[error("JOBS_REDIS_PREFIX={value:?} is invalid: {reason}")]
    InvalidPrefix {
        /// The prefix.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The `redis` driver was selected in a build without the `redis` feature.
    #[error("JOBS_DRIVER=redis needs the `redis` feature of the `jobs` crate; enable it in Cargo.toml")]
    RedisFeatureDisabled,
}

impl std::fmt::Debug for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, formatter)
    }
}

/// The settings `easy_jobs` reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobsConfig {
    /// The backend.
    pub driver: Driver,
    /// The Redis server, for the `redis` driver. In cluster mode, one or more
    /// node URLs separated by commas.
    pub redis_url: String,
    /// The Redis key prefix.
    pub redis_prefix: String,
    /// Whether `redis_url` names nodes of a Redis Cluster.
    pub redis_cluster: bool,
    /// The lease length for jobs that set none.
    pub visibility_timeout: Duration,
    /// The maximum number of dead jobs kept.
    pub dead_letter_limit: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            driver: Driver::Memory,
            redis_url: DEFAULT_REDIS_URL.to_owned(),
            redis_prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            redis_cluster: false,
            visibility_timeout: DEFAULT_VISIBILITY_TIMEOUT,
            dead_letter_limit: DEFAULT_DEAD_LETTER_LIMIT,
        }
    }
}

impl JobsConfig {
    /// Reads `JOBS_DRIVER`, `REDIS_URL`, `JOBS_REDIS_PREFIX`,
    /// `JOBS_REDIS_CLUSTER`, `JOBS_VISIBILITY_TIMEOUT_SECONDS` and
    /// `JOBS_DEAD_LETTER_LIMIT`. Unset or empty variables take their
    /// defaults, and a value that is not valid UTF-8 is an error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_os_lookup(|name| std::env::var_os(name))
    }

    /// Reads the settings through `lookup`, a function from a variable name to its value.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_os_lookup(|name| lookup(name).map(OsString::from))
    }

    fn from_os_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let read = |name: &'static str| -> Result<Option<String>, ConfigError> {
            let value = lookup(name).map(|value| into_string(name, value)).transpose()?;
            Ok(value.filter(|value| !value.trim().is_empty()))
        };
        let mut config = Self::default();
        if let Some(driver) = read(DRIVER_ENV)? {
            config.driver = driver.parse()?;
        }
        if let Some(url) = read(REDIS_URL_ENV)? {
            config.redis_url = url.trim().to_owned();
        }
        if let Some(prefix) = read(REDIS_PREFIX_ENV)? {
            config.redis_prefix = prefix;
        }
        if let Some(value) = read(REDIS_CLUSTER_ENV)? {
            config.redis_cluster = parse_bool(&value).ok_or(ConfigError::InvalidRedisCluster { value })?;
        }
        if let Some(value) = read(VISIBILITY_TIMEOUT_ENV)? {
            config.visibility_timeout = parse_seconds(&value).ok_or(ConfigError::InvalidVisibilityTimeout { value })?;
        }
        if let Some(value) = read(DEAD_LETTER_LIMIT_ENV)? {
            config.dead_letter_limit = parse_limit(&value).ok_or(ConfigError::InvalidDeadLetterLimit { value })?;
        }
        Ok(config)
    }

    /// Opens the configured queue. For Redis this connects and checks the
    /// server, so a wrong URL fails here and not at the first job. In cluster
    /// mode the prefix must contain a hash tag such as `{jobs}`, for the reason
    /// [`RedisJobQueue::connect_cluster`](crate::RedisJobQueue::connect_cluster) gives.
    pub async fn connect(&self) -> Result<DynQueue, ConfigError> {
        match self.driver {
            Driver::Memory => Ok(Arc::new(
                InMemoryJobQueue::with_visibility_timeout(self.visibility_timeout)
                    .dead_letter_limit(self.dead_letter_limit),
            )),
            #[cfg(feature = "redis")]
            Driver::Redis => {
                let options = crate::queue::redis::RedisQueueOptions::default()
                    .prefix(&self.redis_prefix)
                    .visibility_timeout(self.visibility_timeout)
                    .dead_letter_limit(self.dead_letter_limit);
                let queue = if self.redis_cluster {
                    let urls: Vec<&str> = self.redis_url.split(',').map(str::trim).collect();
                    crate::RedisJobQueue::connect_cluster(&urls, options).await?
                } else {
                    crate::RedisJobQueue::connect(&self.redis_url, options).await?
                };
                Ok(Arc::new(queue))
            }
            #[cfg(not(feature = "redis"))]
            Driver::Redis => Err(ConfigError::RedisFeatureDisabled),
        }
    }
}

/// Parses the usual spellings of a boolean environment variable.
fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Parses a positive integer, such as `10000`.
fn parse_limit(value: &str) -> Option<usize> {
    value.trim().parse().ok().filter(|&limit| limit > 0)
}

/// Parses a positive, finite number of seconds.
fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !(seconds.is_finite() && seconds > 0.0) {
        return None;
    }
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|duration| !duration.is_zero())
}

/// Opens the queue the environment selects and a scheduler that enqueues into it.
///
/// `JOBS_DRIVER` picks `memory` (the default) or `redis`. `REDIS_URL` (default
/// `redis://localhost:6379/0`), `JOBS_REDIS_PREFIX` (default `jobs`) and
/// `JOBS_REDIS_CLUSTER` (default off) configure Redis.
/// `JOBS_VISIBILITY_TIMEOUT_SECONDS` (default 60) and `JOBS_DEAD_LETTER_LIMIT`
/// (default 10,000) apply to both drivers.
pub async fn easy_jobs() -> Result<(DynQueue, Scheduler), ConfigError> {
    let queue = JobsConfig::from_env()?.connect().await?;
    let scheduler = Scheduler::new(queue.clone());
    Ok((queue, scheduler))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<JobsConfig, ConfigError> {
        JobsConfig::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn config_error_debug_shows_message() {
        let error = config(&[(DRIVER_ENV, "postgres")]).unwrap_err();

        assert_eq!(format!("{error:?}"), error.to_string());
        assert!(format!("{error:?}").contains("postgres"), "{error:?}");
    }

    #[test]
    fn defaults_to_memory() {
        let config = config(&[]).unwrap();
        assert_eq!(config.driver, Driver::Memory);
        assert_eq!(config.redis_url, DEFAULT_REDIS_URL);
        assert_eq!(config.redis_prefix, "jobs");
    }

    #[test]
    fn driver_is_case_insensitive() {
        assert_eq!(config(&[("JOBS_DRIVER", "Redis")]).unwrap().driver, Driver::Redis);
    }

    #[test]
    fn visibility_timeout_reads_seconds() {
        let parsed = config(&[("JOBS_VISIBILITY_TIMEOUT_SECONDS", "1.5")]).unwrap();
        assert_eq!(parsed.visibility_timeout, Duration::from_millis(1500));
        for bad in ["0", "-3", "soon", "inf"] {
            let error = config(&[("JOBS_VISIBILITY_TIMEOUT_SECONDS", bad)]).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn cluster_flag_reads_booleans() {
        assert!(!config(&[]).unwrap().redis_cluster);
        for on in ["1", "true", "YES", " on "] {
            assert!(config(&[("JOBS_REDIS_CLUSTER", on)]).unwrap().redis_cluster, "{on}");
        }
        for off in ["0", "false", "No", "off"] {
            assert!(!config(&[("JOBS_REDIS_CLUSTER", off)]).unwrap().redis_cluster, "{off}");
        }
        let error = config(&[("JOBS_REDIS_CLUSTER", "cluster")]).unwrap_err().to_string();
        assert!(error.contains("\"cluster\""), "{error}");
    }

    #[cfg(feature = "redis")]
    #[tokio::test]
    async fn cluster_without_hash_tag_rejected_before_connecting() {
        let config = config(&[
            ("JOBS_DRIVER", "redis"),
            ("JOBS_REDIS_CLUSTER", "1"),
            ("REDIS_URL", "redis://127.0.0.1:1, redis://127.0.0.1:2"),
        ])
        .unwrap();
        let error = config
            .connect()
            .await
            .err()
            .expect("a prefix without a hash tag is rejected");
        let text = error.to_string();
        assert!(matches!(error, ConfigError::InvalidPrefix { .. }), "{text}");
        assert!(text.contains("JOBS_REDIS_PREFIX=\"jobs\""), "{text}");
        assert!(text.contains("`{jobs}`"), "{text}");
    }

    #[test]
    fn unknown_driver_names_value() {
        let error = config(&[("JOBS_DRIVER", "rabbitmq")]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"rabbitmq\""), "{text}");
        assert!(text.contains("`memory` or `redis`"), "{text}");
    }
}
