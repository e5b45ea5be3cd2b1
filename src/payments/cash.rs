//! Cash operations ("opérations de caisse") and the statuses that allow them, after the
//! Sips table: validate (VA) a TO_VALIDATE transaction, cancel (CA) a TO_CAPTURE one
//! before it is captured, refund (CR) a captured one, duplicate (CL) any of them. Pure
//! rules: the store applies the result in one database transaction.

use super::status::TransactionStatus;
use serde::{Deserialize, Serialize};

/// A cash operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// VA: accept a TO_VALIDATE authorization, possibly for less, so it gets captured.
    Validate,
    /// CA: release all or part of a TO_CAPTURE amount before the capture run sends it.
    Cancel,
    /// CR: give back all or part of a captured amount to the card.
    Refund,
    /// CL: charge the same card again as a new transaction (the card stays at the platform).
    Duplicate,
}

impl Operation {
    /// Name used in the API and the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Validate => "validate",
            Operation::Cancel => "cancel",
            Operation::Refund => "refund",
            Operation::Duplicate => "duplicate",
        }
    }
}

/// Whether the Sips table allows `op` in `status`.
pub fn allowed(status: TransactionStatus, op: Operation) -> bool {
    use TransactionStatus as S;
    match op {
        // Any outcome the platform keeps a card for; not a payment still in flight.
        Operation::Duplicate => status != S::Pending,
        Operation::Validate => status == S::ToValidate,
        Operation::Cancel => status == S::ToCapture,
        Operation::Refund => matches!(status, S::Captured | S::ToCredit),
    }
}

/// Amounts and status of a transaction that matter to cash operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Amounts {
    /// Sips status; decides which operations are allowed.
    pub status: TransactionStatus,
    /// To be captured, or captured.
    pub current: i64,
    /// Refunded so far.
    pub refunded: i64,
}

/// Why an operation was refused (Sips responseCode 24 for a wrong status).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CashError {
    /// Not allowed in this status.
    #[error("{op} is not allowed on a {status} transaction")]
    NotAllowed {
        /// The operation asked for (`validate`, `cancel`, ...).
        op: &'static str,
        /// The transaction's status that forbids it.
        status: TransactionStatus,
    },
    /// A duplicate asked of the cash operations: it creates another transaction
    /// (`payments::duplicate`) and is never applied to this one.
    #[error("{op} creates another transaction and is not applied to this one")]
    NotOnThisTransaction {
        /// The operation asked for.
        op: &'static str,
    },
    /// Zero, negative or more than what the operation may touch.
    #[error("amount must be between 1 and {max}")]
    BadAmount {
        /// The most it may move now, minor units (what remains to cancel or refund).
        max: i64,
    },
}

/// How much an operation moved, from the amounts before and after it: the refunded,
/// cancelled or validated amount (what the platform is sent as `operationAmount`).
pub fn moved(before: &Amounts, after: &Amounts, op: Operation) -> i64 {
    match op {
        Operation::Refund => after.refunded - before.refunded,
        Operation::Cancel => before.current - after.current,
        Operation::Validate | Operation::Duplicate => after.current,
    }
}

/// The instant after which a transaction authorized at `now` (UTC ms) is sent to the
/// bank (TO_CAPTURE) or expires unvalidated (TO_VALIDATE): midnight UTC after
/// `capture_day` more days. Sips caps the capture day at 6, the life of an
/// authorization. Shared by our capture run and the simulated platform's books, so the
/// two agree on when a transaction stops being cancellable.
pub fn capture_instant(now: i64, capture_day: i64) -> i64 {
    const DAY: i64 = 86_400_000;
    (now / DAY + 1 + capture_day.clamp(0, 6)) * DAY
}

