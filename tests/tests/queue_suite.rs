//! One behaviour suite, run against the in-memory queue and against Redis.

use std::time::Duration;

use chrono::Utc;
use jobs::{
    Backoff, DEFAULT_DEAD_LETTER_LIMIT, Enqueued, FailOutcome, Failure, JobPayload, JobQueue, LeaseOutcome, NewJob,
    Payload, Reserved,
};
use jobs_tests::{Backend, TestQueue, backend_tests};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinSet;

const LONG_LEASE: Duration = Duration::from_secs(30);
const SHORT_LEASE: Duration = Duration::from_millis(400);

fn job(name: &str) -> NewJob {
    NewJob::new(name, json!({"n": 1}))
}

backend_tests!(
    enqueue_reserve_ack,
    reserve_is_fifo,
    reserved_job_not_handed_out_twice,
    empty_queue_reserves_nothing,
    delayed_job_waits_until_due,
    zero_and_past_delay_run_at_once,
    huge_delay_does_not_overflow,
    fail_schedules_retry_after_delay,
    huge_backoff_does_not_overflow,
    exhausted_job_is_dead_lettered_with_final_error,
    max_attempts_one_means_no_retry,
    max_attempts_zero_is_rejected,
    invalid_name_is_rejected,
    permanent_failure_dead_letters_at_once,
    expired_lease_requeues_job,
    stale_ack_after_requeue_has_no_effect,
    stale_fail_after_requeue_has_no_effect,
    expired_lease_on_last_attempt_dead_letters,
    extended_lease_is_not_requeued,
    release_returns_job_uncounted_first_in_line,
    per_job_visibility_timeout_applies,
    dead_letter_requeue_resets_attempts,
    dead_letter_requeue_all_and_purge,
    payload_text_survives_round_trip,
    options_survive_round_trip,
    reserve_many_takes_at_most_max,
    enqueue_many_assigns_distinct_ids,
    stats_count_each_state,
    unique_key_blocks_queued_duplicate,
    unique_key_blocks_running_duplicate,
    unique_key_held_while_delayed_or_retrying,
    unique_key_kept_by_released_job,
    unique_key_released_on_ack,
    unique_key_released_on_dead_letter,
    unique_key_expires_with_lease,
    unique_key_renewed_with_lease,
    unique_key_retaken_on_requeue_dead,
    enqueue_many_stops_at_duplicate,
    empty_unique_key_is_rejected,
    typed_payload_enqueues_unique,
    dead_job_reads_one_by_id,
    dead_letter_queue_keeps_newest_up_to_limit,
);

async fn enqueue_reserve_ack(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;

    let queued = queue.enqueue(job("a")).await.unwrap();
    assert_eq!(queued.attempts, 0);
    assert_eq!(queued.max_attempts, 5);
    assert_eq!(queued.backoff_seconds(), 60);
    assert_eq!(queued.last_error, None);

    let reserved = queue.reserve().await.unwrap().expect("the job is due");
    assert_eq!(reserved.job.id, queued.id);
    assert_eq!(reserved.job.name, "a");
    assert_eq!(reserved.job.attempts, 1);
    assert_eq!(reserved.lease.job_id(), queued.id);

    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(queue.job(&queued.id).await.unwrap(), None, "an acked job is deleted");
    assert!(queue.reserve().await.unwrap().is_none());
    assert_eq!(
        queue.ack(&reserved.lease).await.unwrap(),
        LeaseOutcome::Lost,
        "a second ack changes nothing"
    );
}

async fn reserve_is_fifo(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let mut ids = Vec::new();
    for name in ["first", "second", "third"] {
        ids.push(queue.enqueue(job(name)).await.unwrap().id);
    }

    let mut reserved = Vec::new();
    while let Some(next) = queue.reserve().await.unwrap() {
        reserved.push(next.job.id);
    }

    assert_eq!(reserved, ids);
}

