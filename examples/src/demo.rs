//! The jobs of the quickstart: one that succeeds, one that fails twice and then
//! succeeds, one that always fails and ends in the dead-letter queue, and one
//! that is enqueued with a delay.

use jobs::{JobContext, JobError, job};
use serde::{Deserialize, Serialize};

/// Resizes an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResizeImage {
    /// The image file.
    pub path: String,
    /// The target width in pixels.
    pub width: u32,
}

/// Succeeds on the first attempt.
#[job(name = "resize_image")]
pub async fn resize_image(image: ResizeImage) {
    tracing::info!(path = %image.path, width = image.width, "image resized");
}

/// Pulls the stock levels of one warehouse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncInventory {
    /// The warehouse code.
    pub warehouse: String,
}

/// Fails on its first two attempts, as a flaky upstream would, then succeeds.
#[job(name = "sync_inventory", max_attempts = 5, backoff_seconds = 1)]
pub async fn sync_inventory(sync: SyncInventory, context: JobContext) -> Result<(), String> {
    if context.attempt() <= 2 {
        return Err(format!("warehouse {} did not answer within 5 s", sync.warehouse));
    }
    Ok(())
}

/// Charges a card.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeCard {
    /// The card token.
    pub card: String,
    /// The amount in cents.
    pub cents: u64,
}

/// Always fails, so after three attempts the job sits in the dead-letter queue.
#[job(name = "charge_card", max_attempts = 3, backoff_seconds = 1)]
pub async fn charge_card(charge: ChargeCard, context: JobContext) -> Result<(), JobError> {
    Err(JobError::retry(format!(
        "card {} declined {} cents on attempt {}",
        charge.card,
        charge.cents,
        context.attempt()
    )))
}

/// Reminds a user of something.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReminder {
    /// The user to remind.
    pub user_id: u64,
}

/// Succeeds; the quickstart enqueues it with a delay.
#[job(name = "send_reminder", timeout = "10s")]
pub async fn send_reminder(reminder: SendReminder) {
    tracing::info!(user_id = reminder.user_id, "reminder sent");
}
