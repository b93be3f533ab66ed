use jobs::{JobPayload, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Resize {
    width: u32,
}

/// The attribute keeps the function as written, so tests can call it.
#[job(name = "resize")]
pub(crate) async fn resize(image: Resize) -> Result<(), String> {
    if image.width == 0 { Err("width is zero".to_owned()) } else { Ok(()) }
}

#[derive(Serialize, Deserialize)]
struct Reserved {
    id: u64,
}

// A raw identifier names the job without its `r#` prefix.
#[job]
async fn r#type(_job: Reserved) {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(resize(Resize { width: 0 }).await, Err("width is zero".to_owned()));
    assert_eq!(resize(Resize { width: 10 }).await, Ok(()));
    assert_eq!(Resize::NAME, "resize");
    assert_eq!(Reserved::NAME, "type");
    r#type(Reserved { id: 1 }).await;

    // A handler and its payload type may also be declared inside a function body.
    #[derive(Serialize, Deserialize)]
    struct Local {
        id: u64,
    }

    #[job(name = "local")]
    async fn local(_job: Local) {}
    assert_eq!(Local::NAME, "local");
    local(Local { id: 1 }).await;
}