async fn reserved_job_not_handed_out_twice(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let other_worker = test.reopen().await;
    test.queue.enqueue(job("a")).await.unwrap();

    let first = test.queue.reserve().await.unwrap();
    let second = other_worker.reserve().await.unwrap();

    assert!(first.is_some());
    assert!(second.is_none(), "an in-flight job was handed out again: {second:?}");
}

async fn empty_queue_reserves_nothing(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    assert!(test.queue.reserve().await.unwrap().is_none());
    assert!(test.queue.reserve_many(10).await.unwrap().is_empty());
}

async fn delayed_job_waits_until_due(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let before = Utc::now();

    let queued = queue
        .enqueue(job("later").delay(Duration::from_millis(600)))
        .await
        .unwrap();

    assert!(
        queued.available_at >= before + chrono::Duration::milliseconds(590),
        "{queued:?}"
    );
    assert!(
        queue.reserve().await.unwrap().is_none(),
        "a delayed job ran before it was due"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        queue.reserve().await.unwrap().is_none(),
        "a delayed job ran halfway through its delay"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    let reserved = queue.reserve().await.unwrap().expect("the delayed job is due");
    assert_eq!(reserved.job.id, queued.id);
}

async fn zero_and_past_delay_run_at_once(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;

    queue.enqueue(job("zero").delay(Duration::ZERO)).await.unwrap();
    queue
        .enqueue(job("past").run_at(Utc::now() - chrono::Duration::hours(2)))
        .await
        .unwrap();

    let first = queue.reserve().await.unwrap().expect("zero delay is due at once");
    let second = queue
        .reserve()
        .await
        .unwrap()
        .expect("a time in the past is due at once");
    assert_eq!(first.job.name, "zero");
    assert_eq!(second.job.name, "past");
}

async fn huge_delay_does_not_overflow(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;

    let queued = queue.enqueue(job("far").delay(Duration::MAX)).await.unwrap();

    assert!(queued.available_at > Utc::now() + chrono::Duration::days(365 * 50));
    assert!(queue.reserve().await.unwrap().is_none());
    assert_eq!(queue.stats().await.unwrap().delayed, 1);
}

async fn fail_schedules_retry_after_delay(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let queued = queue.enqueue(job("flaky")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    let before = Utc::now();

    let failure = Failure::Retry {
        error: "smtp timed out".into(),
        delay: Duration::from_millis(500),
    };
    let outcome = queue.fail(&reserved.lease, failure).await.unwrap();

    let FailOutcome::Retrying { at } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(
        at >= before + chrono::Duration::milliseconds(450),
        "retry at {at}, failed at {before}"
    );
    assert!(at <= Utc::now() + chrono::Duration::milliseconds(600), "retry at {at}");
    let stored = queue.job(&queued.id).await.unwrap().unwrap();
    assert_eq!(stored.last_error.as_deref(), Some("smtp timed out"));
    assert_eq!(stored.attempts, 1);
    assert!(
        queue.reserve().await.unwrap().is_none(),
        "retried before the backoff passed"
    );

    tokio::time::sleep(Duration::from_millis(650)).await;
    let again = queue.reserve().await.unwrap().expect("the retry is due");
    assert_eq!(again.job.attempts, 2);
    assert_eq!(again.job.last_error.as_deref(), Some("smtp timed out"));
}

async fn huge_backoff_does_not_overflow(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("a")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    let failure = Failure::Retry {
        error: "later".into(),
        delay: Duration::MAX,
    };
    let outcome = queue.fail(&reserved.lease, failure).await.unwrap();

    let FailOutcome::Retrying { at } = outcome else {
        panic!("expected a retry, got {outcome:?}");
    };
    assert!(at > Utc::now() + chrono::Duration::days(365 * 50));
    assert_eq!(queue.stats().await.unwrap().delayed, 1);
}

async fn exhausted_job_is_dead_lettered_with_final_error(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let queued = queue.enqueue(job("doomed").max_attempts(3)).await.unwrap();

    let mut outcomes = Vec::new();
    for attempt in 1..=3 {
        let reserved = queue.reserve().await.unwrap().expect("the job is due again");
        assert_eq!(reserved.job.attempts, attempt);
        let failure = Failure::Retry {
            error: format!("failure {attempt}"),
            delay: Duration::ZERO,
        };
        outcomes.push(queue.fail(&reserved.lease, failure).await.unwrap());
    }

    assert!(matches!(outcomes[0], FailOutcome::Retrying { .. }));
    assert!(matches!(outcomes[1], FailOutcome::Retrying { .. }));
    assert_eq!(outcomes[2], FailOutcome::DeadLettered);
    assert!(queue.reserve().await.unwrap().is_none());
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.id, queued.id);
    assert_eq!(dead[0].job.attempts, 3);
    assert_eq!(dead[0].job.last_error.as_deref(), Some("failure 3"));
    assert_eq!(dead[0].job.payload.to_value().unwrap(), json!({"n": 1}));
    assert!(dead[0].died_at.is_some());
}

async fn max_attempts_one_means_no_retry(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("once").max_attempts(1)).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    let failure = Failure::Retry {
        error: "boom".into(),
        delay: Duration::ZERO,
    };
    let outcome = queue.fail(&reserved.lease, failure).await.unwrap();

    assert_eq!(outcome, FailOutcome::DeadLettered);
    assert!(queue.reserve().await.unwrap().is_none());
}

