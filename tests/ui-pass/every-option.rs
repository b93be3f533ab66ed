use std::time::Duration;

use jobs::{Backoff, JobOptions, JobPayload, job};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Defaults {
    id: u64,
}

#[job]
async fn defaults(_job: Defaults) {}

#[derive(Serialize, Deserialize)]
struct Linear {
    id: u64,
}

#[job(
    name = "reports.linear:v2",
    max_attempts = 7,
    timeout = "1h 30m",
    backoff = "linear",
    backoff_seconds = 15,
    visibility_timeout = "5m"
)]
async fn linear(_job: Linear) {}

#[derive(Serialize, Deserialize)]
struct Exponential {
    id: u64,
}

#[job(
    name = "reports-exponential",
    backoff = "exponential",
    backoff_seconds = 2,
    max_backoff = "10m",
    jitter = true,
    timeout = "500ms"
)]
async fn exponential(_job: Exponential) {}

#[derive(Serialize, Deserialize)]
struct BareJitter {
    id: u64,
}

#[job(backoff = "exponential", jitter)]
async fn bare_jitter(_job: BareJitter) {}

fn main() {
    assert_eq!(Defaults::NAME, "defaults");
    assert_eq!(Defaults::OPTIONS, JobOptions::DEFAULT);

    assert_eq!(Linear::NAME, "reports.linear:v2");
    let expected = JobOptions::DEFAULT
        .max_attempts(7)
        .timeout(Duration::from_secs(90 * 60))
        .backoff(Backoff::linear(Duration::from_secs(15)))
        .visibility_timeout(Duration::from_secs(300));
    assert_eq!(Linear::OPTIONS, expected);

    assert_eq!(Exponential::NAME, "reports-exponential");
    let expected = JobOptions::DEFAULT
        .timeout(Duration::from_millis(500))
        .backoff(Backoff::exponential(Duration::from_secs(2), Duration::from_secs(600), true));
    assert_eq!(Exponential::OPTIONS, expected);

    let expected = Backoff::exponential(Duration::from_secs(60), Backoff::DEFAULT_MAX_DELAY, true);
    assert_eq!(BareJitter::OPTIONS.backoff, expected);
}
