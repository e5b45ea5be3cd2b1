//! Recording what the platform said about a payment, and resolving payments whose
//! outcome was never recorded (a lost answer, a crash between sending and recording).
//!
//! The rules, each decision written as a history row:
//! - The platform answered: record it. An authorization is recorded as the invoice's
//!   payment only if the invoice can still be paid by it; if the merchant cancelled the
//!   invoice (or it was paid) meanwhile, the authorization is **reversed** at the
//!   platform: cancelled while TO_CAPTURE, refunded if the platform already captured
//!   it. A TO_VALIDATE authorization cannot be cancelled (Sips table): it is recorded
//!   without paying the invoice, left unvalidated, and expires on its capture day with
//!   nothing captured.
//! - No answer (or a broken one): ask `getTransactionData`. Found: record the
//!   platform's status. Unknown (25): right after the request ([`Grace::Running`]) the
//!   platform may still be processing it and authorize it later, so the payment stays
//!   PENDING (holding its invoice); once older than the grace period ([`Grace::Over`],
//!   recovery's `min_age`), nothing was charged: closed as REFUSED with code 97.
//! - The platform cannot be asked (the diagnostic fails or its answer fails the seal):
//!   the outcome cannot be known, so the authorization is **reversed** with a full
//!   cancel. Accepted: it existed and is now cancelled. 25: it does not exist (yet: the
//!   same grace applies). Anything else: it stays PENDING and is asked about again at
//!   the next recovery round.
//!
//! [`recover_pending`] runs at start and periodically (the server's capture loop), on
//! payments older than the grace period (`server::recovery_min_age`: three gateway
//! time-outs), so one still in flight is never touched and one the platform has not
//! heard of by then is taken as never charged.

use super::card::Brand;
use super::cash::{self, Amounts, Operation};
use super::gateway::{AuthorizationResponse, CashRequest, Gateway, GatewayError, Lookup, TransactionData};
use super::ledger::{Ledger, LedgerError};
use super::money::Currency;
use crate::payments::merchant::CaptureMode;
use crate::payments::status::TransactionStatus;
use crate::payments::transaction::{Answer, Completion, Transaction};
use std::time::Duration;

/// A payment sent (or about to be) whose outcome is not recorded yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight<'a> {
    /// Its transactionReference.
    pub reference: &'a str,
    /// AUTHOR_CAPTURE or VALIDATION, as sent.
    pub capture_mode: CaptureMode,
    /// Minor units, as sent.
    pub amount: i64,
    /// As sent (a reversal names it too).
    pub currency: Currency,
}

impl<'a> InFlight<'a> {
    /// The in-flight view of a stored PENDING transaction.
    pub fn of(t: &'a Transaction) -> InFlight<'a> {
        InFlight { reference: &t.reference, capture_mode: t.capture_mode, amount: t.amount, currency: t.currency }
    }
}

/// Whether "unknown to the platform" (responseCode 25) may be taken for "not charged".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grace {
    /// The request was sent moments ago: the platform may still be processing it and
    /// authorize it later. Unknown keeps the payment PENDING.
    Running,
    /// The payment is older than the grace period: unknown means never charged.
    Over,
}

/// The status an accepted authorization starts in, by capture mode.
pub fn success_status(capture_mode: CaptureMode) -> TransactionStatus {
    match capture_mode {
        CaptureMode::Validation => TransactionStatus::ToValidate,
        CaptureMode::AuthorCapture => TransactionStatus::ToCapture,
    }
}

/// Records the platform's answer to an authorization or a duplicate (reversing it if
/// its invoice can no longer be paid by it).
pub async fn record_answer<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    resp: &AuthorizationResponse,
    actor: &str,
    detail: &str,
) -> Result<(), LedgerError> {
    let status = if resp.accepted() { success_status(p.capture_mode) } else { TransactionStatus::Refused };
    record_status(ledger, gateway, p, status, resp, actor, detail).await
}

fn answer(status: TransactionStatus, resp: &AuthorizationResponse) -> Answer<'_> {
    Answer {
        status,
        response_code: &resp.response_code,
        acquirer_response_code: &resp.acquirer_response_code,
        authorisation_id: resp.authorisation_id.as_deref(),
    }
}

