use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

struct ImageStore;

#[job]
async fn resize(_image: Resize, _store: ImageStore) {}

fn main() {}
