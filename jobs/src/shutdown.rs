//! Waiting for the signals that ask a service to stop.

/// Waits for SIGINT (Ctrl-C) or SIGTERM, the signal Docker, systemd and
/// Kubernetes send, and returns its name. On other platforms it waits for Ctrl-C.
///
/// ```no_run
/// # async fn demo(worker: jobs::Worker) -> std::io::Result<()> {
/// let signal = jobs::shutdown_signal().await?;
/// eprintln!("{signal}: stopping");
/// worker.stop(std::time::Duration::from_secs(30)).await;
/// # Ok(()) }
/// ```
pub async fn shutdown_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| "SIGINT"),
            _ = terminate.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "ctrl-c")
    }
}