/// What an operation does to a transaction (duplicate is not here: it creates another).
pub fn apply(t: &Amounts, op: Operation, amount: Option<i64>) -> Result<Amounts, CashError> {
    if !allowed(t.status, op) || op == Operation::Duplicate {
        return Err(CashError::NotAllowed { op: op.as_str(), status: t.status });
    }
    let max = match op {
        Operation::Refund => t.current - t.refunded,
        _ => t.current,
    };
    let amount = amount.unwrap_or(max);
    if amount < 1 || amount > max {
        return Err(CashError::BadAmount { max });
    }
    Ok(match op {
        // Only the validated amount will be captured; the rest is released.
        Operation::Validate => Amounts { status: TransactionStatus::ToCapture, current: amount, refunded: t.refunded },
        Operation::Cancel if amount == t.current => {
            Amounts { status: TransactionStatus::Cancelled, current: 0, refunded: t.refunded }
        }
        Operation::Cancel => Amounts { status: t.status, current: t.current - amount, refunded: t.refunded },
        Operation::Refund if t.refunded + amount == t.current => {
            Amounts { status: TransactionStatus::Credited, current: t.current, refunded: t.current }
        }
        Operation::Refund => Amounts { status: t.status, current: t.current, refunded: t.refunded + amount },
        Operation::Duplicate => unreachable!("handled above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: [&str; 8] =
        ["CANCELLED", "CAPTURED", "CREDITED", "EXPIRED", "REFUSED", "TO_CAPTURE", "TO_VALIDATE", "TO_CREDIT"];

    #[test]
    fn the_sips_table_row_by_row() {
        // VA CA CR CL, as in "Récapitulatif des opérations de caisse autorisées".
        let table = [
            ("CANCELLED", [false, false, false, true]),
            ("CAPTURED", [false, false, true, true]),
            ("CREDITED", [false, false, false, true]),
            ("EXPIRED", [false, false, false, true]),
            ("REFUSED", [false, false, false, true]),
            ("TO_CAPTURE", [false, true, false, true]),
            ("TO_VALIDATE", [true, false, false, true]),
            ("TO_CREDIT", [false, false, true, true]),
        ];
        for (status, row) in table {
            let ops = [Operation::Validate, Operation::Cancel, Operation::Refund, Operation::Duplicate];
            for (op, want) in ops.into_iter().zip(row) {
                assert_eq!(allowed(st(status), op), want, "{status} {op:?}");
            }
        }
        assert_eq!(STATUSES.len(), table.len());
        assert!(!allowed(st("PENDING"), Operation::Duplicate), "a payment in flight has no cash operation");
    }

    fn st(status: &str) -> TransactionStatus {
        TransactionStatus::parse(status).expect("a Sips status")
    }

    fn t(status: &str, current: i64, refunded: i64) -> Amounts {
        Amounts { status: st(status), current, refunded }
    }

    #[test]
    fn amounts_after_each_operation() {
        assert_eq!(apply(&t("TO_VALIDATE", 1000, 0), Operation::Validate, Some(600)), Ok(t("TO_CAPTURE", 600, 0)));
        assert_eq!(apply(&t("TO_CAPTURE", 1000, 0), Operation::Cancel, Some(300)), Ok(t("TO_CAPTURE", 700, 0)));
        assert_eq!(apply(&t("TO_CAPTURE", 1000, 0), Operation::Cancel, None), Ok(t("CANCELLED", 0, 0)));
        assert_eq!(apply(&t("CAPTURED", 1000, 0), Operation::Refund, Some(400)), Ok(t("CAPTURED", 1000, 400)));
        assert_eq!(apply(&t("CAPTURED", 1000, 400), Operation::Refund, None), Ok(t("CREDITED", 1000, 1000)));
    }

    #[test]
    fn moved_amounts_and_capture_instant() {
        let before = t("CAPTURED", 1000, 400);
        let after = apply(&before, Operation::Refund, Some(100)).unwrap();
        assert_eq!(moved(&before, &after, Operation::Refund), 100);
        let before = t("TO_CAPTURE", 1000, 0);
        let after = apply(&before, Operation::Cancel, Some(300)).unwrap();
        assert_eq!(moved(&before, &after, Operation::Cancel), 300);
        let day = 86_400_000;
        assert_eq!(capture_instant(10 * day + 5, 0), 11 * day);
        assert_eq!(capture_instant(10 * day, 2), 13 * day);
        assert_eq!(capture_instant(10 * day, 30), 17 * day, "capped at 6 days");
    }

    #[test]
    fn never_more_than_allowed() {
        assert_eq!(
            apply(&t("CAPTURED", 1000, 400), Operation::Refund, Some(601)),
            Err(CashError::BadAmount { max: 600 })
        );
        assert_eq!(
            apply(&t("TO_CAPTURE", 1000, 0), Operation::Cancel, Some(0)),
            Err(CashError::BadAmount { max: 1000 })
        );
        assert!(matches!(
            apply(&t("TO_CAPTURE", 1000, 0), Operation::Refund, Some(1)),
            Err(CashError::NotAllowed { .. })
        ));
        assert!(matches!(apply(&t("REFUSED", 1000, 0), Operation::Cancel, None), Err(CashError::NotAllowed { .. })));
    }
}
