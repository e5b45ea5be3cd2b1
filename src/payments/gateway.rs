//! The payment platform as ivrpay sees it: authorize a card, and ask what became of a
//! transaction whose answer was lost. Two implementations are planned behind one enum:
//! the built-in simulator (the embedded default, following the Sips simulation
//! conventions) and the Sips Office JSON connector.
//!
//! Card data crosses this boundary only inside [`AuthorizationRequest`], which borrows the
//! wiping types from `payments::card` and has no `Debug`.

use super::card::{CardNumber, Expiry, SecurityCode};
use super::money::Currency;
use super::simulator_rules::{self, SimBehaviour};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What is sent to authorize a payment.
pub struct AuthorizationRequest<'a> {
    /// Sips transactionReference (ours, unique).
    pub transaction_reference: &'a str,
    /// Minor units.
    pub amount: i64,
    pub currency: Currency,
    pub card: &'a CardNumber,
    pub expiry: Expiry,
    pub csc: &'a SecurityCode,
    /// AUTHOR_CAPTURE or VALIDATION.
    pub capture_mode: &'a str,
    pub capture_day: u8,
    /// MOTO by default (configurable).
    pub order_channel: &'a str,
}

/// The platform's answer (Sips vocabulary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub response_code: String,
    pub acquirer_response_code: String,
    pub authorisation_id: Option<String>,
    /// `N`: a card payment over a voice server carries no liability shift.
    pub guarantee_indicator: String,
    pub brand: String,
}

impl AuthorizationResponse {
    /// True for responseCode 00.
    pub fn accepted(&self) -> bool {
        self.response_code == "00"
    }
}

/// What `getTransactionData` says about a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The platform has it, with this answer.
    Found(AuthorizationResponse),
    /// The platform never saw it (responseCode 25): nothing was charged.
    Unknown,
}

/// Why the platform could not answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GatewayError {
    /// No answer in time: the outcome is unknown and must be resolved.
    #[error("payment platform timed out")]
    Timeout,
    /// The platform refused the connection or answered 90/99: nothing was charged.
    #[error("payment platform unavailable")]
    Unavailable,
    /// The answer's seal did not verify (Sips connector).
    #[error("payment platform answer failed the seal check")]
    BadSeal,
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
}

/// What the simulated platform does with one authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimOutcome {
    /// It answers.
    Answer(AuthorizationResponse),
    /// It never answers (and never charged).
    NoAnswer,
    /// It refuses the connection.
    Unavailable,
    /// It charged, then the answer is lost.
    LostAfterCharge,
}

/// The simulator: decides from the card number (see `simulator_rules`), waits a
/// realistic latency, and remembers what it "charged" so a lost answer can be looked up.
#[derive(Clone)]
pub struct Simulator {
    latency: Duration,
    timeout: Duration,
    charged: Arc<Mutex<HashMap<String, AuthorizationResponse>>>,
    calls: Arc<AtomicU64>,
}

impl Simulator {
    /// A simulator answering after `latency`; `timeout` is how long a NoAnswer card
    /// keeps the caller waiting before the timeout error.
    pub fn new(latency: Duration, timeout: Duration) -> Self {
        Simulator { latency, timeout, charged: Arc::default(), calls: Arc::new(AtomicU64::new(0)) }
    }

    /// Authorization requests received (tests prove nothing is sent twice).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// What the simulated platform does with a card: how long it takes and what comes
    /// of it. Charges are remembered for [`Simulator::lookup_now`]. Shared by the
    /// in-process gateway and the HTTP simulator (`payments::sips_sim`).
    pub fn decide(&self, reference: &str, card_digits: &str, amount: i64) -> (Duration, SimOutcome) {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let brand = simulator_rules::sim_brand(card_digits).unwrap_or("VISA").to_string();
        let answer = |rc: &str, arc: &str| AuthorizationResponse {
            response_code: rc.to_string(),
            acquirer_response_code: arc.to_string(),
            authorisation_id: (rc == "00").then(|| simulator_rules::authorisation_id(n ^ amount as u64)),
            guarantee_indicator: "N".to_string(),
            brand: brand.clone(),
        };
        let charge = |a: &AuthorizationResponse| {
            self.charged.lock().unwrap_or_else(|e| e.into_inner()).insert(reference.to_string(), a.clone());
        };
        match simulator_rules::behaviour_for(card_digits) {
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
        }
    }

    async fn authorize(&self, req: &AuthorizationRequest<'_>) -> Result<AuthorizationResponse, GatewayError> {
        let (delay, outcome) = self.decide(req.transaction_reference, req.card.expose_digits(), req.amount);
        tokio::time::sleep(delay).await;
        match outcome {
            SimOutcome::Answer(a) => Ok(a),
            SimOutcome::NoAnswer | SimOutcome::LostAfterCharge => Err(GatewayError::Timeout),
            SimOutcome::Unavailable => Err(GatewayError::Unavailable),
        }
    }

    /// What the simulated platform knows of a transaction.
    pub fn lookup_now(&self, reference: &str) -> Lookup {
        match self.charged.lock().unwrap_or_else(|e| e.into_inner()).get(reference) {
            Some(a) => Lookup::Found(a.clone()),
            None => Lookup::Unknown,
        }
    }

    async fn lookup(&self, reference: &str) -> Result<Lookup, GatewayError> {
        tokio::time::sleep(self.latency).await;
        Ok(self.lookup_now(reference))
    }
}
