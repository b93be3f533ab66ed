//! The build step: checks the rules that span several keys and turns a
//! [`Config`] into the job options to generate.

use std::time::Duration;

use crate::config::{BackoffKind, Config, Setting};
use crate::errors::Errors;

/// The base delay when `backoff_seconds` is not written, as in `jobs::Backoff::DEFAULT_BASE`.
pub(crate) const DEFAULT_BACKOFF_SECONDS: u64 = 60;

/// The cap of exponential backoff when `max_backoff` is not written, as in
/// `jobs::Backoff::DEFAULT_MAX_DELAY`.
pub(crate) const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60 * 60);

/// The options written in the attribute, each still carrying its span.
/// A key that is not written keeps the default of `jobs::JobOptions::DEFAULT`.
pub(crate) struct OptionsSpec {
    pub(crate) max_attempts: Option<Setting<u32>>,
    pub(crate) timeout: Option<Setting<Duration>>,
    pub(crate) backoff: Option<BackoffSpec>,
    pub(crate) visibility_timeout: Option<Setting<Duration>>,
}

impl OptionsSpec {
    /// No key written: `jobs::JobOptions::DEFAULT`.
    pub(crate) fn empty() -> Self {
        Self {
            max_attempts: None,
            timeout: None,
            backoff: None,
            visibility_timeout: None,
        }
    }
}

/// The backoff keys that were written. Present when at least one was.
pub(crate) struct BackoffSpec {
    pub(crate) kind: Option<Setting<BackoffKind>>,
    pub(crate) base_seconds: Option<Setting<u64>>,
    pub(crate) max_delay: Option<Setting<Duration>>,
    pub(crate) jitter: Option<Setting<bool>>,
}

impl BackoffSpec {
    /// Returns the strategy: linear unless `backoff = "exponential"` is written.
    pub(crate) fn kind(&self) -> BackoffKind {
        self.kind.map_or(BackoffKind::Linear, |setting| setting.value)
    }

    /// Returns the base delay in seconds, written or default.
    pub(crate) fn base_seconds(&self) -> u64 {
        self.base_seconds
            .map_or(DEFAULT_BACKOFF_SECONDS, |setting| setting.value)
    }

    /// Returns the cap of exponential backoff, written or default.
    pub(crate) fn max_delay(&self) -> Duration {
        self.max_delay.map_or(DEFAULT_MAX_BACKOFF, |setting| setting.value)
    }

    /// Returns whether exponential backoff is randomized, written or default.
    pub(crate) fn jitter(&self) -> bool {
        self.jitter.is_some_and(|setting| setting.value)
    }
}

/// Checks the rules across keys and collects the options. Errors go to
/// `errors`, and the options returned are then incomplete but safe to generate.
pub(crate) fn build(config: &Config, errors: &mut Errors) -> OptionsSpec {
    let backoff_keys_written = config.backoff.is_written()
        || config.backoff_seconds.is_written()
        || config.max_backoff.is_written()
        || config.jitter.is_written();
    let backoff = backoff_keys_written.then(|| BackoffSpec {
        kind: config.backoff.get().copied(),
        base_seconds: config.backoff_seconds.get().copied(),
        max_delay: config.max_backoff.get().copied(),
        jitter: config.jitter.get().copied(),
    });

    if let Some(spec) = &backoff {
        check_backoff(config, spec, errors);
    }

    OptionsSpec {
        max_attempts: config.max_attempts.get().copied(),
        timeout: config.timeout.get().copied(),
        backoff,
        visibility_timeout: config.visibility_timeout.get().copied(),
    }
}

fn check_backoff(config: &Config, spec: &BackoffSpec, errors: &mut Errors) {
    // An invalid `backoff` value is already reported. Guessing the strategy
    // from it would only add errors about the keys that depend on it.
    let strategy_unknown = config.backoff.is_written() && spec.kind.is_none();
    if strategy_unknown {
        return;
    }

    if spec.kind() != BackoffKind::Exponential {
        let exponential_only = [
            ("max_backoff", config.max_backoff.key_span()),
            ("jitter", config.jitter.key_span()),
        ];
        for (key, span) in exponential_only {
            if let Some(span) = span {
                errors.push_at(
                    span,
                    format!(
                        "`{key}` applies only to exponential backoff; add `backoff = \"exponential\"` or remove `{key}`"
                    ),
                );
            }
        }
        return;
    }

    if let Some(cap) = spec.max_delay {
        let base = Duration::from_secs(spec.base_seconds());
        if cap.value < base {
            errors.push_at(
                cap.span,
                format!(
                    "`max_backoff` of {} is shorter than the base delay of {} (`backoff_seconds`); the cap must be at least the base",
                    humantime::format_duration(cap.value),
                    humantime::format_duration(base),
                ),
            );
        }
    }
}