async fn record_status<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    status: TransactionStatus,
    resp: &AuthorizationResponse,
    actor: &str,
    detail: &str,
) -> Result<(), LedgerError> {
    if let Some(brand) = Brand::from_sips(&resp.brand) {
        // The platform's word on the brand beats our guess from the number.
        ledger.set_pending_brand(p.reference, brand).await?;
    }
    let answer = answer(status, resp);
    let detail =
        format!("{detail}: responseCode {} acquirerResponseCode {}", resp.response_code, resp.acquirer_response_code);
    match ledger.complete_payment(p.reference, &answer, actor, &detail).await? {
        Completion::Recorded | Completion::NotPending => Ok(()),
        Completion::InvoiceNotPayable { invoice_status } => {
            let why = format!("{detail}; but its invoice is {} and cannot be paid by it", invoice_status.as_str());
            reverse_authorized(ledger, gateway, p, &answer, actor, &why).await
        }
    }
}

/// Reverses an authorization the platform holds whose invoice cannot be paid by it.
async fn reverse_authorized<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    answer: &Answer<'_>,
    actor: &str,
    why: &str,
) -> Result<(), LedgerError> {
    let op = match answer.status {
        TransactionStatus::ToCapture => Operation::Cancel,
        TransactionStatus::Captured => Operation::Refund,
        _ => {
            // TO_VALIDATE: the Sips table allows no cancel; not validating it is the
            // reversal (it expires on its capture day, nothing is captured).
            let after = Amounts { status: answer.status, current: p.amount, refunded: 0 };
            let kept = "not validated: it expires unvalidated on its capture day and nothing is captured";
            ledger.complete_reversed(p.reference, answer, &after, actor, (why, kept)).await?;
            tracing::warn!(reference = p.reference, "authorization for an unpayable invoice left to expire");
            return Ok(());
        }
    };
    let req = CashRequest { transaction_reference: p.reference, operation: op, amount: p.amount, currency: p.currency };
    let authorized = Amounts { status: answer.status, current: p.amount, refunded: 0 };
    // In full: CANCELLED (nothing captured) or CREDITED (all refunded).
    let after = cash::apply(&authorized, op, None).unwrap_or(Amounts {
        status: TransactionStatus::Cancelled,
        current: 0,
        refunded: 0,
    });
    match gateway.cash(&req).await {
        Ok(r) if r.accepted() => {
            let done = format!("reversed at the platform: {} of {}, responseCode 00", op.as_str(), p.amount);
            ledger.complete_reversed(p.reference, answer, &after, actor, (why, &done)).await?;
            tracing::warn!(reference = p.reference, op = op.as_str(), "authorization reversed: invoice not payable");
        }
        Ok(r) => {
            let note =
                format!("{why}; reversal ({}) refused with responseCode {}: will retry", op.as_str(), r.response_code);
            ledger.note_decision(p.reference, actor, &note).await?;
        }
        Err(e) => {
            let note = format!("{why}; reversal ({}) could not be sent ({e}): will retry", op.as_str());
            ledger.note_decision(p.reference, actor, &note).await?;
        }
    }
    Ok(())
}

/// Asks the platform about a payment whose answer never came, and records what it
/// says (see the module documentation).
pub async fn resolve<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    grace: Grace,
    actor: &str,
) -> Result<(), LedgerError> {
    match gateway.lookup(p.reference).await {
        Ok(Lookup::Found(d)) => record_found(ledger, gateway, p, &d, actor).await,
        Ok(Lookup::Unknown) => {
            let why = "no answer, and unknown to the platform (getTransactionData 25)";
            unknown_to_the_platform(ledger, p, grace, actor, why).await
        }
        Err(e) => reverse_unknown(ledger, gateway, p, grace, actor, e).await,
    }
}

/// The platform says it does not know the payment: not charged once the grace period
/// is over; until then it may still be processing it, so the payment stays PENDING.
async fn unknown_to_the_platform<L: Ledger>(
    ledger: &L,
    p: &InFlight<'_>,
    grace: Grace,
    actor: &str,
    why: &str,
) -> Result<(), LedgerError> {
    match grace {
        Grace::Over => {
            let answer = Answer {
                status: TransactionStatus::Refused,
                response_code: "97",
                acquirer_response_code: "",
                authorisation_id: None,
            };
            let detail = format!("{why}, after the grace period: nothing charged");
            ledger.complete_payment(p.reference, &answer, actor, &detail).await?;
        }
        Grace::Running => {
            tracing::warn!(reference = p.reference, "payment not known to the platform yet; kept PENDING for recovery");
            let detail = format!(
                "{why}: the platform may still be processing it; kept PENDING (its invoice held) until recovery decides after the grace period"
            );
            ledger.note_decision(p.reference, actor, &detail).await?;
        }
    }
    Ok(())
}

