use jobs::{JobPayload, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "resize")]
struct Resize {
    width: u32,
}

#[job(name = "resize")]
async fn resize(_image: Resize) {}

fn main() {}
