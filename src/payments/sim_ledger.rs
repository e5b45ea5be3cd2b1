//! The simulated platform's books: every transaction it answered, with its status and
//! amounts as the platform would keep them, so that cash operations, duplicates and
//! `getTransactionData` answer what Sips would. Pure bookkeeping on an injected clock
//! (`now`, UTC ms): `payments::simulator` owns the clock, the latency and the lock.
//!
//! Faithfulness rules:
//! - an operation the Sips table does not allow in the transaction's status is refused
//!   with responseCode 24 (e.g. a refund before capture: cancel instead);
//! - an unknown transaction answers 25;
//! - a reused transactionReference answers 94;
//! - the platform captures by itself: TO_CAPTURE becomes CAPTURED, and TO_VALIDATE
//!   EXPIRED, at the capture instant ([`cash::capture_instant`]), whoever asks.
//!
//! No card number is kept: only what the simulator needs to treat the card again for a
//! duplicate (its simulated behaviour and brand).

use super::cash::{self, Amounts, CashError, Operation};
use super::gateway::{AuthorizationResponse, CashResponse, Lookup, TransactionData};
use super::simulator_rules::SimBehaviour;
use super::status::TransactionStatus;
use std::collections::HashMap;

/// One transaction in the books.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The authorization's answer.
    pub answer: AuthorizationResponse,
    /// The card, as far as the simulator needs to remember it (for duplicates).
    pub behaviour: SimBehaviour,
    /// Authorized amount (minor units).
    pub origin_amount: i64,
    /// Status, amount to capture or captured, refunded.
    pub amounts: Amounts,
    /// When the platform captures (or expires) it, UTC ms.
    pub capture_at: i64,
    /// Until when (UTC ms) the platform is still processing it: before, it is unknown
    /// to every query (25), as a late authorization is (`SimBehaviour::LateCharge`).
    pub visible_at: i64,
}

/// Why a duplicate cannot be made from a transaction (the responseCode to answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DuplicateRefusal {
    /// 25: the original is unknown.
    Unknown,
    /// 24: the original's status does not allow it.
    NotAllowed,
    /// 94: the new reference is already used.
    ReferenceUsed,
}

impl DuplicateRefusal {
    /// Sips responseCode.
    pub fn response_code(self) -> &'static str {
        match self {
            DuplicateRefusal::Unknown => "25",
            DuplicateRefusal::NotAllowed => "24",
            DuplicateRefusal::ReferenceUsed => "94",
        }
    }
}

/// The books.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: HashMap<String, Entry>,
}

impl Ledger {
    /// True if a transaction with this reference was ever answered (a reused reference
    /// must then be refused with 94).
    pub fn contains(&self, reference: &str) -> bool {
        self.entries.contains_key(reference)
    }

