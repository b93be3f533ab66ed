//! Runtime pieces of the handlers that `#[job]` generates, reached through
//! `jobs::__private`. Not a public API.
//!
//! The generated code names the payload type and each extractor type once,
//! in an implementation of [`PayloadSlot`] or [`ExtractorSlot`] spanned at the
//! user's type. Every other use goes through those slots, so a type that is
//! not a payload or not an extractor gets one compile error, at that type.

use std::future::Future;

use super::{FromInvocation, StateRequirement};
use crate::job::JobOptions;
use crate::payload::Payload;
use crate::registry::registration::{HandlerFailure, Invocation};
use crate::registry::result::{IntoJobResult, JobResult};
use crate::typed::JobPayload;

/// The payload type of one handler.
pub trait PayloadSlot {
    /// The handler's first parameter type.
    type Payload: HandlerPayload;
}

/// The parts of a payload type that the generated code uses, implemented for
/// every [`JobPayload`].
///
/// The slot's bound is this trait and not `JobPayload`, because a bound on an
/// associated type also requires the bounded trait's supertraits. A payload
/// that is not `Deserialize` would then get a second error at the slot, beside
/// the one at its `JobPayload` implementation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a job payload",
    label = "no `JobPayload` implementation for this type",
    note = "with `#[job(declared)]`, the payload type declares its job: add `#[derive(jobs::JobPayload)]` and `#[job(name = \"...\")]` to it"
)]
pub trait HandlerPayload: Sized {
    /// The job name.
    const NAME: &'static str;
    /// The job options.
    const OPTIONS: JobOptions;
    /// Decodes a payload into this type.
    fn decode(payload: &Payload) -> Result<Self, serde_json::Error>;
}

impl<T: JobPayload> HandlerPayload for T {
    const NAME: &'static str = T::NAME;
    const OPTIONS: JobOptions = T::OPTIONS;

    fn decode(payload: &Payload) -> Result<Self, serde_json::Error> {
        payload.decode()
    }
}

/// The type of one extractor parameter of a handler.
pub trait ExtractorSlot {
    /// The parameter type.
    type Extractor: FromInvocation;
}

/// Returns the job name the payload type of `S` declares.
pub const fn name_of<S: PayloadSlot>() -> &'static str {
    <S::Payload as HandlerPayload>::NAME
}

/// Returns the options the payload type of `S` declares.
pub const fn options_of<S: PayloadSlot>() -> JobOptions {
    <S::Payload as HandlerPayload>::OPTIONS
}

/// Returns the state the extractor of `S` reads.
pub const fn state_of<S: ExtractorSlot>() -> Option<StateRequirement> {
    <S::Extractor as FromInvocation>::STATE
}

/// Checks that `payload` decodes into the payload type of `S`.
pub fn check_payload_of<S: PayloadSlot>(payload: &Payload) -> Result<(), serde_json::Error> {
    S::Payload::decode(payload).map(drop)
}

/// Decodes the payload of the job in `invocation`. `payload_type` is the type
/// as written in the handler, for the error.
pub fn decode_payload<S: PayloadSlot>(
    invocation: &Invocation,
    payload_type: &'static str,
) -> Result<S::Payload, HandlerFailure> {
    S::Payload::decode(&invocation.context().job().payload)
        .map_err(|source| HandlerFailure::Decode { payload_type, source })
}

/// Builds the extractor of `S` for one attempt.
pub fn extract<S: ExtractorSlot>(invocation: &Invocation) -> Result<S::Extractor, HandlerFailure> {
    S::Extractor::from_invocation(invocation).map_err(HandlerFailure::Job)
}

/// Converts what a handler returned into the attempt's outcome.
pub fn into_handler_result<R: IntoJobResult>(output: R) -> Result<JobResult, HandlerFailure> {
    output.into_job_result().map_err(HandlerFailure::Job)
}

/// Requires a handler's future to be `Send`, so workers can run it on any
/// thread. The generated call is spanned at the handler's name, so that is
/// where the compile error lands.
pub fn require_send<F: Future + Send>(future: F) -> F {
    future
}
