//! Handlers for payload types declared in the `shared-payloads` crate, which
//! producer services enqueue without linking this code.

use jobs::{JobContext, job};
use shared_payloads::GenerateReport;

/// Renders the report. The name and options come from `GenerateReport`'s own
/// `#[job(...)]`. Writing `max_attempts` here again is optional, and the
/// crate compiles only while it matches that declaration.
#[job(declared, max_attempts = 4)]
pub async fn generate_report(report: GenerateReport, context: JobContext) -> Result<(), String> {
    if report.month.len() != 7 {
        return Err(format!("month {:?} is not in the form YYYY-MM", report.month));
    }
    tracing::info!(
        job.id = context.id(),
        account_id = report.account_id,
        month = %report.month,
        "report generated"
    );
    Ok(())
}
