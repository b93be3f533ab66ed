use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(backoff = "linear", max_backoff = "1h")]
async fn resize(_image: Resize) {}

fn main() {}
