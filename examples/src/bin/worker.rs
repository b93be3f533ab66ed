//! A long-running worker over the example handlers.
//!
//! ```text
//! cargo run -p examples --bin worker -- run --concurrency 8
//! cargo run -p examples --bin worker -- enqueue resize_image '{"path": "a.png", "width": 640}'
//! cargo run -p examples --bin worker -- jobs
//! ```
//!
//! `enqueue`, `stats` and `dlq` need `JOBS_DRIVER=redis`: with the default
//! in-memory driver each process has its own queue, so they refuse to run.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    examples::link_handlers();
    jobs::cli::Cli::new().run().await
}
