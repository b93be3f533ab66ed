//! The `#[job]` attribute of the `jobs` crate. Use it through `jobs::job`: the
//! code it generates names items of `jobs`.

mod codegen;
mod config;
mod derive;
mod duration;
mod errors;
mod expand;
mod keys;
mod options;
mod signature;

use proc_macro::TokenStream;

/// Declares an `async fn` as the handler of a job and its payload type as a
/// [`JobPayload`](../jobs/trait.JobPayload.html).
#[proc_macro_attribute]
pub fn job(args: TokenStream, input: TokenStream) -> TokenStream {
    expand::job(args.into(), input.into()).into()
}

/// Implements `JobPayload` for a payload type from its `#[job(...)]` attribute.
#[proc_macro_derive(JobPayload, attributes(job))]
pub fn derive_job_payload(input: TokenStream) -> TokenStream {
    derive::job_payload(input.into()).into()
}
