use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job(name = "resize")]
async fn resize(_image: Resize) {}

#[job(name = "resize_again")]
async fn resize_again(_image: Resize) {}

fn main() {}
