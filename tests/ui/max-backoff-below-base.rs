use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(backoff = "exponential", backoff_seconds = 120, max_backoff = "1m")]
async fn resize(_image: Resize) {}

fn main() {}