    /// Writes down an answered authorization (accepted or refused).
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        reference: &str,
        answer: AuthorizationResponse,
        behaviour: SimBehaviour,
        amount: i64,
        capture_mode: &str,
        capture_day: u8,
        now: i64,
    ) {
        let status = match (answer.accepted(), capture_mode) {
            (false, _) => TransactionStatus::Refused,
            (true, "VALIDATION") => TransactionStatus::ToValidate,
            (true, _) => TransactionStatus::ToCapture,
        };
        let current = if answer.accepted() { amount } else { 0 };
        let entry = Entry {
            answer,
            behaviour,
            origin_amount: amount,
            amounts: Amounts { status, current, refunded: 0 },
            capture_at: cash::capture_instant(now, capture_day as i64),
            visible_at: now,
        };
        self.entries.insert(reference.to_string(), entry);
    }

    /// Makes a recorded authorization invisible until `until` (UTC ms): the platform
    /// finishes it late, and its capture is counted from then.
    pub fn finish_late(&mut self, reference: &str, until: i64) {
        if let Some(e) = self.entries.get_mut(reference) {
            e.capture_at += until - e.visible_at;
            e.visible_at = until;
        }
    }

    /// The entry with the platform's own capture applied as of `now` (None while it is
    /// unknown, or still being processed).
    fn settled(&mut self, reference: &str, now: i64) -> Option<&mut Entry> {
        let e = self.entries.get_mut(reference).filter(|e| now >= e.visible_at)?;
        if now >= e.capture_at {
            use TransactionStatus as S;
            match e.amounts.status {
                S::ToCapture if e.amounts.current > 0 => e.amounts.status = S::Captured,
                S::ToCapture => e.amounts.status = S::Cancelled,
                S::ToValidate => e.amounts.status = S::Expired,
                _ => {}
            }
        }
        Some(e)
    }

    /// Applies a cash operation the way the platform would: 25 unknown, 24 not allowed
    /// in this status (the Sips table), 12 for an amount out of range, else 00 with the
    /// new status and amount.
    pub fn cash(&mut self, reference: &str, op: Operation, amount: i64, now: i64) -> CashResponse {
        if op == Operation::Duplicate {
            return CashResponse::refused("40");
        }
        let Some(e) = self.settled(reference, now) else { return CashResponse::refused("25") };
        match cash::apply(&e.amounts, op, Some(amount)) {
            Err(CashError::NotAllowed { .. } | CashError::NotOnThisTransaction { .. }) => CashResponse::refused("24"),
            Err(CashError::BadAmount { .. }) => CashResponse::refused("12"),
            Ok(after) => {
                e.amounts = after;
                CashResponse {
                    response_code: "00".into(),
                    acquirer_response_code: String::new(),
                    new_status: Some(e.amounts.status.as_str().to_string()),
                    new_amount: Some(e.amounts.current - e.amounts.refunded),
                }
            }
        }
    }

    /// Checks that a duplicate may be made from `from` into `new_reference`, and returns
    /// the original card's behaviour and brand.
    pub fn duplicate_source(
        &mut self,
        from: &str,
        new_reference: &str,
        now: i64,
    ) -> Result<(SimBehaviour, String), DuplicateRefusal> {
        if self.contains(new_reference) {
            return Err(DuplicateRefusal::ReferenceUsed);
        }
        let e = self.settled(from, now).ok_or(DuplicateRefusal::Unknown)?;
        if !cash::allowed(e.amounts.status, Operation::Duplicate) {
            return Err(DuplicateRefusal::NotAllowed);
        }
        Ok((e.behaviour, e.answer.brand.clone()))
    }

    /// What `getTransactionData` answers.
    pub fn lookup(&mut self, reference: &str, now: i64) -> Lookup {
        match self.settled(reference, now) {
            None => Lookup::Unknown,
            Some(e) => Lookup::Found(TransactionData {
                status: e.amounts.status.as_str().to_string(),
                answer: e.answer.clone(),
                origin_amount: Some(e.origin_amount),
                current_amount: Some(e.amounts.current - e.amounts.refunded),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 20_000 * DAY + 3_600_000;

    fn answer(code: &str) -> AuthorizationResponse {
        AuthorizationResponse {
            response_code: code.into(),
            acquirer_response_code: code.into(),
            authorisation_id: (code == "00").then(|| "123456".into()),
            guarantee_indicator: "N".into(),
            brand: "VISA".into(),
        }
    }

    fn card() -> SimBehaviour {
        SimBehaviour::Answer { response_code: "00", acquirer_response_code: "00" }
    }

    fn books() -> Ledger {
        let mut l = Ledger::default();
        l.record("CAP", answer("00"), card(), 1000, "AUTHOR_CAPTURE", 0, NOW);
        l.record("VAL", answer("00"), card(), 1000, "VALIDATION", 2, NOW);
        l.record("REF", answer("05"), card(), 1000, "AUTHOR_CAPTURE", 0, NOW);
        l
    }

    fn status(l: &mut Ledger, r: &str, now: i64) -> String {
        match l.lookup(r, now) {
            Lookup::Found(d) => d.status,
            Lookup::Unknown => "unknown".into(),
        }
    }

    #[test]
    fn refuses_what_the_platform_refuses() {
        let mut l = books();
        assert_eq!(l.cash("NOPE", Operation::Cancel, 1, NOW).response_code, "25");
        assert_eq!(l.cash("CAP", Operation::Refund, 100, NOW).response_code, "24", "refund before capture");
        assert_eq!(l.cash("CAP", Operation::Validate, 100, NOW).response_code, "24");
        assert_eq!(l.cash("VAL", Operation::Cancel, 100, NOW).response_code, "24");
        assert_eq!(l.cash("REF", Operation::Cancel, 100, NOW).response_code, "24");
        assert_eq!(l.cash("CAP", Operation::Cancel, 1001, NOW).response_code, "12");
        let ok = l.cash("CAP", Operation::Cancel, 300, NOW);
        assert_eq!(
            (ok.response_code.as_str(), ok.new_status.as_deref(), ok.new_amount),
            ("00", Some("TO_CAPTURE"), Some(700))
        );
        let ok = l.cash("VAL", Operation::Validate, 600, NOW);
        assert_eq!((ok.new_status.as_deref(), ok.new_amount), (Some("TO_CAPTURE"), Some(600)));
    }

    #[test]
    fn the_platform_captures_by_itself() {
        let mut l = books();
        assert_eq!(status(&mut l, "CAP", NOW), "TO_CAPTURE");
        let later = NOW + DAY;
        assert_eq!(status(&mut l, "CAP", later), "CAPTURED");
        assert_eq!(status(&mut l, "VAL", later), "TO_VALIDATE", "capture day 2");
        assert_eq!(status(&mut l, "VAL", NOW + 3 * DAY), "EXPIRED");
        assert_eq!(l.cash("CAP", Operation::Cancel, 1, later).response_code, "24", "too late to cancel");
        let r = l.cash("CAP", Operation::Refund, 400, later);
        assert_eq!((r.new_status.as_deref(), r.new_amount), (Some("CAPTURED"), Some(600)));
        assert_eq!(l.cash("CAP", Operation::Refund, 601, later).response_code, "12", "never more than captured");
        let r = l.cash("CAP", Operation::Refund, 600, later);
        assert_eq!((r.new_status.as_deref(), r.new_amount), (Some("CREDITED"), Some(0)));
    }

    #[test]
    fn a_late_authorization_is_unknown_until_the_platform_finishes_it() {
        let mut l = books();
        l.record("LATE", answer("00"), card(), 1000, "AUTHOR_CAPTURE", 1, NOW);
        l.finish_late("LATE", NOW + 20_000);
        assert_eq!(status(&mut l, "LATE", NOW + 19_999), "unknown");
        assert_eq!(l.cash("LATE", Operation::Cancel, 1000, NOW).response_code, "25");
        assert!(l.contains("LATE"), "its reference is taken all the same");
        assert_eq!(status(&mut l, "LATE", NOW + 20_000), "TO_CAPTURE");
    }

    #[test]
    fn a_fully_cancelled_transaction_is_never_captured() {
        let mut l = books();
        assert!(l.cash("CAP", Operation::Cancel, 1000, NOW).accepted());
        assert_eq!(status(&mut l, "CAP", NOW + 5 * DAY), "CANCELLED");
    }

    #[test]
    fn duplicates_need_a_known_original_and_a_new_reference() {
        let mut l = books();
        assert_eq!(l.duplicate_source("NOPE", "D1", NOW), Err(DuplicateRefusal::Unknown));
        assert_eq!(l.duplicate_source("CAP", "VAL", NOW), Err(DuplicateRefusal::ReferenceUsed));
        assert_eq!(l.duplicate_source("REF", "D1", NOW).map(|x| x.1), Ok("VISA".to_string()), "REFUSED allows CL");
        assert!(l.duplicate_source("CAP", "D1", NOW + 9 * DAY).is_ok(), "CAPTURED allows CL");
        assert_eq!(DuplicateRefusal::NotAllowed.response_code(), "24");
    }
}
