use jobs::job;

#[job]
const RESIZE: &str = "resize";

fn main() {}
