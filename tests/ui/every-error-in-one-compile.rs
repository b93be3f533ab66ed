use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(name = "", max_attempts = 0, timeout = "soon", retries = 3, jitter)]
async fn resize(_image: Resize) {}

fn main() {}