async fn max_attempts_zero_is_rejected(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;

    let error = test.queue.enqueue(job("never").max_attempts(0)).await.unwrap_err();

    assert!(error.is_invalid());
    assert!(error.to_string().contains("max_attempts = 0"), "{error}");
    assert_eq!(
        error.into_job().unwrap().name,
        "never",
        "the rejected job is handed back"
    );
    assert_eq!(test.queue.stats().await.unwrap(), jobs::QueueStats::default());
}

async fn invalid_name_is_rejected(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;

    let empty = test.queue.enqueue(job("")).await.unwrap_err();
    let spaced = test.queue.enqueue(job("send email")).await.unwrap_err();

    assert!(empty.to_string().contains("empty"), "{empty}");
    assert!(spaced.to_string().contains("\"send email\""), "{spaced}");
    assert_eq!(test.queue.stats().await.unwrap(), jobs::QueueStats::default());
}

async fn permanent_failure_dead_letters_at_once(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("bad-input")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    let failure = Failure::Permanent {
        error: "payload names no user".into(),
    };
    let outcome = queue.fail(&reserved.lease, failure).await.unwrap();

    assert_eq!(outcome, FailOutcome::DeadLettered);
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead[0].job.attempts, 1);
    assert_eq!(dead[0].job.last_error.as_deref(), Some("payload names no user"));
}

async fn expired_lease_requeues_job(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let queued = queue.enqueue(job("slow")).await.unwrap();
    let first = queue.reserve().await.unwrap().unwrap();

    assert!(
        queue.reserve().await.unwrap().is_none(),
        "re-delivered before the lease expired"
    );
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let second = queue
        .reserve()
        .await
        .unwrap()
        .expect("the expired lease returns the job");

    assert_eq!(second.job.id, queued.id);
    assert_eq!(second.job.attempts, 2, "the expired attempt counts");
    assert_ne!(second.lease.token(), first.lease.token());
}

