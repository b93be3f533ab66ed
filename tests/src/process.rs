//! Worker processes started by tests.

use std::process::{Child, Command};

/// Stops `child` with SIGTERM and waits for it.
///
/// # Panics
///
/// When `kill` fails or the process exits with a failure status.
pub fn terminate(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM failed");
    let exit = child.wait().expect("wait for the worker");
    assert!(exit.success(), "the worker exits 0 after SIGTERM: {exit}");
}
