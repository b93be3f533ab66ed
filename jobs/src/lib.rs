//! Typed background jobs: an in-memory queue for development and tests, a
//! Redis queue for production, and a `#[job]` attribute that ties a serde
//! payload type to its handler.
//!
//! ```standalone_crate
//! use jobs::{InMemoryJobQueue, JobPayload, Registry, job, process_one};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct SendEmail { to: String }
//!
//! #[job(name = "send_email", max_attempts = 5, timeout = "60s")]
//! async fn send_email(email: SendEmail) -> Result<(), std::io::Error> {
//!     println!("sending to {}", email.to);
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queue = InMemoryJobQueue::new();
//! SendEmail { to: "ada@example.com".into() }.enqueue(&queue).await?;
//! let registry = Registry::from_inventory()?;
//! let event = process_one(&queue, &registry).await?.expect("one job was due");
//! assert_eq!(event.outcome, jobs::JobOutcome::Succeeded);
//! # Ok(()) }
//! ```
//!
//! # Delivery guarantee
//!
//! Delivery is at least once: a job whose worker dies before acking it runs
//! again when its lease expires. Handlers should be idempotent.
//!
//! # Crates this one builds on
//!
//! `tokio` runs the workers; `redis` (with its connection manager, which
//! reconnects by itself) talks to Redis; `inventory` collects the handlers that
//! `#[job]` registers across the binary; `tracing` logs; `clap` parses the
//! command line of [`cli`]; `humantime` reads durations such as `90s`;
//! `chrono` formats the svc-infra timestamps.

#![warn(missing_docs)]

mod backoff;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
mod context;
mod error;
mod extract;
mod job;
mod payload;
pub mod queue;
mod registry;
pub mod scheduler;
mod shutdown;
mod typed;
mod worker;

pub use backoff::{Backoff, BackoffStrategy, MAX_DELAY};
pub use config::{ConfigError, Driver, JobsConfig, easy_jobs};
pub use context::JobContext;
pub use error::{EnqueueError, InvalidJob, QueueError, display_chain};
pub use extract::{Data, FromInvocation, StateRequirement};
pub use job::{DEFAULT_MAX_ATTEMPTS, Job, JobOptions, NewJob, validate_name};
pub use jobs_macros::{JobPayload, job};
pub use payload::Payload;
pub use queue::memory::InMemoryJobQueue;
#[cfg(feature = "redis")]
pub use queue::redis::RedisJobQueue;
pub use queue::{
    DEFAULT_DEAD_LETTER_LIMIT, DeadJob, DynQueue, Enqueued, FailOutcome, Failure, JobQueue, Lease, LeaseOutcome,
    QueueStats, Reserved,
};
pub use registry::error::{DispatchError, RegistryError};
pub use registry::registration::{Invocation, Origin};
pub use registry::result::{IntoJobResult, JobError, JobResult};
pub use registry::{DEFAULT_TIMEOUT_ENV, HandlerInfo, Registry, RegistryBuilder, default_timeout_from_env};
pub use scheduler::Scheduler;
pub use shutdown::shutdown_signal;
pub use typed::JobPayload;
pub use worker::{JobEvent, JobOutcome, StopReport, Worker, WorkerRunner, process_one};

/// Compiles the README's Rust examples as doc tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// The names most programs need: `use jobs::prelude::*;`.
pub mod prelude {
    pub use crate::{Data, JobContext, JobError, JobPayload, JobQueue, JobResult, Registry, WorkerRunner, job};
}

/// Runtime pieces for the code `#[job]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::extract::StateRequirement;
    pub use crate::extract::declared::{
        backoff_base_is, backoff_is_exponential, backoff_jitter_is, backoff_max_delay_is, duration_is, str_eq,
    };
    pub use crate::extract::handler::{
        ExtractorSlot, HandlerPayload, PayloadSlot, check_payload_of, decode_payload, extract, into_handler_result,
        name_of, options_of, require_send, state_of,
    };
    pub use crate::registry::registration::{BoxFuture, HandlerFailure, HandlerFn, JobRegistration, PayloadCheck};
    pub use crate::typed::{assert_payload, check_payload, decode};
    pub use inventory;
    pub use serde;
}
