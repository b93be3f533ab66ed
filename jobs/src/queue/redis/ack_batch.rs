//! Acks in batches: concurrent `ack` calls on one queue share script calls.
//!
//! Each `ack` hands its lease to one background task per queue and waits for
//! the outcome. The task takes every lease waiting (up to [`BATCH_LIMIT`]),
//! sends them in one call of the ack script and answers each caller. There is
//! no timer: a lone ack is sent at once, and acks that arrive while a call is
//! in flight go together in the next one. So an ack waits at most for one
//! call in flight and its own, each bounded by the response timeout, and a
//! caller that awaits its ack, as the worker does, knows its outcome before
//! it stops. Under load a batch fills while the previous call runs, which
//! saves one script call and one round trip per job.

use std::sync::{Mutex, PoisonError};

use redis::RedisError;
use tokio::sync::{mpsc, oneshot};

use super::connection::Connection;
use super::keys::Keys;
use super::scripts::ACK;
use super::{BATCH_LIMIT, RedisJobQueue, redis_error};
use crate::error::QueueError;
use crate::queue::{Lease, LeaseOutcome};

/// One lease waiting to be acked, and where its outcome goes.
struct PendingAck {
    job_id: String,
    token: String,
    outcome: oneshot::Sender<Result<LeaseOutcome, RedisError>>,
}

/// The sending side of a queue's ack task, started on the first ack.
#[derive(Default)]
pub(super) struct AckBatcher {
    sender: Mutex<Option<mpsc::UnboundedSender<PendingAck>>>,
}

impl AckBatcher {
    /// Hands `pending` to the ack task, and starts the task when there is
    /// none or when it stopped, which happens when the runtime that ran it
    /// shut down.
    fn submit(&self, pending: PendingAck, connection: &Connection, keys: &Keys) {
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = match sender.as_ref() {
            Some(running) => match running.send(pending) {
                Ok(()) => return,
                Err(mpsc::error::SendError(pending)) => pending,
            },
            None => pending,
        };
        let (started, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(connection.clone(), keys.clone(), receiver));
        started
            .send(pending)
            .unwrap_or_else(|_| unreachable!("the ack task was just started"));
        *sender = Some(started);
    }
}

impl RedisJobQueue {
    pub(super) async fn ack_lease(&self, lease: &Lease) -> Result<LeaseOutcome, QueueError> {
        let (outcome, received) = oneshot::channel();
        let pending = PendingAck {
            job_id: lease.job_id().to_owned(),
            token: lease.token().to_owned(),
            outcome,
        };
        self.acks.submit(pending, &self.connection, &self.keys);
        match received.await {
            Ok(outcome) => outcome.map_err(redis_error("ack")),
            // The task was dropped with its runtime before it answered, so
            // send this ack on its own.
            Err(_) => {
                let mut outcomes = self.ack_leases(&[lease]).await?;
                Ok(outcomes.pop().unwrap_or(LeaseOutcome::Lost))
            }
        }
    }

    /// Acks `leases` in script calls of up to [`BATCH_LIMIT`] leases each,
    /// without the ack task. Returns one outcome per lease, in order.
    pub(super) async fn ack_leases(&self, leases: &[&Lease]) -> Result<Vec<LeaseOutcome>, QueueError> {
        let mut outcomes = Vec::with_capacity(leases.len());
        let mut connection = self.connection.clone();
        for chunk in leases.chunks(BATCH_LIMIT) {
            let pairs = chunk.iter().map(|lease| (lease.job_id(), lease.token()));
            let done = call_ack(&mut connection, &self.keys, pairs)
                .await
                .map_err(redis_error("ack"))?;
            outcomes.extend(done);
        }
        Ok(outcomes)
    }
}

/// The ack task: sends the waiting leases in batches until every queue
/// handle that could submit one is dropped.
async fn run(mut connection: Connection, keys: Keys, mut receiver: mpsc::UnboundedReceiver<PendingAck>) {
    let mut batch = Vec::with_capacity(BATCH_LIMIT);
    while receiver.recv_many(&mut batch, BATCH_LIMIT).await > 0 {
        let pairs = batch
            .iter()
            .map(|pending| (pending.job_id.as_str(), pending.token.as_str()));
        let result = call_ack(&mut connection, &keys, pairs).await;
        match result {
            Ok(outcomes) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    // A caller that stopped waiting no longer needs the outcome.
                    let _ = pending.outcome.send(Ok(outcome));
                }
            }
            Err(error) => {
                for pending in batch.drain(..) {
                    let _ = pending.outcome.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Calls the ack script once for the `(job id, token)` pairs and returns one
/// outcome per pair.
async fn call_ack<'a>(
    connection: &mut Connection,
    keys: &Keys,
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<LeaseOutcome>, RedisError> {
    let expected = pairs.len();
    let mut invocation = ACK.prepare_invoke();
    invocation
        .key(&keys.processing)
        .key(&keys.processing_vt)
        .key(&keys.job_prefix)
        .key(&keys.unique_prefix);
    for (job_id, token) in pairs {
        invocation.arg(job_id).arg(token);
    }
    let done: Vec<u8> = invocation.invoke_async(connection).await?;
    if done.len() != expected {
        return Err(RedisError::from((
            redis::ErrorKind::UnexpectedReturnType,
            "the ack script returned a different number of outcomes than it was sent leases",
        )));
    }
    Ok(done
        .into_iter()
        .map(|done| {
            if done == 1 {
                LeaseOutcome::Done
            } else {
                LeaseOutcome::Lost
            }
        })
        .collect())
}
