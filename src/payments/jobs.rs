//! The payments' background jobs, run periodically by the server until shutdown:
//! recovery of payments left PENDING, the capture run, and invoice expiry. It must not
//! know SIP, calls or the server's lifecycle (it is handed a shutdown signal).

use super::ledger::Ledger;
use std::time::Duration;
use tokio::sync::watch;

/// How old a PENDING payment must be before recovery touches it: longer than the
/// authorization, the lookup and a reversal can take, so a payment still in flight in
/// a call (on this node or another sharing the database) is left to its call.
pub fn recovery_min_age(gateway_timeout: Duration) -> Duration {
    gateway_timeout * 3 + Duration::from_secs(1)
}

/// Runs, periodically until shutdown: recovery of payments left PENDING, the capture
/// run, and invoice expiry.
pub async fn capture_runs<L: Ledger>(
    ledger: L,
    gateway: crate::payments::gateway::Gateway,
    every: Duration,
    min_age: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // One instant for the whole run: recovery, capture and expiry agree on it.
                let now = ledger.now_ms();
                match crate::payments::recovery::recover_pending_at(&ledger, &gateway, min_age, now).await {
                    Ok(done) if done.is_empty() => {}
                    Ok(done) => tracing::info!(resolved = done.len(), "recovery of pending payments"),
                    Err(e) => tracing::error!(error = %e, "recovery of pending payments failed"),
                }
                match ledger.run_capture(now).await {
                    Ok((0, 0)) => {}
                    Ok((captured, expired)) => tracing::info!(captured, expired, "capture run"),
                    Err(e) => tracing::error!(error = %e, "capture run failed"),
                }
                if let Err(e) = ledger.expire_due(now).await {
                    tracing::error!(error = %e, "invoice expiry failed");
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
