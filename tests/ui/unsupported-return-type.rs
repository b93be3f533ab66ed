use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job]
async fn resize(image: Resize) -> u32 {
    image.width
}

fn main() {}
