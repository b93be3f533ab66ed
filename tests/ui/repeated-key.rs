use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(timeout = "30s", timeout = "60s")]
async fn resize(_image: Resize) {}

fn main() {}
