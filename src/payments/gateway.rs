//! The payment platform as ivrpay sees it: authorize a card, manage the cash of a
//! transaction it holds (validate, cancel, refund, and duplicate into a new charge of
//! the same card), and ask what became of a transaction whose answer was lost. Two
//! implementations behind one enum: the built-in simulator (the embedded default,
//! following the Sips simulation conventions, `payments::simulator`) and the Sips
//! Office JSON connector (`payments::sips`).
//!
//! Card data crosses this boundary only inside [`AuthorizationRequest`], which borrows the
//! wiping types from `payments::card` and has no `Debug`. Cash operations and duplicates
//! carry no card data at all: the platform keeps the card of the transaction it holds.

use super::card::{CardNumber, Expiry, SecurityCode};
use super::cash::Operation;
use super::merchant::CaptureMode;
use super::money::Currency;

pub use super::simulator::{SimOutcome, Simulator};

/// What is sent to authorize a payment.
pub struct AuthorizationRequest<'a> {
    /// Sips transactionReference (ours, unique).
    pub transaction_reference: &'a str,
    /// Minor units.
    pub amount: i64,
    /// Currency of `amount`; its numeric code goes on the wire.
    pub currency: Currency,
    /// Borrowed, never copied: the number is wiped by its owner once the call returns.
    pub card: &'a CardNumber,
    /// Card expiry, sent as YYYYMM.
    pub expiry: Expiry,
    /// Borrowed so it can be wiped right after sending; never stored or logged.
    pub csc: &'a SecurityCode,
    /// AUTHOR_CAPTURE or VALIDATION.
    pub capture_mode: CaptureMode,
    /// Days before capture (0 to 6), as agreed with the merchant.
    pub capture_day: u8,
    /// MOTO by default (configurable).
    pub order_channel: &'a str,
}

/// The platform's answer to an authorization or a duplicate (Sips vocabulary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// Sips `responseCode`; `00` is accepted, anything else refused.
    pub response_code: String,
    /// The bank's code behind a refusal, kept to explain it to the merchant.
    pub acquirer_response_code: String,
    /// Bank authorization number; `None` when refused.
    pub authorisation_id: Option<String>,
    /// `N`: a card payment over a voice server carries no liability shift.
    pub guarantee_indicator: String,
    /// Sips brand the platform recognised; it may correct our detection (e.g. CB).
    pub brand: String,
}

impl AuthorizationResponse {
    /// True for responseCode 00.
    pub fn accepted(&self) -> bool {
        self.response_code == "00"
    }
}

/// What `getTransactionData` says about a transaction the platform holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransactionData {
    /// Sips `transactionStatus` as the platform sees it now (TO_CAPTURE, CAPTURED,
    /// REFUSED, CANCELLED, ...): recovery decides from it, not from the first answer.
    pub status: String,
    /// The authorization's codes.
    pub answer: AuthorizationResponse,
    /// `originAmount`, when given.
    pub origin_amount: Option<i64>,
    /// `currentAmount`, when given.
    pub current_amount: Option<i64>,
}

impl TransactionData {
    /// True when the platform holds an authorization that is (or will be) captured.
    pub fn authorized(&self) -> bool {
        matches!(self.status.as_str(), "TO_CAPTURE" | "TO_VALIDATE" | "CAPTURED")
    }
}

/// What `getTransactionData` says about a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The platform has it.
    Found(TransactionData),
    /// The platform never saw it (responseCode 25): nothing was charged.
    Unknown,
}

/// A cash operation (Sips `cashManagement/validate|cancel|refund`) on a transaction the
/// platform holds. No card data: the platform uses the card it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CashRequest<'a> {
    /// The transaction the platform holds.
    pub transaction_reference: &'a str,
    /// Validate, cancel or refund (a duplicate is [`DuplicateRequest`]).
    pub operation: Operation,
    /// `operationAmount`, minor units.
    pub amount: i64,
    /// The transaction's currency (`currencyCode`).
    pub currency: Currency,
}

/// The platform's answer to a cash operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CashResponse {
    /// Sips `responseCode`: 00 applied, 24 not in this status, 25 unknown, ...
    pub response_code: String,
    /// The bank's code, when a bank was involved (often empty).
    pub acquirer_response_code: String,
    /// `newStatus`: the transaction's status after the operation.
    pub new_status: Option<String>,
    /// `newAmount`: what the transaction stands for after the operation (minor units).
    pub new_amount: Option<i64>,
}

impl CashResponse {
    /// True for responseCode 00: the operation was applied.
    pub fn accepted(&self) -> bool {
        self.response_code == "00"
    }

    /// A refusal without a network round trip (operation the platform does not offer).
    pub fn refused(code: &str) -> CashResponse {
        CashResponse {
            response_code: code.to_string(),
            acquirer_response_code: String::new(),
            new_status: None,
            new_amount: None,
        }
    }
}

