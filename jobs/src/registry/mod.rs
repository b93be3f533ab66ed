//! The handler registry: job names mapped to handlers, their options and time limits.

mod builder;
mod dispatch;
pub mod error;
pub mod registration;
pub mod result;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use builder::RegistryBuilder;

use crate::context::JobContext;
use crate::extract::state::StateMap;
use crate::job::JobOptions;
use crate::payload::Payload;
use error::DispatchError;
use error::{RegistryError, duplicate};
use registration::{BoxFuture, HandlerFailure, HandlerFn, Invocation, Origin, PayloadCheck};
use result::{IntoJobResult, JobResult};

/// The environment variable holding the time limit, in seconds, for handlers
/// that declare none.
pub const DEFAULT_TIMEOUT_ENV: &str = "JOB_DEFAULT_TIMEOUT_SECONDS";

type DynHandler = Arc<dyn Fn(Invocation) -> BoxFuture<Result<JobResult, HandlerFailure>> + Send + Sync>;

#[derive(Clone)]
enum Call {
    Static(HandlerFn),
    Dynamic(DynHandler),
}

#[derive(Clone)]
struct Handler {
    options: JobOptions,
    call: Call,
    check: Option<PayloadCheck>,
    payload_type: &'static str,
    origin: Origin,
}

/// A registered handler, as [`Registry::handlers`] lists it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct HandlerInfo<'a> {
    /// The job name.
    pub name: &'a str,
    /// The declared options.
    pub options: &'a JobOptions,
    /// The payload type the handler decodes, or `"serde_json::Value"` for a
    /// handler registered by hand.
    pub payload_type: &'static str,
    /// Where the handler is defined.
    pub origin: Origin,
}

/// Job names mapped to handlers.
///
/// Build it from every `#[job]` handler linked into the binary with
/// [`Registry::from_inventory`], or with [`Registry::builder`] when handlers
/// take shared state, and add handlers by hand with [`Registry::register`].
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Handler>,
    default_timeout: Option<Duration>,
    state: Arc<StateMap>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Registry")
            .field("handlers", &names)
            .field("default_timeout", &self.default_timeout)
            .field("state", &self.state)
            .finish()
    }
}

impl Registry {
    /// An empty registry with no default timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Collects every `#[job]` handler linked into the binary, and reads the
    /// default timeout from `JOB_DEFAULT_TIMEOUT_SECONDS`.
    ///
    /// Fails when two handlers share a name (naming both), when a handler
    /// takes `Data<T>` (give state with [`Registry::builder`] instead), or when
    /// the variable is set to something other than a positive number.
    pub fn from_inventory() -> Result<Self, RegistryError> {
        Self::builder().from_inventory()
    }

    /// Starts a registry that gives shared state to its handlers:
    /// `Registry::builder().state(pool).state(client).from_inventory()?`.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Registers a handler by hand. It receives the job's context and reads the
    /// payload from `context.job().payload`.
    #[track_caller]
    pub fn register<F, Fut, R>(
        &mut self,
        name: &str,
        options: JobOptions,
        handler: F,
    ) -> Result<&mut Self, RegistryError>
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoJobResult,
    {
        let location = std::panic::Location::caller();
        let call: DynHandler = Arc::new(move |invocation: Invocation| {
            let future = handler(invocation.into_context());
            Box::pin(async move { future.await.into_job_result().map_err(HandlerFailure::Job) })
        });
        let handler = Handler {
            options,
            call: Call::Dynamic(call),
            check: None,
            payload_type: "serde_json::Value",
            origin: Origin {
                path: "registered by hand",
                file: location.file(),
                line: location.line(),
            },
        };
        self.insert(name, handler)?;
        Ok(self)
    }

    /// Sets the time limit for handlers that declare none; `None` means no limit.
    pub fn default_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.default_timeout = timeout;
        self
    }

    /// Whether a handler is registered for `name`.
    pub fn has_handler(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// The declared options of the handler for `name`.
    pub fn options(&self, name: &str) -> Option<&JobOptions> {
        self.handlers.get(name).map(|handler| &handler.options)
    }

    /// The time limit for jobs named `name`: the handler's own, else the
    /// registry's default.
    pub fn timeout_for(&self, name: &str) -> Option<Duration> {
        let own = self.handlers.get(name).and_then(|handler| handler.options.timeout);
        own.or(self.default_timeout)
    }

    /// Checks that `payload` decodes into the payload type of the handler for
    /// `name`, without running it. Handlers registered by hand take any JSON.
    pub fn check_payload(&self, name: &str, payload: &Payload) -> Result<(), DispatchError> {
        let Some(handler) = self.handlers.get(name) else {
            return Err(DispatchError::UnknownJob { name: name.to_owned() });
        };
        let Some(check) = handler.check else {
            return Ok(());
        };
        check(payload).map_err(|source| DispatchError::Decode {
            name: name.to_owned(),
            payload_type: handler.payload_type,
            message: source.to_string(),
        })
    }

    /// The registered handlers, sorted by name.
    pub fn handlers(&self) -> Vec<HandlerInfo<'_>> {
        let mut list: Vec<HandlerInfo<'_>> = self
            .handlers
            .iter()
            .map(|(name, handler)| HandlerInfo {
                name,
                options: &handler.options,
                payload_type: handler.payload_type,
                origin: handler.origin,
            })
            .collect();
        list.sort_by_key(|info| info.name);
        list
    }

    fn insert(&mut self, name: &str, handler: Handler) -> Result<(), RegistryError> {
        match self.handlers.entry(name.to_owned()) {
            Entry::Occupied(existing) => Err(duplicate(name, &existing.get().origin, &handler.origin)),
            Entry::Vacant(slot) => {
                slot.insert(handler);
                Ok(())
            }
        }
    }
}

/// Reads `JOB_DEFAULT_TIMEOUT_SECONDS`: unset or empty means no default limit.
pub fn default_timeout_from_env() -> Result<Option<Duration>, RegistryError> {
    let Some(value) = crate::config::env_var(DEFAULT_TIMEOUT_ENV)? else {
        return Ok(None);
    };
    parse_timeout_seconds(&value)
}

fn parse_timeout_seconds(value: &str) -> Result<Option<Duration>, RegistryError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let invalid = || RegistryError::InvalidDefaultTimeout {
        value: value.to_owned(),
    };
    let seconds: f64 = trimmed.parse().map_err(|_| invalid())?;
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(invalid());
    }
    Duration::try_from_secs_f64(seconds).map(Some).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_seconds_parse() {
        assert_eq!(parse_timeout_seconds("").unwrap(), None);
        assert_eq!(parse_timeout_seconds("2.5").unwrap(), Some(Duration::from_millis(2500)));
        for bad in ["0", "-1", "abc", "NaN", "inf", "1e400"] {
            let error = parse_timeout_seconds(bad).unwrap_err();
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn duplicate_names_rejected_naming_both() {
        let mut registry = Registry::new();
        registry.register("a", JobOptions::DEFAULT, |_| async {}).unwrap();
        let error = registry.register("a", JobOptions::DEFAULT, |_| async {}).err().unwrap();
        let text = error.to_string();
        assert!(text.contains("job `a` has two handlers"), "{text}");
        assert_eq!(text.matches("registry/mod.rs").count(), 2, "{text}");
    }
}
