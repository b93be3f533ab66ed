//! Stop signals: the first asks for a graceful stop, a second forces an exit.

use tracing::warn;

use crate::shutdown::shutdown_signal;

/// Waits for SIGINT or SIGTERM and returns its name.
pub(super) async fn stop_signal() -> Result<&'static str, String> {
    shutdown_signal()
        .await
        .map_err(|error| format!("failed to listen for stop signals: {error}"))
}

/// Exits the process at a second stop signal, without waiting for running jobs.
/// Their leases expire and other workers run them again.
pub(super) fn exit_on_second_signal() {
    tokio::spawn(async {
        if let Ok(signal) = shutdown_signal().await {
            warn!(
                signal,
                "second stop signal; exiting now, running jobs return to the queue when their leases expire"
            );
            std::process::exit(130);
        }
    });
}
