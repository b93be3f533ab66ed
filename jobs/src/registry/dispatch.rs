//! Running one job's handler under its time limit, with panics caught.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;

use super::error::DispatchError;
use super::registration::{HandlerFailure, Invocation};
use super::result::JobResult;
use super::{Call, Registry};
use crate::context::JobContext;
use crate::job::Job;

impl Registry {
    /// Runs `job`'s handler under its time limit.
    ///
    /// Returns the handler's [`JobResult`], even one with `success: false`.
    /// A handler that exceeds its limit is cancelled: its future is dropped at
    /// the deadline, so nothing it would do afterwards happens.
    pub async fn dispatch(&self, job: Job) -> Result<JobResult, DispatchError> {
        self.dispatch_with(JobContext::new(job, CancellationToken::new())).await
    }

    /// Runs the handler for the job in `context`; see [`Registry::dispatch`].
    pub async fn dispatch_with(&self, context: JobContext) -> Result<JobResult, DispatchError> {
        let name = context.name().to_owned();
        let Some(handler) = self.handlers.get(&name) else {
            return Err(DispatchError::UnknownJob { name });
        };
        let timeout = self.timeout_for(&name);
        let invocation = Invocation::new(context, Arc::clone(&self.state));
        let call = handler.call.clone();
        let run = async move {
            match call {
                Call::Static(function) => function(invocation).await,
                Call::Dynamic(function) => function(invocation).await,
            }
        };
        let guarded = AssertUnwindSafe(run).catch_unwind();
        let outcome = match timeout {
            Some(limit) => match tokio::time::timeout(limit, guarded).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    return Err(DispatchError::Timeout { name, timeout: limit });
                }
            },
            None => guarded.await,
        };
        match outcome {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(HandlerFailure::Decode { payload_type, source })) => Err(DispatchError::Decode {
                name,
                payload_type,
                message: source.to_string(),
            }),
            Ok(Err(HandlerFailure::Job(error))) => Err(DispatchError::Failed {
                name,
                message: error.message().to_owned(),
                permanent: error.is_permanent(),
            }),
            Err(panic) => Err(DispatchError::Panicked {
                name,
                message: panic_message(panic.as_ref()),
            }),
        }
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "the panic payload is not a string".to_owned()
    }
}
