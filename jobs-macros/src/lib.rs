//! The `#[job]` attribute and `#[derive(JobPayload)]` of the `jobs` crate.
//! Use them through `jobs::job` and `jobs::JobPayload`: the code they
//! generate names items of `jobs`.

mod codegen;
mod config;
mod derive;
mod duration;
mod errors;
mod expand;
mod keys;
mod options;
mod parameters;
mod signature;
mod types;

use proc_macro::TokenStream;

/// Declares an `async fn` as the handler of a job.
///
/// The first parameter is the payload, a type that implements `Serialize` and
/// `Deserialize`, taken by value; [Parameters](#parameters) lists the rules.
/// The attribute leaves the function as written, so code and tests can still
/// call it, and adds two things beside it:
///
/// - an implementation of `jobs::JobPayload` for the payload type, with the job
///   name and options, so the payload can be enqueued with `.enqueue(&queue)`;
/// - a registration that `Registry::from_inventory` collects: a function that
///   decodes the payload, builds the other parameters, calls the handler and
///   converts what it returns.
///
/// ```standalone_crate
/// use jobs::{InMemoryJobQueue, JobPayload, Registry, job, process_one};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct SendEmail {
///     to: String,
/// }
///
/// #[job(name = "send_email", max_attempts = 5, timeout = "60s")]
/// async fn send_email(email: SendEmail) -> Result<(), std::io::Error> {
///     println!("sending to {}", email.to);
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = InMemoryJobQueue::new();
/// SendEmail { to: "ada@example.com".into() }.enqueue(&queue).await?;
///
/// let registry = Registry::from_inventory()?;
/// let event = process_one(&queue, &registry).await?.expect("one job is due");
/// assert_eq!(event.outcome, jobs::JobOutcome::Succeeded);
/// # Ok(()) }
/// ```
///
/// # Options
///
/// Every option is read when the crate compiles: an invalid value is a
/// compile error at that value, and durations become `Duration` constants.
/// A duration is a string of numbers with units, which add up: `"500ms"`,
/// `"90s"`, `"5m"`, `"1h 30m"` or `"2d"`; zero is rejected.
///
/// | key | value | default |
/// | --- | --- | --- |
/// | `name` | ASCII letters, digits, `_`, `-`, `.` and `:` | the function's name |
/// | `max_attempts` | an integer of at least 1 | 5 |
/// | `timeout` | a duration such as `"500ms"`, `"90s"`, `"5m"` or `"1h 30m"` | the registry's default, `JOB_DEFAULT_TIMEOUT_SECONDS` |
/// | `backoff` | `"linear"` or `"exponential"` | `"linear"` |
/// | `backoff_seconds` | the base delay in whole seconds | 60 |
/// | `max_backoff` | the cap of exponential backoff, a duration | `"1h"` |
/// | `jitter` | `true`, `false`, or bare `jitter` for `true`; exponential backoff only | `false` |
/// | `visibility_timeout` | the lease length, a duration | the queue's |
/// | `declared` | no value; see [Payload types declared elsewhere](#payload-types-declared-elsewhere) | |
///
/// Each option stands for a call on `JobOptions::DEFAULT`. These two payload
/// types get the same options, one from the attribute and one by hand:
///
/// ```
/// use std::time::Duration;
///
/// use jobs::{Backoff, JobOptions, JobPayload, job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Export {
///     table: String,
/// }
///
/// #[job(
///     name = "export",
///     max_attempts = 3,
///     timeout = "90s",
///     backoff = "exponential",
///     backoff_seconds = 5,
///     max_backoff = "10m",
///     jitter = true,
///     visibility_timeout = "5m"
/// )]
/// async fn export(export: Export) {}
///
/// #[derive(Serialize, Deserialize)]
/// struct ExportByHand {
///     table: String,
/// }
///
/// impl JobPayload for ExportByHand {
///     const NAME: &'static str = "export_by_hand";
///     const OPTIONS: JobOptions = JobOptions::DEFAULT
///         .max_attempts(3)
///         .timeout(Duration::from_secs(90))
///         .backoff(Backoff::exponential(Duration::from_secs(5), Duration::from_secs(600), true))
///         .visibility_timeout(Duration::from_secs(300));
/// }
///
/// assert_eq!(Export::NAME, "export");
/// assert_eq!(Export::OPTIONS, ExportByHand::OPTIONS);
/// ```
///
/// `backoff = "linear"` with `backoff_seconds = N` stands for
/// `Backoff::linear(Duration::from_secs(N))`, and `max_backoff` or `jitter`
/// without `backoff = "exponential"` is an error. A key that is not written
/// keeps the value of `JobOptions::DEFAULT`:
///
/// ```
/// use std::time::Duration;
///
/// use jobs::{Backoff, JobOptions, JobPayload, job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Cleanup {
///     days: u32,
/// }
///
/// #[job(backoff_seconds = 30)]
/// async fn nightly_cleanup(cleanup: Cleanup) {}
///
/// assert_eq!(Cleanup::NAME, "nightly_cleanup");
/// assert_eq!(Cleanup::OPTIONS, JobOptions::DEFAULT.backoff(Backoff::linear(Duration::from_secs(30))));
/// ```
///
/// # Parameters
///
/// The first parameter is the payload. It is decoded from the job's JSON
/// afresh for each attempt, so the handler takes it by value, `image: Resize`
/// and not `image: &Resize`. Without `declared`, the payload type must be a
/// struct or enum defined in the handler's crate, because the attribute
/// implements `JobPayload` for it to give it the job's name. A primitive, a
/// standard library type such as `String` or `Vec<u8>`, a tuple, an array or
/// `serde_json::Value` is a compile error that shows a struct to wrap it in.
/// A payload type without `Serialize` or `Deserialize` gets serde's errors at
/// the payload type.
///
/// After the payload a handler takes any number of extractors, types that
/// implement `jobs::FromInvocation`:
///
/// - `jobs::JobContext`: the job's id, its attempt number (1 on the first
///   run), the error of the previous attempt and a cancellation signal;
/// - `jobs::Data<T>`: state given to the registry with
///   `Registry::builder().state(value)`, such as a database pool or an HTTP
///   client. Building the registry fails, naming the handler and `T`, when a
///   handler takes `Data<T>` and no `T` was given. `Data<T>` holds the value
///   in an `Arc`, so a handler takes `Data<Pool>`, not `Arc<Pool>`; give the
///   registry an `Arc` it should share with `Registry::builder().shared_state(arc)`.
///
/// An extractor written before the payload, an `Arc<T>` parameter and a
/// reference parameter are compile errors that show the parameter to write.
///
/// ```standalone_crate
/// use jobs::{Data, JobContext, Registry, job};
/// use serde::{Deserialize, Serialize};
///
/// struct HttpClient {
///     base_url: String,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct Notify {
///     user_id: u64,
/// }
///
/// #[job(name = "notify")]
/// async fn notify(notify: Notify, client: Data<HttpClient>, context: JobContext) -> Result<(), String> {
///     if let Some(error) = context.last_error() {
///         println!("attempt {} after: {error}", context.attempt());
///     }
///     println!("POST {}/users/{}/notify", client.base_url, notify.user_id);
///     Ok(())
/// }
///
/// # fn main() -> Result<(), jobs::RegistryError> {
/// let registry = Registry::builder()
///     .state(HttpClient { base_url: "https://api.example.com".into() })
///     .from_inventory()?;
/// assert!(registry.has_handler("notify"));
/// # Ok(()) }
/// ```
///
/// # Return types
///
/// A handler returns `()`, `jobs::JobResult`, `Result<(), E>` or
/// `Result<jobs::JobResult, E>` for any `E: Display`. An `Err`, a
/// `JobResult` with `success: false` and a panic are failed attempts, retried
/// with backoff until `max_attempts`. Return `Err(JobError::permanent(..))`
/// from a `Result<_, jobs::JobError>` to send the job to the dead-letter queue
/// at once.
///
/// # One handler per payload type
///
/// A payload type stands for one job: its `JobPayload` implementation holds
/// the job name that `.enqueue(&queue)` uses, and the worker decodes that
/// job for one handler. A second `#[job]` handler of the same type is a
/// second implementation, which rustc rejects with error E0119,
/// "conflicting implementations of trait `JobPayload`", pointing at both
/// payload types:
///
/// ```compile_fail,E0119
/// use jobs::job;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Invoice {
///     id: u64,
/// }
///
/// #[job]
/// async fn send_invoice(invoice: Invoice) {}
///
/// #[job]
/// async fn archive_invoice(invoice: Invoice) {}
/// ```
///
/// Give each job its own payload type. A newtype around the shared data is
/// enough, and serde encodes it as the data itself:
///
/// ```
/// use jobs::{JobPayload, job};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Invoice {
///     id: u64,
/// }
///
/// #[derive(Serialize, Deserialize)]
/// struct SendInvoice(Invoice);
///
/// #[derive(Serialize, Deserialize)]
/// struct ArchiveInvoice(Invoice);
///
/// #[job]
/// async fn send_invoice(SendInvoice(invoice): SendInvoice) {
///     println!("sending invoice {}", invoice.id);
/// }
///
/// #[job]
/// async fn archive_invoice(ArchiveInvoice(invoice): ArchiveInvoice) {
///     println!("archiving invoice {}", invoice.id);
/// }
///
/// assert_eq!(SendInvoice::NAME, "send_invoice");
/// assert_eq!(ArchiveInvoice::NAME, "archive_invoice");
/// ```
///
/// To declare a job where it is enqueued and handle it in another crate,
/// see [Payload types declared elsewhere](#payload-types-declared-elsewhere).
///
/// # Synchronous functions
///
/// `#[job]` on a function without `async` is a compile error. The worker
/// enforces `timeout` by dropping the handler's future, which takes effect
/// only when the future yields at an `.await`. Blocking code does not yield,
/// so no timeout could interrupt it, and it would hold one of the runtime's
/// threads meanwhile. Blocking work belongs in `tokio::task::spawn_blocking`,
/// awaited from an `async fn` handler. The timeout and the worker's shutdown
/// then stop the wait, but not the thread: the blocking closure runs to its
/// end even after the handler is dropped.
///
/// ```
/// use jobs::job;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct CountLines {
///     path: String,
/// }
///
/// fn count_lines(path: &str) -> std::io::Result<usize> {
///     Ok(std::fs::read_to_string(path)?.lines().count())
/// }
///
/// #[job(timeout = "5m")]
/// async fn count(job: CountLines) -> Result<(), String> {
///     let lines = tokio::task::spawn_blocking(move || count_lines(&job.path))
///         .await
///         .map_err(|panic| panic.to_string())?
///         .map_err(|error| error.to_string())?;
///     println!("{lines} lines");
///     Ok(())
/// }
/// ```
///
/// # Payload types declared elsewhere
///
/// A service that only enqueues jobs should not link their handlers. Declare
/// the payload type in a crate that both sides share, with
/// `#[derive(JobPayload)]` and `#[job(...)]` on the type, which takes the keys
/// above except `declared` and requires `name`. The worker then registers a
/// handler with `#[job(declared)]`, which takes the name and options from the
/// payload type instead of implementing `JobPayload` again. Any other key
/// written beside `declared` must match the payload's declaration, or the
/// crate does not compile:
///
/// ```standalone_crate
/// mod shared {
///     use jobs::JobPayload;
///     use serde::{Deserialize, Serialize};
///
///     #[derive(Serialize, Deserialize, JobPayload)]
///     #[job(name = "invoice.send", max_attempts = 3)]
///     pub struct SendInvoice {
///         pub id: u64,
///     }
/// }
///
/// use jobs::{JobPayload, Registry, job};
///
/// #[job(declared, max_attempts = 3)]
/// async fn send_invoice(invoice: shared::SendInvoice) {}
///
/// # fn main() -> Result<(), jobs::RegistryError> {
/// assert_eq!(shared::SendInvoice::NAME, "invoice.send");
/// assert!(Registry::from_inventory()?.has_handler("invoice.send"));
/// # Ok(()) }
/// ```
///
/// # Limits
///
/// The attribute goes on a free `async fn` with no generic parameters. It
/// rejects methods that take `self`; an associated function without `self`
/// inside an `impl` block is not detected, and fails to compile with errors
/// about the generated items.
///
/// The checks on parameter types read the types as written, before rustc
/// resolves them: primitives, `String`, `Vec<..>` and the other common
/// standard library names, paths under `std::`, `serde::` or `serde_json::`,
/// and `JobContext` or `Data<..>` under any path. A type imported under
/// another name gets rustc's error instead: for a payload type from another
/// crate, the orphan rule rejects the `JobPayload` implementation (E0117),
/// and `declared` is the way.
#[proc_macro_attribute]
pub fn job(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::job(args.into(), input.into()).into()
}

/// Implements `jobs::JobPayload` for a payload type from its `#[job(...)]`
/// attribute, so crates that only enqueue the job need not link its handler.
///
/// The attribute takes `name`, which is required, and the options of
/// `#[job]`. The type must implement `Serialize` and `Deserialize` and have
/// no generic parameters. The worker registers its handler with
/// `#[job(declared)]`.
///
/// ```
/// use std::time::Duration;
///
/// use jobs::JobPayload;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, JobPayload)]
/// #[job(name = "thumbnail", max_attempts = 2, timeout = "30s")]
/// struct Thumbnail {
///     image_id: u64,
/// }
///
/// assert_eq!(Thumbnail::NAME, "thumbnail");
/// assert_eq!(Thumbnail::OPTIONS.timeout, Some(Duration::from_secs(30)));
/// ```
#[proc_macro_derive(JobPayload, attributes(job))]
pub fn derive_job_payload(input: TokenStream) -> TokenStream {
    derive::job_payload(input.into()).into()
}
