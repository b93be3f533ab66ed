use jobs::JobPayload;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "resize")]
struct Resize<T> {
    width: T,
}

fn main() {}
