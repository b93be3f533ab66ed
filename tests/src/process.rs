//! Worker processes started by tests.

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command};

/// A worker process that is killed when the test ends, so a failed assertion
/// leaves no worker running.
pub struct WorkerProcess(pub Child);

impl Deref for WorkerProcess {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for WorkerProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
