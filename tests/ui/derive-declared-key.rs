use jobs::JobPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "resize", declared)]
struct Resize {
    width: u32,
}

fn main() {}
