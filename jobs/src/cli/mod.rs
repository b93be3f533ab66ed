//! Subcommands an application mounts in its `main`: `run`, `jobs`,
//! `enqueue`, `stats` and `dlq`.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     jobs::cli::Cli::new().run().await
//! }
//! ```
//!
//! The queue comes from `JOBS_DRIVER`, `REDIS_URL` and `JOBS_REDIS_PREFIX`, as
//! for [`easy_jobs`](crate::easy_jobs). Errors go to standard error and the
//! exit status is 1 for a failed command and 2 for bad usage.

mod args;
mod commands;
mod dlq;
mod signal;
mod target;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

use crate::config::{Driver, JobsConfig};
use crate::registry::Registry;
use crate::registry::error::RegistryError;
use args::{Command, CommandLine};

type RegistryFactory = Box<dyn FnOnce() -> Result<Registry, RegistryError> + Send>;

/// The command-line entry point of a worker binary.
pub struct Cli {
    registry: RegistryFactory,
}

impl Default for Cli {
    fn default() -> Self {
        Self::new()
    }
}

impl Cli {
    /// A command line over every `#[job]` handler linked into the binary.
    pub fn new() -> Self {
        Self {
            registry: Box::new(Registry::from_inventory),
        }
    }

    /// Uses `registry` instead, for handlers that need state or were registered by hand.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Box::new(move || Ok(registry));
        self
    }

    /// Parses the process's arguments and runs the command.
    pub async fn run(self) -> ExitCode {
        self.run_from(std::env::args_os()).await
    }

    /// Parses `args` (the first item is the program name) and runs the command.
    pub async fn run_from<I, T>(self, args: I) -> ExitCode
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let command_line = match CommandLine::try_parse_from(args) {
            Ok(parsed) => parsed,
            Err(error) => {
                let _ = error.print();
                return if error.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        match self.execute(command_line.command).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        }
    }

    async fn execute(self, command: Command) -> Result<(), String> {
        let registry = || (self.registry)().map_err(|error| error.to_string());
        match command {
            Command::Run(args) => {
                init_logging();
                commands::run(&config()?, registry()?, args).await
            }
            Command::Jobs => commands::list_jobs(&registry()?),
            Command::Enqueue(args) => commands::enqueue(&shared_config()?, &registry()?, args).await,
            Command::Stats => commands::stats(&shared_config()?).await,
            Command::Dlq(command) => dlq::execute(&shared_config()?, command).await,
        }
    }
}

fn config() -> Result<JobsConfig, String> {
    JobsConfig::from_env().map_err(|error| error.to_string())
}

/// The configuration of a one-shot command, which must reach a queue that
/// outlives the process: the in-memory queue would vanish when it exits.
/// Prints the queue it names to standard error, which keeps standard output
/// machine-readable.
fn shared_config() -> Result<JobsConfig, String> {
    let config = config()?;
    if config.driver == Driver::Memory {
        return Err(format!(
            "{}, so the queue lives only in this process and is gone when the command exits; set \
             JOBS_DRIVER=redis and REDIS_URL to reach the workers' queue",
            target::memory_driver_source()
        ));
    }
    eprintln!("using {}", target::describe_queue(&config));
    Ok(config)
}

/// Logs to standard error through `tracing`, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
