use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(name = "")]
async fn resize(_image: Resize) {}

fn main() {}