/// A duplicate (Sips `cashManagement/duplicate`): a new transaction charged on the card
/// the platform holds for `from_transaction_reference`, the customer not being present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DuplicateRequest<'a> {
    /// `fromTransactionReference`: whose card is reused.
    pub from_transaction_reference: &'a str,
    /// The new transaction's reference (ours, unique).
    pub transaction_reference: &'a str,
    /// Minor units.
    pub amount: i64,
    /// The original's currency.
    pub currency: Currency,
    /// AUTHOR_CAPTURE or VALIDATION (the merchant's current settings).
    pub capture_mode: CaptureMode,
    /// Days before capture (the merchant's current settings).
    pub capture_day: u8,
    /// Sips `orderChannel`.
    pub order_channel: &'a str,
}

/// Why the platform could not answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GatewayError {
    /// No answer in time: the outcome is unknown and must be resolved.
    #[error("payment platform timed out")]
    Timeout,
    /// The request was sent, then the connection broke, or the answer was an HTTP
    /// error or unreadable: the platform may have acted on it, so the outcome is
    /// unknown and must be resolved, exactly like a time-out.
    #[error("payment platform answer lost: {0}")]
    AnswerLost(String),
    /// Nothing was done: the connection could not be made (no request byte left), or
    /// the platform answered, sealed, that its service is unavailable (responseCode 90).
    #[error("payment platform unavailable")]
    Unavailable,
    /// The answer's seal did not verify (Sips connector): it cannot be believed.
    #[error("payment platform answer failed the seal check")]
    BadSeal,
}

/// What a Sips `responseCode` means, for history rows and API errors a person reads.
pub fn response_code_meaning(code: &str) -> &'static str {
    match code {
        "00" => "accepted",
        "02" => "call the issuer",
        "03" => "invalid merchant contract",
        "05" => "refused",
        "11" => "card blocked",
        "12" => "invalid transaction or parameters",
        "14" => "invalid card data",
        "17" => "cancelled by the customer",
        "24" => "operation impossible in the transaction's status",
        "25" => "transaction unknown to the platform",
        "30" => "format error",
        "34" => "fraud suspicion or bad seal",
        "40" => "function not supported",
        "51" => "amount too high",
        "54" => "card expired",
        "55" => "prepaid card not accepted",
        "57" => "refund refused",
        "60" => "pending",
        "63" => "security rules not met",
        "75" => "too many attempts",
        "90" => "service unavailable",
        "94" => "duplicate transaction reference",
        "97" => "timeout",
        "99" => "server problem",
        _ => "unknown response code",
    }
}

/// The payment platform.
#[derive(Clone)]
pub enum Gateway {
    /// The built-in simulator.
    Simulator(Simulator),
    /// Worldline Sips Office JSON.
    Sips(super::sips::SipsConnector),
}

impl Gateway {
    /// Sends an authorization.
    pub async fn authorize(&self, req: &AuthorizationRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        match self {
            Gateway::Simulator(s) => s.authorize(req).await,
            Gateway::Sips(s) => s.authorize(req).await,
        }
    }

    /// Asks what happened to a transaction (Sips `diagnostic/getTransactionData`).
    pub async fn lookup(&self, transaction_reference: &str) -> Result<Lookup, GatewayError> {
        match self {
            Gateway::Simulator(s) => s.lookup(transaction_reference).await,
            Gateway::Sips(s) => s.lookup(transaction_reference).await,
        }
    }

    /// Validates, cancels or refunds at the platform (Sips `cashManagement/*`). A
    /// refusal (24 wrong status, 25 unknown, ...) is an `Ok` answer with its code.
    pub async fn cash(&self, req: &CashRequest<'_>) -> Result<CashResponse, GatewayError> {
        match self {
            Gateway::Simulator(s) => s.cash(req).await,
            Gateway::Sips(s) => s.cash(req).await,
        }
    }

    /// Charges the card of an existing transaction again, as a new transaction
    /// (Sips `cashManagement/duplicate`).
    pub async fn duplicate(&self, req: &DuplicateRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        match self {
            Gateway::Simulator(s) => s.duplicate(req).await,
            Gateway::Sips(s) => s.duplicate(req).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulated_code_has_a_meaning() {
        for code in ["00", "05", "12", "24", "25", "34", "40", "51", "90", "94", "97", "99"] {
            assert_ne!(response_code_meaning(code), "unknown response code", "{code}");
        }
        assert_eq!(response_code_meaning("xx"), "unknown response code");
    }

    #[test]
    fn authorized_statuses() {
        let a = AuthorizationResponse {
            response_code: "00".into(),
            acquirer_response_code: "00".into(),
            authorisation_id: None,
            guarantee_indicator: "N".into(),
            brand: "VISA".into(),
        };
        let data = |s: &str| TransactionData {
            status: s.into(),
            answer: a.clone(),
            origin_amount: None,
            current_amount: None,
        };
        for s in ["TO_CAPTURE", "TO_VALIDATE", "CAPTURED"] {
            assert!(data(s).authorized(), "{s}");
        }
        for s in ["REFUSED", "CANCELLED", "EXPIRED", "CREDITED", "WAITING_AUTHOR"] {
            assert!(!data(s).authorized(), "{s}");
        }
    }
}
