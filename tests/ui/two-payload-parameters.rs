use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[derive(Serialize, Deserialize)]
struct Crop {
    height: u32,
}

#[job]
async fn resize(_image: Resize, _crop: Crop) {}

fn main() {}
