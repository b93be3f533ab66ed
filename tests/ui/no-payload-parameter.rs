use jobs::job;

#[job(name = "nightly_cleanup")]
async fn cleanup() {}

fn main() {}
