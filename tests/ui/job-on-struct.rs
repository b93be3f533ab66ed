use jobs::job;

#[job(name = "resize")]
struct Resize {
    width: u32,
}

fn main() {}
