//! The built-in payment platform: decides authorizations from the card number (see
//! `simulator_rules`), waits a realistic latency, and keeps books (`sim_ledger`) so cash
//! operations, duplicates and lost answers are answered as Sips would. Used in-process
//! as the default gateway and, through `payments::sips_sim`, served over HTTP in the
//! Sips wire format; both share one instance's books.

use super::cash::Operation;
use super::clock::{Clock, SystemClock};
use super::gateway::{
    AuthorizationRequest, AuthorizationResponse, CashRequest, CashResponse, DuplicateRequest, GatewayError, Lookup,
};
use super::sim_ledger::Ledger;
use super::simulator_rules::{self, SimBehaviour};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the simulated platform does with one authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimOutcome {
    /// It answers.
    Answer(AuthorizationResponse),
    /// It never answers in time (and has not charged, or not yet: see
    /// `SimBehaviour::LateCharge`).
    NoAnswer,
    /// It refuses the connection.
    Unavailable,
    /// It charged, then the answer is lost.
    LostAfterCharge,
    /// It charged, then the connection broke while answering.
    DroppedAfterCharge,
    /// It charged, then a proxy answered HTTP 502.
    BadGatewayAfterCharge,
}

/// The terms of an authorization that the books need (not the card).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms<'a> {
    /// Minor units.
    pub amount: i64,
    /// AUTHOR_CAPTURE or VALIDATION.
    pub capture_mode: &'a str,
    /// Days before the platform captures (or expires) it.
    pub capture_day: u8,
}

/// The simulator. Clones share the same books and counters.
#[derive(Clone)]
pub struct Simulator {
    latency: Duration,
    timeout: Duration,
    ledger: Arc<Mutex<Ledger>>,
    calls: Arc<AtomicU64>,
    operations: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
    /// The platform's own time (its captures and expiries), apart from ours.
    clock: Arc<dyn Clock>,
}

