use jobs::{JobPayload, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "resize", max_attempts = 3, timeout = "30s")]
struct Resize {
    width: u32,
}

#[job(declared, name = "resize_image", max_attempts = 3, timeout = "1m")]
async fn resize(_image: Resize) {}

fn main() {}
