use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(retries = 3)]
async fn resize(_image: Resize) {}

fn main() {}
