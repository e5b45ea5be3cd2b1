//! Card transactions as the payment rules see them: the record of one payment (card
//! data only masked), its history entries, a payment about to be sent and the
//! platform's answer to record on it. Pure data: must not know the database (the store
//! parses rows into these), the clock or the network.

use super::card::Brand;
use super::invoice::InvoiceStatus;
use super::merchant::CaptureMode;
use super::money::Currency;
use super::status::TransactionStatus;
use serde::Serialize;

/// A transaction as stored (card data only masked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// Sips `transactionReference` (`IVR<date><hex>`): the key the platform, the history
    /// and the extranet share.
    pub reference: String,
    /// Owner of the invoice; every query is scoped by it so one merchant never sees
    /// another's payments.
    pub merchant_id: String,
    /// The invoice this payment settles; at most one live payment per invoice.
    pub invoice_id: String,
    /// Authorized amount in minor units of `currency`; always positive and never changed
    /// afterwards.
    pub amount: i64,
    /// To be captured or captured (amount less cancellations, or the validated amount).
    pub current_amount: i64,
    /// Minor units already refunded; never more than `current_amount`.
    pub refunded_amount: i64,
    /// The currency of every amount in this row.
    pub currency: Currency,
    /// First six and last four digits only (`497010######0001`): the full PAN is never stored.
    pub masked_pan: String,
    /// The brand (VISA, MASTERCARD, ...) as detected, or as the platform later
    /// reported it.
    pub brand: Brand,
    /// YYYYMM.
    pub expiry_month: String,
    /// Always IVR for payments taken by the phone line.
    pub channel: String,
    /// Sips `orderChannel` sent with the authorization (from the configuration, usually MOTO).
    pub order_channel: String,
    /// Sips `responseCode` of the authorization (`00` is accepted); `None` while PENDING.
    pub response_code: Option<String>,
    /// The bank's `acquirerResponseCode`, kept to explain a refusal; `None` while PENDING.
    pub acquirer_response_code: Option<String>,
    /// Bank authorization number, read to the caller and shown to the merchant as proof; `None`
    /// when not authorized.
    pub authorisation_id: Option<String>,
    /// `N`: not guaranteed (no liability shift for a voice-server payment).
    pub guarantee_indicator: String,
    /// Sips capture mode in force when the payment was taken (`AUTHOR_CAPTURE` or
    /// `VALIDATION`).
    pub capture_mode: CaptureMode,
    /// Days between authorization and capture, copied from the merchant at payment time.
    pub capture_day: i64,
    /// When TO_CAPTURE becomes CAPTURED, or TO_VALIDATE expires (UTC ms).
    pub capture_at: i64,
    /// PENDING (sent, outcome not yet known), then a Sips status.
    pub status: TransactionStatus,
    /// The calling number, so the merchant can trace a disputed payment to a call.
    pub caller: Option<String>,
    /// SIP Call-ID of the call that paid, linking the payment to the call log.
    pub call_id: Option<String>,
    /// When the payment was recorded PENDING (UTC ms).
    pub created_at: i64,
    /// Last change of status or amounts (UTC ms).
    pub updated_at: i64,
    /// For a duplicate: the transaction whose card was charged again.
    pub duplicated_from: Option<String>,
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// When the change happened (UTC ms).
    pub at: i64,
    /// Status before the change; `None` for the creation as PENDING.
    pub from_status: Option<TransactionStatus>,
    /// Status after the change (equal to `from_status` for a decision that changed nothing).
    pub to_status: TransactionStatus,
    /// Minor units involved: the authorized amount at creation, or what a cash operation
    /// moved; `None` for a status change alone.
    pub amount: Option<i64>,
    /// Who or what made the change (`ivr`, `recovery`, `api:<key>`, `capture-job`).
    pub actor: String,
    /// Human-readable reason, the audit trail a support agent reads; never card data.
    pub detail: String,
}

/// A payment about to be sent.
#[derive(Clone, Debug)]
pub struct NewPending {
    /// Sips `transactionReference` to send, generated before the call so a retry reuses it.
    pub reference: String,
    /// Merchant that owns the invoice.
    pub merchant_id: String,
    /// Invoice paid; locked PAYABLE while the payment is recorded.
    pub invoice_id: String,
    /// Stable per attempt (Call-ID and attempt number): a second request with it is
    /// answered from the store, never sent again.
    pub idempotency_key: String,
    /// Invoice amount in minor units of `currency`.
    pub amount: i64,
    /// The invoice's currency.
    pub currency: Currency,
    /// Masked PAN (6+4); the full number never reaches the store.
    pub masked_pan: String,
    /// The brand detected from the number.
    pub brand: Brand,
    /// Card expiry as YYYYMM.
    pub expiry_month: String,
    /// Sips `orderChannel` to send.
    pub order_channel: String,
    /// Merchant's capture mode, frozen into the transaction.
    pub capture_mode: CaptureMode,
    /// Merchant's capture day (0 to 6), frozen into the transaction.
    pub capture_day: i64,
    /// Calling number, if the payment came from a call.
    pub caller: Option<String>,
    /// SIP Call-ID, if the payment came from a call.
    pub call_id: Option<String>,
}

/// What recording a pending payment found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    /// Recorded: the authorization may be sent.
    Recorded,
    /// This idempotency key was already used: do not send again.
    Duplicate(Box<Transaction>),
    /// The invoice is not payable (paid, cancelled, expired).
    InvoiceNotPayable,
    /// Another payment of the invoice is PENDING (sent from another call, its answer
    /// not recorded yet): nothing may be sent.
    InProgress,
}

/// The platform's answer to record on a PENDING transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer<'a> {
    /// The status it leads to (TO_CAPTURE, TO_VALIDATE, CAPTURED, REFUSED, ...).
    pub status: TransactionStatus,
    /// Sips `responseCode`.
    pub response_code: &'a str,
    /// The bank's code.
    pub acquirer_response_code: &'a str,
    /// Set when authorized.
    pub authorisation_id: Option<&'a str>,
}

impl Answer<'_> {
    /// True when the status is an authorization that pays the invoice.
    pub fn authorized(&self) -> bool {
        self.status.is_authorized()
    }
}

/// What completing a PENDING transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Recorded (and, if authorized, the invoice is PAID).
    Recorded,
    /// It was no longer PENDING: someone else completed it; nothing written.
    NotPending,
    /// Authorized, but its invoice can no longer be paid by it (cancelled, or paid
    /// meanwhile): nothing written; the authorization must be reversed.
    InvoiceNotPayable {
        /// The invoice's status.
        invoice_status: InvoiceStatus,
    },
}
