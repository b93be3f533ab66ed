//! Extractors, the handler parameters after the payload, and the runtime
//! pieces of the code `#[job]` generates.

pub(crate) mod handler;
