use jobs::job;
use serde::Serialize;

#[derive(Serialize)]
struct Resize {
    width: u32,
}

#[job]
async fn resize(_image: Resize) {}

fn main() {}
