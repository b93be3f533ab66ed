use jobs::JobPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(max_attempts = 3)]
struct Resize {
    width: u32,
}

fn main() {}
