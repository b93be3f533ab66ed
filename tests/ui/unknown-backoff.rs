use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(backoff = "fibonacci")]
async fn resize(_image: Resize) {}

fn main() {}
