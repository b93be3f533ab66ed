use std::time::Duration;

use jobs::{JobPayload, job};
use serde::{Deserialize, Serialize};

/// Declared where producers can use it without linking the handler.
mod shared {
    use jobs::JobPayload;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize, JobPayload)]
    #[job(
        name = "invoice.send",
        max_attempts = 4,
        timeout = "2m",
        backoff = "exponential",
        backoff_seconds = 5,
        max_backoff = "1h",
        jitter,
        visibility_timeout = "10m"
    )]
    pub struct SendInvoice {
        pub id: u64,
    }
}

#[job(declared)]
async fn send_invoice(_invoice: shared::SendInvoice) {}

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "receipt.send", max_attempts = 2)]
struct SendReceipt {
    id: u64,
}

// Every key written on a declared handler must match the declaration.
#[job(
    declared,
    name = "receipt.send",
    max_attempts = 2,
    backoff = "linear",
    backoff_seconds = 60
)]
async fn send_receipt(_receipt: SendReceipt) {}

#[derive(Serialize, Deserialize, JobPayload)]
#[job(name = "refund.send", timeout = "90s", backoff = "exponential", max_backoff = "30m", jitter = false)]
enum SendRefund {
    Full { id: u64 },
    Partial { id: u64, cents: u64 },
}

#[job(declared, timeout = "1m 30s", backoff = "exponential", max_backoff = "30m", jitter = false)]
async fn send_refund(_refund: SendRefund) {}

fn main() {
    assert_eq!(shared::SendInvoice::NAME, "invoice.send");
    assert_eq!(shared::SendInvoice::OPTIONS.max_attempts, 4);
    assert_eq!(shared::SendInvoice::OPTIONS.timeout, Some(Duration::from_secs(120)));
    assert_eq!(SendRefund::NAME, "refund.send");
    let _ = SendRefund::Partial { id: 1, cents: 2 };
    let _ = SendRefund::Full { id: 1 };
}
