use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(max_attempts = 4294967296)]
async fn resize(_image: Resize) {}

fn main() {}
