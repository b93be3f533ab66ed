//! A running job's slot, and the hand-off of its ack to the fetch loop.
//!
//! A job that succeeds hands its lease to the fetch loop and frees its slot
//! at once. The loop takes the free slot, and acks the lease and reserves the
//! slot's next job with one [`JobQueue::ack_and_reserve`] call: one round
//! trip per batch instead of an ack call followed by a reserve call. The job
//! still waits for its ack's outcome before it reports its event, so a
//! stopping worker waits for the ack too. When the loop cannot send the ack
//! (it is waiting on an idle queue, backing off after errors, its call
//! failed, or it has stopped) the job acks on its own.

use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;

use tracing::warn;

use crate::error::{QueueError, display_chain};
use crate::queue::{JobQueue, Lease, LeaseOutcome};

/// A lease handed to the fetch loop, and the channel for its outcome.
pub(super) struct AckRequest {
    pub(super) lease: Lease,
    pub(super) outcome: AckReply,
}

/// The slot a job runs in: its permit, the way to the fetch loop, and when
/// the reserve call that leased the job was sent.
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    acks: Option<mpsc::UnboundedSender<AckRequest>>,
    reserved_at: Instant,
}

impl Slot {
    /// A slot of a worker's pool, whose acks go through the fetch loop.
    pub(super) fn pooled(
        permit: OwnedSemaphorePermit,
        acks: mpsc::UnboundedSender<AckRequest>,
        reserved_at: Instant,
    ) -> Self {
        Self {
            permit: Some(permit),
            acks: Some(acks),
            reserved_at,
        }
    }

    /// A slot outside any pool, which acks directly.
    pub(super) fn direct(reserved_at: Instant) -> Self {
        Self {
            permit: None,
            acks: None,
            reserved_at,
        }
    }

    /// When the reserve call that leased the job was sent. The queue's lease
    /// started no earlier, so a deadline counted from here is never late.
    pub(super) fn reserved_at(&self) -> Instant {
        self.reserved_at
    }

    /// Acks `lease`: through the fetch loop, freeing the slot as soon as the
    /// loop has the lease, or directly when the loop does not take it.
    ///
    /// Also returns whether the direct ack followed a hand-off that failed: the
    /// loop's call may have sent the ack and it may have taken effect, so the
    /// direct ack is a resend.
    pub(super) async fn ack<Q: JobQueue + ?Sized>(
        &mut self,
        queue: &Q,
        lease: &Lease,
    ) -> (Result<LeaseOutcome, QueueError>, bool) {
        let mut handed_off = false;
        if let Some(acks) = &self.acks {
            let (outcome, received) = oneshot::channel();
            let request = AckRequest {
                lease: lease.clone(),
                outcome,
            };
            if acks.send(request).is_ok() {
                // The permit is dropped after the send, so the loop that
                // takes the slot finds the lease waiting.
                self.permit = None;
                match received.await {
                    Ok(HandOff::Acked(outcome)) => return (Ok(outcome), false),
                    Ok(HandOff::NotSent) => {}
                    // The loop dropped the request with its call in flight,
                    // or its call failed after it may have reached the queue.
                    Ok(HandOff::MayHaveSent) | Err(_) => handed_off = true,
                }
            }
        }
        (queue.ack(lease).await, handed_off)
    }
}

/// What became of a lease handed to the fetch loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HandOff {
    /// The loop acked it, with this outcome.
    Acked(LeaseOutcome),
    /// The loop never sent the ack, so the job acks on its own for the first time.
    NotSent,
    /// The loop's call failed but may have reached the queue, so the job's
    /// own ack is a resend.
    MayHaveSent,
}

/// The reply channel of an [`AckRequest`].
pub(super) type AckReply = oneshot::Sender<HandOff>;

/// Answers the jobs of one `ack_and_reserve` call, in the order of their
/// leases: each with its outcome or, when the acks failed, with whether the
/// call may have sent them, so each job acks on its own and reports its own
/// error.
pub(super) fn answer(replies: Vec<AckReply>, acked: Result<Vec<LeaseOutcome>, QueueError>) {
    match acked {
        Ok(outcomes) if outcomes.len() == replies.len() => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(HandOff::Acked(outcome));
            }
        }
        Ok(outcomes) => {
            warn!(
                leases = replies.len(),
                outcomes = outcomes.len(),
                "the queue returned a different number of ack outcomes than it was sent leases; acking each job on its own"
            );
            send_all(replies, HandOff::MayHaveSent);
        }
        Err(error) => {
            warn!(error = %display_chain(&error), "failed to ack finished jobs; acking each job on its own");
            let reply = if error.may_have_applied() {
                HandOff::MayHaveSent
            } else {
                HandOff::NotSent
            };
            send_all(replies, reply);
        }
    }
}

/// Asks each job, whose ack the loop never sent, to ack on its own.
pub(super) fn decline(replies: impl IntoIterator<Item = AckReply>) {
    send_all(replies, HandOff::NotSent);
}

fn send_all(replies: impl IntoIterator<Item = AckReply>, reply: HandOff) {
    for sender in replies {
        let _ = sender.send(reply);
    }
}
