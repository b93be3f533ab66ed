use jobs::{JobError, JobResult, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Unit {
    id: u64,
}

#[job]
async fn unit(_job: Unit) {}

#[derive(Serialize, Deserialize)]
struct Explicit {
    id: u64,
}

#[job]
async fn explicit_unit(_job: Explicit) -> () {}

#[derive(Serialize, Deserialize)]
struct WithIoError {
    id: u64,
}

#[job]
async fn io_error(_job: WithIoError) -> Result<(), std::io::Error> {
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct WithStringError {
    id: u64,
}

#[job]
async fn string_error(_job: WithStringError) -> Result<(), String> {
    Err("no retry will help".to_owned())
}

#[derive(Serialize, Deserialize)]
struct WithJobError {
    id: u64,
}

#[job]
async fn job_error(_job: WithJobError) -> Result<(), JobError> {
    Err(JobError::permanent("bad address"))
}

#[derive(Serialize, Deserialize)]
struct WithResult {
    id: u64,
}

#[job]
async fn job_result(_job: WithResult) -> JobResult {
    JobResult::success("done")
}

#[derive(Serialize, Deserialize)]
struct WithResultOrError {
    id: u64,
}

#[job]
async fn job_result_or_error(_job: WithResultOrError) -> Result<JobResult, std::fmt::Error> {
    Ok(JobResult::failure("try again"))
}

fn main() {}
