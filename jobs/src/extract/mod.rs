//! Extractors, the handler parameters after the payload, and the runtime
//! pieces of the code `#[job]` generates.

mod data;
pub(crate) mod declared;
pub(crate) mod handler;
pub(crate) mod state;

pub use data::Data;
pub use state::StateRequirement;

use crate::context::JobContext;
use crate::registry::registration::Invocation;
use crate::registry::result::JobError;

/// A value a `#[job]` handler takes as a parameter after its payload, built
/// from the running job and the registry.
///
/// This crate implements it for [`JobContext`] (the job's id, attempt,
/// previous error and cancellation signal) and for [`Data<T>`] (state given to
/// [`Registry::builder`](crate::Registry::builder)). Implement it for a type of
/// your own to compute a value from these for every attempt.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a parameter of a `#[job]` handler",
    label = "not an extractor",
    note = "a handler's first parameter is its payload; the parameters after it are extractors: `jobs::JobContext`, or `jobs::Data<T>` for state given with `Registry::builder().state(value)`",
    note = "for another type, wrap it as `jobs::Data<{Self}>` and give the value to `Registry::builder().state(...)`"
)]
pub trait FromInvocation: Sized {
    /// The state type this extractor reads, checked when the registry is built.
    const STATE: Option<StateRequirement> = None;

    /// Builds the value for one attempt. An error fails the attempt, which is
    /// retried unless the error is [`JobError::permanent`].
    fn from_invocation(invocation: &Invocation) -> Result<Self, JobError>;
}

impl FromInvocation for JobContext {
    fn from_invocation(invocation: &Invocation) -> Result<Self, JobError> {
        Ok(invocation.context().clone())
    }
}

impl<T: Send + Sync + 'static> FromInvocation for Data<T> {
    const STATE: Option<StateRequirement> = Some(StateRequirement::of::<T>());

    fn from_invocation(invocation: &Invocation) -> Result<Self, JobError> {
        invocation.state::<T>().ok_or_else(|| {
            JobError::retry(format_args!(
                "job `{}` needs state of type `{}`, which the registry was not given; add it with `Registry::builder().state(value)`",
                invocation.context().name(),
                std::any::type_name::<T>()
            ))
        })
    }
}