async fn record_found<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    d: &TransactionData,
    actor: &str,
) -> Result<(), LedgerError> {
    let detail = format!("answer lost; resolved with getTransactionData (transactionStatus {})", d.status);
    use TransactionStatus as S;
    match TransactionStatus::parse(&d.status) {
        Some(status @ (S::ToCapture | S::ToValidate | S::Captured | S::Refused)) => {
            record_status(ledger, gateway, p, status, &d.answer, actor, &detail).await
        }
        Some(S::Cancelled) => {
            // Authorized, then cancelled at the platform before we could record it (a
            // reversal interrupted by a crash, or the back office).
            let authorized = answer(success_status(p.capture_mode), &d.answer);
            let after = Amounts { status: TransactionStatus::Cancelled, current: 0, refunded: 0 };
            let done = "found cancelled at the platform: nothing will be captured";
            ledger.complete_reversed(p.reference, &authorized, &after, actor, (&detail, done)).await?;
            Ok(())
        }
        _ => {
            let other = &d.status;
            let note = format!("{detail}: a status this payment cannot be recorded in ({other}); will ask again");
            tracing::error!(
                reference = p.reference,
                status = %other,
                "pending payment in an unexpected platform status"
            );
            ledger.note_decision(p.reference, actor, &note).await
        }
    }
}

/// The outcome cannot be learned: cancel the authorization at the platform, in full.
async fn reverse_unknown<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    p: &InFlight<'_>,
    grace: Grace,
    actor: &str,
    lookup_error: GatewayError,
) -> Result<(), LedgerError> {
    let why = format!("outcome cannot be learned (getTransactionData: {lookup_error})");
    let req = CashRequest {
        transaction_reference: p.reference,
        operation: Operation::Cancel,
        amount: p.amount,
        currency: p.currency,
    };
    match gateway.cash(&req).await {
        Ok(r) if r.accepted() => {
            let authorized = Answer {
                status: success_status(p.capture_mode),
                response_code: "00",
                acquirer_response_code: "",
                authorisation_id: None,
            };
            let after = Amounts { status: TransactionStatus::Cancelled, current: 0, refunded: 0 };
            let done = format!("reversed: cancel of {} accepted by the platform (responseCode 00)", p.amount);
            ledger.complete_reversed(p.reference, &authorized, &after, actor, (&why, &done)).await?;
            tracing::warn!(reference = p.reference, "payment of unknown outcome reversed");
        }
        Ok(r) if r.response_code == "25" => {
            let why = format!("{why}; reversal answered 25 (unknown to the platform)");
            unknown_to_the_platform(ledger, p, grace, actor, &why).await?;
        }
        Ok(r) => {
            let note = format!("{why}; reversal refused with responseCode {}: will ask again", r.response_code);
            ledger.note_decision(p.reference, actor, &note).await?;
        }
        Err(e) => {
            tracing::warn!(reference = p.reference, error = %e, "payment outcome unknown; left PENDING for recovery");
            let note = format!("{why}; reversal could not be sent ({e}): will ask again");
            ledger.note_decision(p.reference, actor, &note).await?;
        }
    }
    Ok(())
}

/// Resolves payments left PENDING for longer than `min_age` (a crash between sending
/// and recording, a platform that could not be asked, or one that did not know the
/// payment yet). `min_age` is the grace period: past it, a payment unknown to the
/// platform is taken as never charged. Run at start and periodically; returns what
/// each became.
pub async fn recover_pending<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    min_age: Duration,
) -> Result<Vec<(String, TransactionStatus)>, LedgerError> {
    recover_pending_at(ledger, gateway, min_age, ledger.now_ms()).await
}

/// [`recover_pending`] as of `now` (UTC ms), so one periodic run (recovery, capture,
/// expiry) judges every payment against the same instant.
pub async fn recover_pending_at<L: Ledger>(
    ledger: &L,
    gateway: &Gateway,
    min_age: Duration,
    now: i64,
) -> Result<Vec<(String, TransactionStatus)>, LedgerError> {
    let before = now - min_age.as_millis() as i64;
    let mut out = Vec::new();
    for t in ledger.pending_transactions(before).await? {
        resolve(ledger, gateway, &InFlight::of(&t), Grace::Over, "recovery").await?;
        let now = ledger
            .transaction(&t.reference)
            .await?
            .map(|t| t.status)
            .ok_or_else(|| LedgerError::vanished_transaction(&t.reference))?;
        tracing::info!(reference = %t.reference, status = %now, "recovery: pending payment resolved");
        out.push((t.reference, now));
    }
    Ok(out)
}
