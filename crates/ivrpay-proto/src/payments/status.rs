//! The status of a card transaction, in Sips words (TO_CAPTURE, TO_VALIDATE, CAPTURED,
//! CANCELLED, REFUSED, EXPIRED, TO_CREDIT, CREDITED), plus PENDING for a payment sent
//! whose outcome is not yet known. One enum so every rule matches on variants the
//! compiler checks; the store parses its text once, and a value it does not know is an
//! error there, never a silent fall-through in a `match` on strings.

use serde::{Deserialize, Serialize};

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionStatus {
    /// Sent to the platform, outcome unknown (a crash or timeout leaves it for recovery).
    Pending,
    /// Authorized; captured automatically on the capture day.
    ToCapture,
    /// Authorized; waits for the merchant to validate it before the capture day.
    ToValidate,
    /// Sent to the bank: the money is the merchant's.
    Captured,
    /// Cancelled before capture (by the merchant, or by recovery).
    Cancelled,
    /// Refused by the platform or the bank.
    Refused,
    /// Not validated before the capture day.
    Expired,
    /// A refund waiting to be sent to the bank.
    ToCredit,
    /// Refunded in full.
    Credited,
}

impl TransactionStatus {
    /// Every status, for listings, filters and the stored CHECK of values.
    pub const ALL: [TransactionStatus; 9] = [
        TransactionStatus::Pending,
        TransactionStatus::ToCapture,
        TransactionStatus::ToValidate,
        TransactionStatus::Captured,
        TransactionStatus::Cancelled,
        TransactionStatus::Refused,
        TransactionStatus::Expired,
        TransactionStatus::ToCredit,
        TransactionStatus::Credited,
    ];

    /// The Sips (and stored) word.
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::Pending => "PENDING",
            TransactionStatus::ToCapture => "TO_CAPTURE",
            TransactionStatus::ToValidate => "TO_VALIDATE",
            TransactionStatus::Captured => "CAPTURED",
            TransactionStatus::Cancelled => "CANCELLED",
            TransactionStatus::Refused => "REFUSED",
            TransactionStatus::Expired => "EXPIRED",
            TransactionStatus::ToCredit => "TO_CREDIT",
            TransactionStatus::Credited => "CREDITED",
        }
    }

    /// Parses the Sips (and stored) word; None for any other text.
    pub fn parse(s: &str) -> Option<TransactionStatus> {
        TransactionStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// True for an authorization the platform accepted and that has not been refused
    /// since (what the caller was told "accepted").
    pub fn is_authorized(self) -> bool {
        matches!(self, TransactionStatus::ToCapture | TransactionStatus::ToValidate | TransactionStatus::Captured)
    }
}

impl std::fmt::Display for TransactionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for TransactionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_and_unknown_words_are_refused() {
        for s in TransactionStatus::ALL {
            assert_eq!(TransactionStatus::parse(s.as_str()), Some(s));
        }
        for bad in ["", "to_capture", "WAITING_AUTHOR", "PAID"] {
            assert_eq!(TransactionStatus::parse(bad), None, "{bad}");
        }
        let accepted: Vec<_> = TransactionStatus::ALL.into_iter().filter(|s| s.is_authorized()).collect();
        assert_eq!(
            accepted,
            [TransactionStatus::ToCapture, TransactionStatus::ToValidate, TransactionStatus::Captured]
        );
    }
}
