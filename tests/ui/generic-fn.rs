use jobs::job;
use serde::Serialize;
use serde::de::DeserializeOwned;

#[job]
async fn resize<T: Serialize + DeserializeOwned>(_image: T) {}

fn main() {}
