use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job]
async fn resize(_image: Resize, _log: impl std::fmt::Display) {}

fn main() {}