impl Simulator {
    /// A simulator answering after `latency`; `timeout` is how long a NoAnswer card
    /// keeps the caller waiting before the timeout error.
    pub fn new(latency: Duration, timeout: Duration) -> Self {
        Simulator {
            latency,
            timeout,
            ledger: Arc::default(),
            calls: Arc::new(AtomicU64::new(0)),
            operations: Arc::new(AtomicU64::new(0)),
            down: Arc::new(AtomicBool::new(false)),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same simulator keeping time by `clock` (a test lets days pass for the
    /// platform with a [`super::clock::ShiftedClock`] so it captures on its capture day).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Authorization requests received, duplicates included (tests prove nothing is
    /// sent twice).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Cash operations received (validate, cancel, refund).
    pub fn operations(&self) -> u64 {
        self.operations.load(Ordering::SeqCst)
    }

    /// Takes the platform down (every request refused as unavailable) or back up, to
    /// exercise what callers do during an outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn books(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// What the simulated platform does with a card: how long it takes and what comes
    /// of it. Answers are written in the books as they are decided (a charge exists
    /// even if its answer is then lost). Shared by the in-process gateway and the HTTP
    /// simulator (`payments::sips_sim`).
    pub fn decide(&self, reference: &str, card_digits: &str, terms: Terms<'_>) -> (Duration, SimOutcome) {
        let brand = simulator_rules::sim_brand(card_digits).unwrap_or("VISA").to_string();
        self.decide_with(reference, simulator_rules::behaviour_for(card_digits), brand, terms)
    }

    fn decide_with(
        &self,
        reference: &str,
        behaviour: SimBehaviour,
        brand: String,
        terms: Terms<'_>,
    ) -> (Duration, SimOutcome) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if self.is_down() {
            return (Duration::ZERO, SimOutcome::Unavailable);
        }
        let answer = |rc: &str, arc: &str| AuthorizationResponse {
            response_code: rc.to_string(),
            acquirer_response_code: arc.to_string(),
            authorisation_id: (rc == "00").then(|| simulator_rules::authorisation_id(n ^ terms.amount as u64)),
            guarantee_indicator: "N".to_string(),
            brand: brand.clone(),
        };
        if self.books().contains(reference) {
            return (self.latency, SimOutcome::Answer(answer("94", "")));
        }
        let charge = |a: &AuthorizationResponse| {
            let now = self.now();
            self.books().record(
                reference,
                a.clone(),
                behaviour,
                terms.amount,
                terms.capture_mode,
                terms.capture_day,
                now,
            );
        };
        match behaviour {
            SimBehaviour::Answer { response_code, acquirer_response_code } => {
                let a = answer(response_code, acquirer_response_code);
                charge(&a);
                (self.latency, SimOutcome::Answer(a))
            }
            SimBehaviour::Slow { delay_ms } => {
                let a = answer("00", "00");
                charge(&a);
                (Duration::from_millis(delay_ms), SimOutcome::Answer(a))
            }
            SimBehaviour::NoAnswer => (self.timeout, SimOutcome::NoAnswer),
            SimBehaviour::Unavailable => (Duration::ZERO, SimOutcome::Unavailable),
            SimBehaviour::LostAfterCharge => {
                let a = answer("00", "00");
                charge(&a);
                (self.latency, SimOutcome::LostAfterCharge)
            }
            SimBehaviour::DropAfterCharge => {
                charge(&answer("00", "00"));
                (self.latency, SimOutcome::DroppedAfterCharge)
            }
            SimBehaviour::BadGatewayAfterCharge => {
                charge(&answer("00", "00"));
                (self.latency, SimOutcome::BadGatewayAfterCharge)
            }
            SimBehaviour::LateCharge => {
                charge(&answer("00", "00"));
                let until = self.now() + simulator_rules::LATE_CHARGE_AFTER.as_millis() as i64;
                self.books().finish_late(reference, until);
                (self.timeout, SimOutcome::NoAnswer)
            }
        }
    }

    /// What the platform does with a duplicate: refused at once (25 unknown original,
    /// 24 status, 94 reference reused), or the original card treated again as for an
    /// authorization (a card refused before is refused again).
    pub fn decide_duplicate(&self, req: &DuplicateRequest<'_>) -> (Duration, SimOutcome) {
        let now = self.now();
        let source = self.books().duplicate_source(req.from_transaction_reference, req.transaction_reference, now);
        let terms = Terms { amount: req.amount, capture_mode: req.capture_mode.as_str(), capture_day: req.capture_day };
        match source {
            Ok((behaviour, brand)) => self.decide_with(req.transaction_reference, behaviour, brand, terms),
            Err(refusal) => {
                self.calls.fetch_add(1, Ordering::SeqCst);
                if self.is_down() {
                    return (Duration::ZERO, SimOutcome::Unavailable);
                }
                let a = AuthorizationResponse {
                    response_code: refusal.response_code().to_string(),
                    acquirer_response_code: String::new(),
                    authorisation_id: None,
                    guarantee_indicator: "N".to_string(),
                    brand: String::new(),
                };
                (self.latency, SimOutcome::Answer(a))
            }
        }
    }

    /// Applies a cash operation to the books now (no latency), or says the platform is
    /// down.
    pub fn cash_now(&self, reference: &str, op: Operation, amount: i64) -> Result<CashResponse, GatewayError> {
        self.operations.fetch_add(1, Ordering::SeqCst);
        if self.is_down() {
            return Err(GatewayError::Unavailable);
        }
        let now = self.now();
        Ok(self.books().cash(reference, op, amount, now))
    }

    /// What the simulated platform knows of a transaction now.
    pub fn lookup_now(&self, reference: &str) -> Result<Lookup, GatewayError> {
        if self.is_down() {
            return Err(GatewayError::Unavailable);
        }
        let now = self.now();
        Ok(self.books().lookup(reference, now))
    }

    async fn answer_after(delay: Duration, outcome: SimOutcome) -> Result<AuthorizationResponse, GatewayError> {
        tokio::time::sleep(delay).await;
        match outcome {
            SimOutcome::Answer(a) => Ok(a),
            SimOutcome::NoAnswer | SimOutcome::LostAfterCharge => Err(GatewayError::Timeout),
            SimOutcome::Unavailable => Err(GatewayError::Unavailable),
            // What the Sips connector reports for the same failures on the wire.
            SimOutcome::DroppedAfterCharge => Err(GatewayError::AnswerLost("connection closed mid-answer".into())),
            SimOutcome::BadGatewayAfterCharge => Err(GatewayError::AnswerLost("HTTP status 502".into())),
        }
    }

    pub(crate) async fn authorize(
        &self,
        req: &AuthorizationRequest<'_>,
    ) -> Result<AuthorizationResponse, GatewayError> {
        let terms = Terms { amount: req.amount, capture_mode: req.capture_mode.as_str(), capture_day: req.capture_day };
        let (delay, outcome) = self.decide(req.transaction_reference, req.card.expose_digits(), terms);
        Self::answer_after(delay, outcome).await
    }

    pub(crate) async fn duplicate(&self, req: &DuplicateRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        let (delay, outcome) = self.decide_duplicate(req);
        Self::answer_after(delay, outcome).await
    }

    pub(crate) async fn cash(&self, req: &CashRequest<'_>) -> Result<CashResponse, GatewayError> {
        tokio::time::sleep(self.latency).await;
        self.cash_now(req.transaction_reference, req.operation, req.amount)
    }

    pub(crate) async fn lookup(&self, reference: &str) -> Result<Lookup, GatewayError> {
        tokio::time::sleep(self.latency).await;
        self.lookup_now(reference)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::money::Currency;

    fn sim() -> Simulator {
        Simulator::new(Duration::ZERO, Duration::from_millis(10))
    }

    const TERMS: Terms<'static> = Terms { amount: 1000, capture_mode: "AUTHOR_CAPTURE", capture_day: 0 };

    #[test]
    fn a_reused_reference_is_refused_with_94_and_not_charged_again() {
        let s = sim();
        let (_, first) = s.decide("R1", "4100000000000100", TERMS);
        assert!(matches!(first, SimOutcome::Answer(a) if a.accepted()));
        let (_, second) = s.decide("R1", "4100000000000100", TERMS);
        assert!(matches!(second, SimOutcome::Answer(a) if a.response_code == "94"));
        assert_eq!(s.calls(), 2);
    }

    #[test]
    fn duplicates_reuse_the_card_the_platform_holds() {
        let s = sim();
        s.decide("OK", "4100000000000100", TERMS);
        s.decide("KO", "4100000000000605", TERMS);
        let dup = |from: &'static str, to: &'static str| DuplicateRequest {
            from_transaction_reference: from,
            transaction_reference: to,
            amount: 500,
            currency: Currency::Eur,
            capture_mode: crate::payments::merchant::CaptureMode::Validation,
            capture_day: 1,
            order_channel: "MOTO",
        };
        let code = |o: SimOutcome| match o {
            SimOutcome::Answer(a) => a.response_code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(s.decide_duplicate(&dup("OK", "D1")).1), "00");
        assert_eq!(code(s.decide_duplicate(&dup("KO", "D2")).1), "05", "the same card is refused again");
        assert_eq!(code(s.decide_duplicate(&dup("NONE", "D3")).1), "25");
        assert_eq!(code(s.decide_duplicate(&dup("OK", "D1")).1), "94");
        match s.lookup_now("D1").unwrap() {
            Lookup::Found(d) => assert_eq!((d.status.as_str(), d.origin_amount), ("TO_VALIDATE", Some(500))),
            Lookup::Unknown => panic!("the duplicate is in the books"),
        }
        assert_eq!(s.lookup_now("D3").unwrap(), Lookup::Unknown);
    }

    #[test]
    fn an_outage_refuses_everything_and_charges_nothing() {
        let s = sim();
        s.set_down(true);
        assert_eq!(s.decide("R", "4100000000000100", TERMS).1, SimOutcome::Unavailable);
        assert_eq!(s.cash_now("R", Operation::Cancel, 1), Err(GatewayError::Unavailable));
        assert_eq!(s.lookup_now("R"), Err(GatewayError::Unavailable));
        s.set_down(false);
        assert_eq!(s.lookup_now("R"), Ok(Lookup::Unknown));
    }

    #[test]
    fn the_clock_it_is_given_moves_captures() {
        let clock = Arc::new(crate::payments::clock::ShiftedClock::new());
        let s = sim().with_clock(clock.clone());
        s.decide("R", "4100000000000100", TERMS);
        assert_eq!(s.cash_now("R", Operation::Refund, 10).unwrap().response_code, "24");
        clock.advance(Duration::from_secs(2 * 86_400));
        assert!(s.cash_now("R", Operation::Refund, 10).unwrap().accepted());
        assert_eq!(s.operations(), 2);
    }
}
