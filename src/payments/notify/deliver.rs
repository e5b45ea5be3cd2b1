//! One merchant's due notices sent, and a pass over every merchant at once.

use super::{backoff_ms, sign, Notice, LEASE_MARGIN_MS, NOTIFICATION_ID_HEADER, SIGNATURE_HEADER};
use crate::payments::http::{self, PostError};
use crate::payments::ledger::{Ledger, LedgerError};
use std::time::Duration;

/// Notices one merchant's worker claims at a time: all of them are sent within the lease.
const PER_MERCHANT: i64 = 10;
/// Merchants with notices due looked at in one pass.
pub(crate) const MERCHANTS_PER_PASS: i64 = 256;
/// The most of a merchant's answer read: only its status matters, and a huge or endless
/// body must not cost memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// Sends `merchant_id`'s notices due at `now` (UTC ms), claimed for this node, one after
/// the other; returns (delivered, failed). After a failure that says the endpoint is
/// unreachable (no connection, a time-out), the rest of the batch is put off with the
/// same back-off rather than each costing a time-out.
pub async fn deliver_merchant<L: Ledger>(
    ledger: &L,
    merchant_id: &str,
    now: i64,
    timeout: Duration,
) -> Result<(u32, u32), LedgerError> {
    let mut counts = (0, 0);
    let lease_until = now + PER_MERCHANT * timeout.as_millis() as i64 + LEASE_MARGIN_MS;
    let notices = ledger.claim_due_notifications(now, lease_until, PER_MERCHANT, Some(merchant_id)).await?;
    let mut unreachable: Option<String> = None;
    for n in notices {
        let error = match &unreachable {
            Some(e) => Some(format!("not tried: {e}")),
            None => match post_one(ledger, &n, now, timeout).await? {
                Attempt::Delivered => None,
                Attempt::Refused(e) => Some(e),
                Attempt::Unreachable(e) => {
                    unreachable = Some(e.clone());
                    Some(e)
                }
            },
        };
        match error {
            None => {
                if !ledger.notification_attempted(&n, true, now, None).await? {
                    tracing::warn!(notification = %n.id, "notification delivered after its claim lapsed");
                }
                counts.0 += 1;
            }
            Some(error) => {
                let next = now + backoff_ms(n.attempts);
                tracing::info!(notification = %n.id, merchant = %n.merchant_id, attempts = n.attempts + 1, %error, "notification not acknowledged; will retry");
                ledger.notification_attempted(&n, false, next, Some(&error)).await?;
                counts.1 += 1;
            }
        }
    }
    Ok(counts)
}

/// What one POST of a notice came to.
enum Attempt {
    /// A 2xx answer.
    Delivered,
    /// Another answer, or one that broke off: retried later.
    Refused(String),
    /// No connection or no answer in time: the merchant's other notices wait too.
    Unreachable(String),
}

/// One signed POST of a notice.
async fn post_one<L: Ledger>(ledger: &L, n: &Notice, now: i64, timeout: Duration) -> Result<Attempt, LedgerError> {
    let secret = ledger.notification_secret(&n.merchant_id).await?.unwrap_or_default();
    let signature = sign(&secret, now / 1000, &n.payload);
    let headers = [(SIGNATURE_HEADER, signature.as_str()), (NOTIFICATION_ID_HEADER, n.id.as_str())];
    Ok(match http::post_limited(&n.url, &headers, n.payload.as_bytes(), timeout, MAX_RESPONSE_BYTES).await {
        Ok((s, _)) if (200..300).contains(&s) => Attempt::Delivered,
        Ok((s, _)) => Attempt::Refused(format!("HTTP {s}")),
        Err(e @ (PostError::Connect(_) | PostError::Timeout)) => Attempt::Unreachable(e.to_string()),
        Err(e) => Attempt::Refused(e.to_string()),
    })
}

/// One pass over every merchant with notices due at `now`, the merchants concurrently;
/// returns (delivered, failed). The running server uses [`super::run`], which does not
/// wait for a slow merchant before serving the others again; this is for tools and tests.
pub async fn deliver_due<L: Ledger>(ledger: &L, now: i64, timeout: Duration) -> Result<(u32, u32), LedgerError> {
    let merchants = ledger.due_notification_merchants(now, MERCHANTS_PER_PASS).await?;
    let passes = merchants.iter().map(|m| deliver_merchant(ledger, m, now, timeout));
    let mut counts = (0, 0);
    for r in futures_util::future::join_all(passes).await {
        let (d, f) = r?;
        counts = (counts.0 + d, counts.1 + f);
    }
    Ok(counts)
}
