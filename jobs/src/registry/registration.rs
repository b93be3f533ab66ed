//! The constant records `#[job]` submits to `inventory`, and the type-erased
//! handler call they point to.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::context::JobContext;
use crate::extract::Data;
use crate::extract::StateRequirement;
use crate::extract::state::StateMap;
use crate::job::JobOptions;
use crate::payload::Payload;
use crate::registry::result::{JobError, JobResult};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One call of a handler: the job's context and what the registry provides.
#[derive(Debug)]
pub struct Invocation {
    context: JobContext,
    state: Arc<StateMap>,
}

impl Invocation {
    pub(crate) fn new(context: JobContext, state: Arc<StateMap>) -> Self {
        Self { context, state }
    }

    /// The running job's context.
    pub fn context(&self) -> &JobContext {
        &self.context
    }

    /// The registry's state of type `T`, if it was given one.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Data<T>> {
        self.state.get::<T>().map(Data::from)
    }

    /// Takes the context out of the invocation.
    pub fn into_context(self) -> JobContext {
        self.context
    }
}

/// Why a handler call did not produce a result.
#[derive(Debug)]
pub enum HandlerFailure {
    /// The payload does not decode into the handler's payload type.
    Decode {
        /// The Rust type the payload was decoded into.
        payload_type: &'static str,
        /// The decode error.
        source: serde_json::Error,
    },
    /// The handler returned an error.
    Job(JobError),
}

/// A type-erased handler: decodes the payload, calls the function and converts
/// its return value.
pub type HandlerFn = fn(Invocation) -> BoxFuture<Result<JobResult, HandlerFailure>>;

/// Checks that a payload decodes into a handler's payload type, without running the handler.
pub type PayloadCheck = fn(&Payload) -> Result<(), serde_json::Error>;

/// A handler linked into the binary, as `#[job]` registers it.
///
/// Every field is constant data, so the records can live in `inventory`'s
/// link-time list; [`Registry::from_inventory`](crate::Registry::from_inventory)
/// reads them all.
#[derive(Debug)]
pub struct JobRegistration {
    pub(crate) name: &'static str,
    pub(crate) options: JobOptions,
    pub(crate) handler: HandlerFn,
    pub(crate) check: PayloadCheck,
    pub(crate) payload_type: &'static str,
    pub(crate) origin: Origin,
    /// The state each extractor reads, `None` for those that read none.
    pub(crate) state: &'static [Option<StateRequirement>],
}

/// Where a handler is defined, for messages about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The handler's path, `module::function`.
    pub path: &'static str,
    /// The source file.
    pub file: &'static str,
    /// The line of the function.
    pub line: u32,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` at {}:{}", self.path, self.file, self.line)
    }
}

impl JobRegistration {
    /// A registration record. Called by the code `#[job]` generates.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        options: JobOptions,
        handler: HandlerFn,
        check: PayloadCheck,
        payload_type: &'static str,
        origin: Origin,
    ) -> Self {
        Self {
            name,
            options,
            handler,
            check,
            payload_type,
            origin,
            state: &[],
        }
    }

    /// Records the state the handler's extractors read, which the registry
    /// checks for when it is built. Called by the code `#[job]` generates.
    #[doc(hidden)]
    pub const fn with_state(mut self, state: &'static [Option<StateRequirement>]) -> Self {
        self.state = state;
        self
    }
}

inventory::collect!(JobRegistration);
