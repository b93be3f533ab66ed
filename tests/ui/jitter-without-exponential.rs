use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(backoff_seconds = 10, jitter = true)]
async fn resize(_image: Resize) {}

fn main() {}