async fn stale_ack_after_requeue_has_no_effect(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let queued = queue.enqueue(job("slow")).await.unwrap();
    let stale = queue.reserve().await.unwrap().unwrap();
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let current = queue.reserve().await.unwrap().unwrap();

    assert_eq!(queue.ack(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    assert!(
        queue.job(&queued.id).await.unwrap().is_some(),
        "a stale ack deleted the job"
    );
    assert_eq!(queue.extend_lease(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    assert_eq!(queue.release(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    assert_eq!(queue.ack(&current.lease).await.unwrap(), LeaseOutcome::Done);
}

async fn stale_fail_after_requeue_has_no_effect(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("slow")).await.unwrap();
    let stale = queue.reserve().await.unwrap().unwrap();
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let current = queue.reserve().await.unwrap().unwrap();

    let failure = Failure::Permanent { error: "late".into() };
    assert_eq!(queue.fail(&stale.lease, failure).await.unwrap(), FailOutcome::LeaseLost);
    assert!(
        queue.dead_jobs(0, 10).await.unwrap().is_empty(),
        "a stale fail dead-lettered the job"
    );
    assert_eq!(queue.stats().await.unwrap().processing, 1);
    assert_eq!(queue.extend_lease(&current.lease).await.unwrap(), LeaseOutcome::Done);
}

async fn expired_lease_on_last_attempt_dead_letters(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("crasher").max_attempts(2)).await.unwrap();

    for _ in 0..2 {
        queue.reserve().await.unwrap().expect("the job is due");
        tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    }

    assert!(queue.reserve().await.unwrap().is_none());
    let dead = queue.dead_jobs(0, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job.attempts, 2);
    let error = dead[0].job.last_error.clone().unwrap_or_default();
    assert!(error.contains("lease expired"), "{error}");
}

async fn extended_lease_is_not_requeued(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    queue.enqueue(job("long")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    for _ in 0..4 {
        tokio::time::sleep(SHORT_LEASE / 2).await;
        assert_eq!(queue.extend_lease(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
        assert!(
            queue.reserve().await.unwrap().is_none(),
            "a renewed job was handed out again"
        );
    }

    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
}

async fn release_returns_job_uncounted_first_in_line(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let released_id = queue.enqueue(job("interrupted")).await.unwrap().id;
    queue.enqueue(job("waiting")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();

    assert_eq!(queue.release(&reserved.lease).await.unwrap(), LeaseOutcome::Done);

    let next = queue.reserve().await.unwrap().unwrap();
    assert_eq!(next.job.id, released_id, "a released job is next in line");
    assert_eq!(next.job.attempts, 1, "the interrupted attempt is not counted");
    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Lost);
}

async fn per_job_visibility_timeout_applies(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    queue
        .enqueue(job("quick-lease").visibility_timeout(SHORT_LEASE))
        .await
        .unwrap();

    let first = queue.reserve().await.unwrap().unwrap();
    assert_eq!(first.lease.visibility_timeout(), SHORT_LEASE);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;

    let second = queue
        .reserve()
        .await
        .unwrap()
        .expect("the job's own lease length applies");
    assert_eq!(second.job.attempts, 2);
}

async fn dead_letter_requeue_resets_attempts(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let id = queue.enqueue(job("fixable").max_attempts(1)).await.unwrap().id;
    let reserved = queue.reserve().await.unwrap().unwrap();
    queue
        .fail(&reserved.lease, Failure::Permanent { error: "bug".into() })
        .await
        .unwrap();

    assert!(queue.requeue_dead(&id).await.unwrap());
    assert!(!queue.requeue_dead(&id).await.unwrap(), "a job is requeued once");
    assert!(!queue.requeue_dead("no-such-id").await.unwrap());

    let again = queue.reserve().await.unwrap().expect("the requeued job is ready");
    assert_eq!(again.job.id, id);
    assert_eq!(again.job.attempts, 1);
    assert!(queue.dead_jobs(0, 10).await.unwrap().is_empty());
}

async fn dead_letter_requeue_all_and_purge(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    for _ in 0..3 {
        queue.enqueue(job("doomed").max_attempts(1)).await.unwrap();
    }
    for _ in 0..3 {
        let reserved = queue.reserve().await.unwrap().unwrap();
        queue
            .fail(&reserved.lease, Failure::Permanent { error: "x".into() })
            .await
            .unwrap();
    }
    assert_eq!(
        queue.dead_jobs(1, 10).await.unwrap().len(),
        2,
        "offset skips the newest"
    );

    assert_eq!(queue.requeue_all_dead().await.unwrap(), 3);
    assert_eq!(queue.stats().await.unwrap().ready, 3);
    for _ in 0..3 {
        let reserved = queue.reserve().await.unwrap().unwrap();
        queue
            .fail(&reserved.lease, Failure::Permanent { error: "y".into() })
            .await
            .unwrap();
    }
    assert_eq!(queue.purge_dead().await.unwrap(), 3);

    assert_eq!(queue.stats().await.unwrap(), jobs::QueueStats::default());
}

async fn payload_text_survives_round_trip(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let text = r#"{"msg":"café € 😀","big":340282366920938463463374607431768211455,"nested":{"a":[1,2.5,null]}}"#;
    queue
        .enqueue(NewJob::new("utf8", Payload::from_json(text).unwrap()))
        .await
        .unwrap();

    let reserved = queue.reserve().await.unwrap().unwrap();

    assert_eq!(reserved.job.payload.as_str(), text);
}

async fn options_survive_round_trip(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let backoff = Backoff::exponential(Duration::from_millis(1500), Duration::from_secs(600), true);
    let request = job("tuned")
        .max_attempts(9)
        .backoff(backoff)
        .visibility_timeout(Duration::from_secs(90));
    queue.enqueue(request).await.unwrap();

    let reserved = queue.reserve().await.unwrap().unwrap();

    assert_eq!(reserved.job.max_attempts, 9);
    assert_eq!(reserved.job.backoff, backoff);
    assert_eq!(reserved.job.visibility_timeout, Some(Duration::from_secs(90)));
    assert_eq!(reserved.lease.visibility_timeout(), Duration::from_secs(90));
}

async fn reserve_many_takes_at_most_max(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    for _ in 0..5 {
        queue.enqueue(job("bulk")).await.unwrap();
    }

    let first = queue.reserve_many(3).await.unwrap();
    let rest = queue.reserve_many(3).await.unwrap();

    assert_eq!(first.len(), 3);
    assert_eq!(rest.len(), 2);
    let mut ids: Vec<String> = first.iter().chain(&rest).map(|r| r.job.id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each job is reserved once");
}

async fn enqueue_many_assigns_distinct_ids(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let requests = (0..20).map(|n| NewJob::new("bulk", json!({ "n": n }))).collect();

    let queued = queue.enqueue_many(requests).await.unwrap();

    assert_eq!(queued.len(), 20);
    let mut ids: Vec<&str> = queued.iter().map(|job| job.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(queue.stats().await.unwrap().ready, 20);
    let first = queue.reserve().await.unwrap().unwrap();
    assert_eq!(first.job.payload.to_value().unwrap(), json!({"n": 0}));
}

async fn stats_count_each_state(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    for _ in 0..3 {
        queue.enqueue(job("a")).await.unwrap();
    }
    queue.enqueue(job("a").delay(Duration::from_secs(60))).await.unwrap();
    let first = queue.reserve().await.unwrap().unwrap();
    queue
        .fail(&first.lease, Failure::Permanent { error: "x".into() })
        .await
        .unwrap();
    queue.reserve().await.unwrap().unwrap();

    let stats = queue.stats().await.unwrap();

    assert_eq!(stats.ready, 1);
    assert_eq!(stats.delayed, 1);
    assert_eq!(stats.processing, 1);
    assert_eq!(stats.dead, 1);
}

fn unique(name: &str, key: &str) -> NewJob {
    job(name).unique_key(key)
}

/// Enqueues `request` and returns the stored job, failing the test on a duplicate.
async fn created(queue: &jobs::DynQueue, request: NewJob) -> jobs::Job {
    match queue.enqueue_unique(request).await.unwrap() {
        Enqueued::Created(job) => job,
        Enqueued::Duplicate { existing_id } => panic!("expected a new job, got a duplicate of job {existing_id}"),
    }
}

async fn unique_key_blocks_queued_duplicate(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;

    let first = created(queue, unique("invoice", "invoice-42")).await;
    let again = queue.enqueue_unique(unique("invoice", "invoice-42")).await.unwrap();
    let plain = queue.enqueue(unique("invoice", "invoice-42")).await.unwrap_err();
    let other = created(queue, unique("invoice", "invoice-43")).await;

    assert_eq!(first.unique_key.as_deref(), Some("invoice-42"));
    assert_eq!(
        again,
        Enqueued::Duplicate {
            existing_id: first.id.clone()
        }
    );
    assert!(plain.is_duplicate(), "{plain}");
    assert!(plain.to_string().contains(&format!("job {}", first.id)), "{plain}");
    assert_eq!(
        plain.into_job().unwrap().unique_key.as_deref(),
        Some("invoice-42"),
        "the duplicate is handed back"
    );
    assert_ne!(other.id, first.id);
    assert_eq!(queue.stats().await.unwrap().ready, 2, "no duplicate was stored");
    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(reserved.job.unique_key.as_deref(), Some("invoice-42"));
}

async fn unique_key_blocks_running_duplicate(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let first = created(queue, unique("report", "daily")).await;
    let running = queue.reserve().await.unwrap().unwrap();
    assert_eq!(running.job.id, first.id);

    let again = queue.enqueue_unique(unique("report", "daily")).await.unwrap();

    assert_eq!(again, Enqueued::Duplicate { existing_id: first.id });
    assert_eq!(queue.stats().await.unwrap().ready, 0);
}

async fn unique_key_held_while_delayed_or_retrying(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let delayed = created(queue, unique("later", "delayed").delay(Duration::from_secs(60))).await;
    let retried = created(queue, unique("flaky", "retried")).await;
    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(reserved.job.id, retried.id);
    let failure = Failure::Retry {
        error: "try later".into(),
        delay: Duration::from_secs(60),
    };
    queue.fail(&reserved.lease, failure).await.unwrap();

    // Past the failed attempt's lease deadline: the key of a job waiting for
    // its retry no longer expires with that lease.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;

    assert_eq!(
        queue.enqueue_unique(unique("later", "delayed")).await.unwrap(),
        Enqueued::Duplicate {
            existing_id: delayed.id
        }
    );
    assert_eq!(
        queue.enqueue_unique(unique("flaky", "retried")).await.unwrap(),
        Enqueued::Duplicate {
            existing_id: retried.id
        }
    );
    assert_eq!(queue.stats().await.unwrap().delayed, 2);
}

async fn unique_key_kept_by_released_job(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let first = created(queue, unique("interrupted", "k")).await;
    let reserved = queue.reserve().await.unwrap().unwrap();
    assert_eq!(queue.release(&reserved.lease).await.unwrap(), LeaseOutcome::Done);

    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;

    assert_eq!(
        queue.enqueue_unique(unique("interrupted", "k")).await.unwrap(),
        Enqueued::Duplicate { existing_id: first.id }
    );
}

async fn unique_key_released_on_ack(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let first = created(queue, unique("sync", "user-7")).await;
    let reserved = queue.reserve().await.unwrap().unwrap();

    assert_eq!(queue.ack(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    let second = created(queue, unique("sync", "user-7")).await;

    assert_ne!(second.id, first.id);
    assert_eq!(queue.stats().await.unwrap().ready, 1);
}

async fn unique_key_released_on_dead_letter(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let first = created(queue, unique("sync", "user-8").max_attempts(1)).await;
    let reserved = queue.reserve().await.unwrap().unwrap();
    let failure = Failure::Retry {
        error: "down".into(),
        delay: Duration::ZERO,
    };

    assert_eq!(
        queue.fail(&reserved.lease, failure).await.unwrap(),
        FailOutcome::DeadLettered
    );
    let second = created(queue, unique("sync", "user-8")).await;

    assert_ne!(second.id, first.id);
    let dead = queue.dead_job(&first.id).await.unwrap().expect("the first job is dead");
    assert_eq!(dead.job.unique_key.as_deref(), Some("user-8"));
}

async fn unique_key_expires_with_lease(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let crashed = created(queue, unique("sync", "user-9")).await;
    let stale = queue.reserve().await.unwrap().unwrap();

    // The worker died: its lease, and with it the key, expires.
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(200)).await;
    let replacement = created(queue, unique("sync", "user-9")).await;

    // The expired job still runs again, without the key its replacement holds.
    let mut next: Vec<Reserved> = queue.reserve_many(5).await.unwrap();
    next.sort_by_key(|reserved| reserved.job.id == crashed.id);
    let ids: Vec<&str> = next.iter().map(|reserved| reserved.job.id.as_str()).collect();
    assert_eq!(ids, [replacement.id.as_str(), crashed.id.as_str()]);
    assert_eq!(queue.ack(&stale.lease).await.unwrap(), LeaseOutcome::Lost);
    assert_eq!(queue.ack(&next[1].lease).await.unwrap(), LeaseOutcome::Done);
    assert_eq!(
        queue.enqueue_unique(unique("sync", "user-9")).await.unwrap(),
        Enqueued::Duplicate {
            existing_id: replacement.id.clone()
        },
        "acking the expired job released its replacement's key"
    );
    assert_eq!(queue.ack(&next[0].lease).await.unwrap(), LeaseOutcome::Done);
    created(queue, unique("sync", "user-9")).await;
}

async fn unique_key_renewed_with_lease(backend: Backend) {
    let test = TestQueue::open(backend, SHORT_LEASE).await;
    let queue = &test.queue;
    let first = created(queue, unique("long", "k")).await;
    let reserved = queue.reserve().await.unwrap().unwrap();

    for _ in 0..4 {
        tokio::time::sleep(SHORT_LEASE / 2).await;
        assert_eq!(queue.extend_lease(&reserved.lease).await.unwrap(), LeaseOutcome::Done);
    }

    assert_eq!(
        queue.enqueue_unique(unique("long", "k")).await.unwrap(),
        Enqueued::Duplicate { existing_id: first.id },
        "the key expired although the lease was renewed"
    );
}

async fn unique_key_retaken_on_requeue_dead(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let one = created(queue, unique("fixable", "one").max_attempts(1)).await;
    let two = created(queue, unique("fixable", "two").max_attempts(1)).await;
    for _ in 0..2 {
        let reserved = queue.reserve().await.unwrap().unwrap();
        queue
            .fail(&reserved.lease, Failure::Permanent { error: "bug".into() })
            .await
            .unwrap();
    }

    assert!(queue.requeue_dead(&one.id).await.unwrap());
    assert_eq!(queue.requeue_all_dead().await.unwrap(), 1);

    assert_eq!(
        queue.enqueue_unique(unique("fixable", "one")).await.unwrap(),
        Enqueued::Duplicate { existing_id: one.id }
    );
    assert_eq!(
        queue.enqueue_unique(unique("fixable", "two")).await.unwrap(),
        Enqueued::Duplicate { existing_id: two.id }
    );
}

async fn enqueue_many_stops_at_duplicate(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let requests = vec![unique("a", "k1"), unique("b", "k2"), unique("c", "k1"), job("d")];

    let error = queue.enqueue_many(requests).await.unwrap_err();

    let jobs::EnqueueError::Duplicate { existing_id, job } = error else {
        panic!("expected a duplicate, got {error:?}");
    };
    assert_eq!(job.name, "c");
    let holder = queue.job(&existing_id).await.unwrap().expect("the key's holder exists");
    assert_eq!(holder.name, "a");
    assert_eq!(
        queue.stats().await.unwrap().ready,
        2,
        "the jobs after the duplicate are not queued"
    );
}

async fn empty_unique_key_is_rejected(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;

    let error = test.queue.enqueue_unique(unique("a", "")).await.unwrap_err();

    assert!(error.is_invalid(), "{error}");
    assert!(error.to_string().contains("empty unique key"), "{error}");
    assert_eq!(test.queue.stats().await.unwrap(), jobs::QueueStats::default());
}

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "invoice.send", max_attempts = 4)]
struct SendInvoice {
    invoice: u64,
}

async fn typed_payload_enqueues_unique(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;

    let first = SendInvoice { invoice: 42 }
        .enqueue_unique(queue, "invoice-42")
        .await
        .unwrap();
    let second = SendInvoice { invoice: 42 }
        .enqueue_unique(queue, "invoice-42")
        .await
        .unwrap();

    let Enqueued::Created(job) = first else {
        panic!("expected a new job, got {first:?}");
    };
    assert_eq!(job.name, "invoice.send");
    assert_eq!(job.max_attempts, 4);
    assert_eq!(job.unique_key.as_deref(), Some("invoice-42"));
    assert_eq!(second, Enqueued::Duplicate { existing_id: job.id });
}

async fn dead_job_reads_one_by_id(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let doomed = queue.enqueue(job("doomed").max_attempts(1)).await.unwrap();
    let waiting = queue.enqueue(job("waiting")).await.unwrap();
    let reserved = queue.reserve().await.unwrap().unwrap();
    queue
        .fail(
            &reserved.lease,
            Failure::Permanent {
                error: "bad input".into(),
            },
        )
        .await
        .unwrap();

    let dead = queue.dead_job(&doomed.id).await.unwrap().expect("the job is dead");

    assert_eq!(dead.job.id, doomed.id);
    assert_eq!(dead.job.name, "doomed");
    assert_eq!(dead.job.attempts, 1);
    assert_eq!(dead.job.last_error.as_deref(), Some("bad input"));
    assert_eq!(dead.job.payload.to_value().unwrap(), json!({"n": 1}));
    assert!(dead.died_at.is_some());
    assert_eq!(
        queue.dead_job(&waiting.id).await.unwrap(),
        None,
        "a ready job is not dead"
    );
    assert_eq!(queue.dead_job("12345").await.unwrap(), None);
    assert!(queue.requeue_dead(&doomed.id).await.unwrap());
    assert_eq!(
        queue.dead_job(&doomed.id).await.unwrap(),
        None,
        "a requeued job is not dead"
    );
}

async fn dead_letter_queue_keeps_newest_up_to_limit(backend: Backend) {
    let test = TestQueue::open(backend, LONG_LEASE).await;
    let queue = &test.queue;
    let extra = 5;
    let total = DEFAULT_DEAD_LETTER_LIMIT + extra;
    let requests = (0..total)
        .map(|n| NewJob::new("doomed", json!({ "n": n })).max_attempts(1))
        .collect();
    let queued = queue.enqueue_many(requests).await.unwrap();
    let reserved = queue.reserve_many(total).await.unwrap();
    assert_eq!(reserved.len(), total);

    // The first jobs die one by one, so they are the oldest dead jobs; the
    // rest die concurrently to keep the test short.
    let failure = || Failure::Permanent { error: "gone".into() };
    for oldest in &reserved[..extra + 1] {
        queue.fail(&oldest.lease, failure()).await.unwrap();
    }
    for chunk in reserved[extra + 1..].chunks(500) {
        let mut fails = JoinSet::new();
        for item in chunk {
            let (queue, lease) = (queue.clone(), item.lease.clone());
            fails.spawn(async move { queue.fail(&lease, failure()).await });
        }
        while let Some(outcome) = fails.join_next().await {
            assert_eq!(outcome.unwrap().unwrap(), FailOutcome::DeadLettered);
        }
    }

    assert_eq!(queue.stats().await.unwrap().dead, DEFAULT_DEAD_LETTER_LIMIT as u64);
    for dropped in &queued[..extra] {
        assert_eq!(
            queue.dead_job(&dropped.id).await.unwrap(),
            None,
            "job {} was kept",
            dropped.id
        );
        assert_eq!(
            queue.job(&dropped.id).await.unwrap(),
            None,
            "job {} was kept",
            dropped.id
        );
    }
    let oldest_kept = queue.dead_job(&queued[extra].id).await.unwrap();
    assert!(oldest_kept.is_some(), "a job within the limit was deleted");
    let newest = queue.dead_jobs(0, 1).await.unwrap();
    assert_eq!(newest.len(), 1);
}
