//! Stop signals: the first asks for a graceful stop, a second forces an exit.

use tracing::warn;

/// Waits for SIGINT or SIGTERM and returns its name.
pub(super) async fn stop_signal() -> Result<&'static str, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|error| format!("failed to listen for SIGTERM: {error}"))?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result
                .map(|()| "SIGINT")
                .map_err(|error| format!("failed to listen for SIGINT: {error}")),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map(|()| "ctrl-c")
            .map_err(|error| format!("failed to listen for ctrl-c: {error}"))
    }
}

/// Exits the process at a second stop signal, without waiting for running jobs.
/// Their leases expire and other workers run them again.
pub(super) fn exit_on_second_signal() {
    tokio::spawn(async {
        if let Ok(signal) = stop_signal().await {
            warn!(
                signal,
                "second stop signal; exiting now, running jobs return to the queue when their leases expire"
            );
            std::process::exit(130);
        }
    });
}
