//! A long-running worker over the example handlers.
//!
//! ```text
//! cargo run -p examples --bin worker -- run --concurrency 8
//! cargo run -p examples --bin worker -- enqueue resize_image '{"path": "a.png", "width": 640}'
//! cargo run -p examples --bin worker -- jobs
//! ```
//!
//! With the default in-memory driver, `enqueue` and `run` are separate
//! processes and share nothing; use `JOBS_DRIVER=redis` to feed a running worker.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    examples::link_handlers();
    jobs::cli::Cli::new().run().await
}
