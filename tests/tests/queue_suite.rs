//! One behaviour suite, run against the in-memory queue and against Redis.

use std::time::Duration;

use chrono::Utc;
use jobs::{Backoff, FailOutcome, Failure, JobQueue, LeaseOutcome, NewJob, Payload};
use jobs_tests::{Backend, TestQueue, backend_tests};
use serde_json::json;

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
