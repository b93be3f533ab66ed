//! Runnable examples of the `jobs` crate.
//!
//! - `cargo run -p examples --bin quickstart` enqueues a few typed jobs, runs a
//!   worker until each is settled and prints what happened.
//! - `cargo run -p examples --bin worker -- run` is a long-running worker over
//!   the same handlers; `worker -- enqueue NAME JSON` feeds it.

pub mod demo;
pub mod handlers;

/// Forces the linker to keep this crate's handlers in a binary that names
/// nothing else from it. `inventory` registrations live in the object files
/// of the crate, which the linker drops when no symbol of theirs is used.
pub fn link_handlers() {}
