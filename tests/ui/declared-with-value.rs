use jobs::{JobPayload, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "resize")]
struct Resize {
    width: u32,
}

#[job(declared = true)]
async fn resize(_image: Resize) {}

fn main() {}
