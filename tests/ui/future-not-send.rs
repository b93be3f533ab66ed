use std::rc::Rc;

use jobs::job;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

#[job]
async fn resize(image: Resize) {
    let width = Rc::new(image.width);
    tokio::task::yield_now().await;
    println!("{width}");
}

fn main() {}
