//! Runtime pieces of the handlers that `#[job]` generates, reached through
//! `jobs::__private`. Not a public API.

use std::future::Future;

use serde::de::DeserializeOwned;

use crate::registry::registration::{HandlerFailure, Invocation};
use crate::registry::result::{IntoJobResult, JobResult};

/// Decodes the payload of the job in `invocation`. `payload_type` is the type
/// as written in the handler, for the error.
pub fn decode_payload<T: DeserializeOwned>(
    invocation: &Invocation,
    payload_type: &'static str,
) -> Result<T, HandlerFailure> {
    invocation
        .context()
        .job()
        .payload
        .decode()
        .map_err(|source| HandlerFailure::Decode { payload_type, source })
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
