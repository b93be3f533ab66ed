//! The keys of `#[job(...)]`, spelled once.

pub(crate) const NAME: &str = "name";
pub(crate) const MAX_ATTEMPTS: &str = "max_attempts";
pub(crate) const TIMEOUT: &str = "timeout";
pub(crate) const BACKOFF: &str = "backoff";
pub(crate) const BACKOFF_SECONDS: &str = "backoff_seconds";
pub(crate) const MAX_BACKOFF: &str = "max_backoff";
pub(crate) const JITTER: &str = "jitter";
pub(crate) const VISIBILITY_TIMEOUT: &str = "visibility_timeout";
pub(crate) const DECLARED: &str = "declared";

/// The keys that set the job name and options, valid everywhere `#[job(...)]` is.
const OPTION_KEYS: &[&str] = &[
    NAME,
    MAX_ATTEMPTS,
    TIMEOUT,
    BACKOFF,
    BACKOFF_SECONDS,
    MAX_BACKOFF,
    JITTER,
    VISIBILITY_TIMEOUT,
];

/// Where `#[job(...)]` is written, which decides the keys it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// `#[job(...)]` on an `async fn` handler.
    Handler,
    /// `#[job(...)]` under `#[derive(JobPayload)]` on a payload type.
    PayloadType,
}

impl Site {
    /// Returns whether `key` is valid here.
    pub(crate) fn accepts(self, key: &str) -> bool {
        OPTION_KEYS.contains(&key) || (self == Site::Handler && key == DECLARED)
    }

    /// Lists the valid keys for messages: "`name`, `max_attempts`, ...".
    pub(crate) fn valid_keys(self) -> String {
        let mut keys: Vec<&str> = OPTION_KEYS.to_vec();
        if self == Site::Handler {
            keys.push(DECLARED);
        }
        let quoted: Vec<String> = keys.iter().map(|key| format!("`{key}`")).collect();
        quoted.join(", ")
    }
}
