use jobs::{Data, FromInvocation, Invocation, JobContext, JobError, job};
use serde::{Deserialize, Serialize};

struct Database {
    url: String,
}

/// An extractor defined outside `jobs`: the attempt number as a plain value.
struct Attempt(u32);

impl FromInvocation for Attempt {
    fn from_invocation(invocation: &Invocation) -> Result<Self, JobError> {
        Ok(Attempt(invocation.context().attempt()))
    }
}

#[derive(Serialize, Deserialize)]
struct WithContext {
    id: u64,
}

#[job]
async fn with_context(_job: WithContext, context: JobContext) {
    let _ = (context.id(), context.attempt(), context.last_error(), context.cancellation());
}

#[derive(Serialize, Deserialize)]
struct WithData {
    id: u64,
}

#[job]
async fn with_data(_job: WithData, database: Data<Database>) {
    let _ = database.url.len();
}

#[derive(Serialize, Deserialize)]
struct WithAll {
    id: u64,
}

#[job]
async fn with_all(_job: WithAll, database: Data<Database>, context: JobContext, attempt: Attempt) {
    let _ = (database.url.len(), context.attempt(), attempt.0);
}

fn main() {}
