use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

struct Images;

impl Images {
    #[job]
    async fn resize(&self, _image: Resize) {}
}

fn main() {}
