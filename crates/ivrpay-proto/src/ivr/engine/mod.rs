//! The dialplan engine: runs one call through a [`Dialplan`] as a sans-IO state
//! machine. Keys, playback ends, timeouts and the answers of the database and the
//! payment platform come in as [`AppInput`]s with the instant they happened; prompts
//! to play, lookups and authorizations to make go out as [`AppAction`]s. Tests drive
//! it on virtual time; the call task drives it on the wall clock.
//!
//! Keys are never logged, and not lost while the caller may type ahead: a key that
//! arrives while the engine is busy (a message plays, the invoice is being looked up)
//! waits in a type-ahead buffer and is used by the next input step, as a caller who
//! knows the flow expects. A question marked `interruptible = false` (the amount read
//! back, the payment summary) must be heard to the end: keys typed before or while it
//! plays are discarded, so nothing is confirmed unheard.
//!
//! `*` goes back to the previous question, never across an invoice lookup or an
//! authorization: their result decides where the call goes, and going back over it
//! would replay questions about an invoice or a card that no longer apply. Card fields
//! go straight from the collect buffer into the payments module's wiping types, and
//! every digit buffer is wiped when it is emptied.

mod input;
mod keys;
mod render;
/// Why an Authorize step cannot send an order; each reason has its own branch of the
/// dialplan (`not_payable`, `card_error`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
enum OrderError {
    /// No invoice was found, or the one found is not payable (paid, expired...).
    #[error("no payable invoice")]
    NotPayable,
    /// The card number, expiry or security code was not collected.
    #[error("card data incomplete")]
    CardIncomplete,
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flow;
#[cfg(test)]
mod tests_payment;
mod validate;

use crate::ivr::app::{
    AppAction, AppInput, AppReport, AuthorizeOrder, AuthorizeResult, CallApp, CallOutcome, LookupResult,
};
use crate::ivr::dialplan::{Dialplan, Item, StepId, StepKind};
use crate::ivr::prompts::PromptLibrary;
use crate::payments::invoice::Invoice;
use crate::payments::invoice::InvoiceStatus;
use crate::payments::merchant::Merchant;
use chrono::NaiveDate;
use input::Input;
use keys::KeyBuffer;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use validate::CardSlot;

/// Steps taken without waiting for anything before the engine decides the dialplan
/// loops (branches pointing at each other) and hangs up rather than spin.
const MAX_STEPS_WITHOUT_WAIT: usize = 64;
/// Longest trail of steps kept for the call record.
const MAX_TRAIL: usize = 256;
/// Slack after a prompt's expected end before the engine stops waiting for the
/// playback notice (media on hold, a stream that never started).
const PLAYBACK_GUARD: Duration = Duration::from_secs(3);

/// Where the engine is.
enum State {
    /// Before media starts.
    Idle,
    /// A play step's prompts are playing.
    Play { token: u64, guard: Instant, interruptible: bool, next: StepId },
    /// A collect or menu step.
    Input(Input),
    /// Waiting for the invoice lookup.
    Lookup,
    /// Waiting for the authorization.
    Authorize,
    /// The goodbye plays; then BYE.
    Hangup { token: u64, guard: Instant },
    /// Nothing more to do.
    Done,
}

/// What happened on the call that decides its outcome.
#[derive(Default)]
struct Results {
    paid: bool,
    last_auth: Option<AuthKind>,
    payable_found: bool,
    invalid_invoice: bool,
    lookup_error: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum AuthKind {
    Refused,
    PlatformError,
    NotPayable,
}

/// One call's run through a dialplan.
pub struct Engine {
    plan: Arc<Dialplan>,
    prompts: Arc<PromptLibrary>,
    language: String,
    today: NaiveDate,
    vars: BTreeMap<String, String>,
    invoice: Option<Box<(Invoice, Merchant)>>,
    card: CardSlot,
    typeahead: KeyBuffer,
    state: State,
    current: Option<StepId>,
    visits: Vec<u32>,
    /// Failed attempts per step over the whole call (for `attempts_per_call` steps).
    failures: Vec<u32>,
    history: Vec<StepId>,
    trail: Vec<String>,
    next_token: u64,
    busy_until: Option<Instant>,
    auth_attempts: u32,
    results: Results,
    transaction_reference: Option<String>,
    /// Actions decided and not yet taken by the call (see [`CallApp::poll_action`]).
    actions: VecDeque<AppAction>,
}

impl Engine {
    /// A call about to run `plan`. `today` checks card expiry dates.
    pub fn new(plan: Arc<Dialplan>, prompts: Arc<PromptLibrary>, today: NaiveDate) -> Engine {
        Engine {
            language: plan.language.clone(),
            visits: vec![0; plan.steps.len()],
            failures: vec![0; plan.steps.len()],
            plan,
            prompts,
            today,
            vars: BTreeMap::new(),
            invoice: None,
            card: CardSlot::default(),
            typeahead: KeyBuffer::default(),
            state: State::Idle,
            current: None,
            history: Vec::new(),
            trail: Vec::new(),
            next_token: 0,
            busy_until: None,
            auth_attempts: 0,
            results: Results::default(),
            transaction_reference: None,
            actions: VecDeque::new(),
        }
    }

    /// Queues prompts; returns the token of the playback notice and the instant after
    /// which the engine stops waiting for it.
    fn play(&mut self, items: &[Item], now: Instant) -> (u64, Instant) {
        let prompts = render::render(self, items);
        let ms: u64 = prompts.iter().map(|p| p.duration_ms()).sum();
        self.next_token += 1;
        let start = self.busy_until.filter(|b| *b > now).unwrap_or(now);
        let end = start + Duration::from_millis(ms);
        self.busy_until = Some(end);
        self.actions.push_back(AppAction::Play { prompts, token: self.next_token });
        (self.next_token, end + PLAYBACK_GUARD)
    }

    fn stop_playback(&mut self, now: Instant) {
        self.busy_until = Some(now);
        self.actions.push_back(AppAction::StopPlayback);
    }

    /// Enters `step` and follows steps that need no waiting (language, branch, ...).
    fn goto(&mut self, mut step: StepId, now: Instant) {
        let plan = self.plan.clone();
        for _ in 0..MAX_STEPS_WITHOUT_WAIT {
            self.visits[step] += 1;
            let s = &plan.steps[step];
            if let Some((max, instead)) = s.max_visits {
                if self.visits[step] > max {
                    step = instead;
                    continue;
                }
            }
            self.current = Some(step);
            if self.trail.len() < MAX_TRAIL {
                self.trail.push(s.name.clone());
            }
            tracing::debug!(dialplan = %plan.name, step = %s.name, "step");
            match &s.kind {
                StepKind::Play { items, interruptible, next } => {
                    let (token, guard) = self.play(items, now);
                    self.state = State::Play { token, guard, interruptible: *interruptible, next: *next };
                    return;
                }
                StepKind::Collect(_) | StepKind::Menu(_) => {
                    self.enter_input(step, now);
                    return;
                }
                StepKind::SetLanguage { language, next } => {
                    self.language = language.clone();
                    step = *next;
                }
                StepKind::Lookup { var, .. } => {
                    let code = self.vars.get(var).cloned().unwrap_or_default();
                    self.state = State::Lookup;
                    self.actions.push_back(AppAction::LookupInvoice { code });
                    return;
                }
                StepKind::Authorize { items, on } => match self.take_order() {
                    Err(e) => {
                        self.history.clear();
                        step = match e {
                            OrderError::NotPayable => on.not_payable,
                            OrderError::CardIncomplete => on.card_error,
                        };
                    }
                    Ok(order) => {
                        if !items.is_empty() {
                            self.play(items, now);
                        }
                        self.state = State::Authorize;
                        self.actions.push_back(AppAction::Authorize(Box::new(order)));
                        return;
                    }
                },
                StepKind::Branch { var, cases, default } => {
                    let value = self.var_value(var);
                    step = cases.iter().find(|(k, _)| Some(k.as_str()) == value.as_deref()).map_or(*default, |c| c.1);
                }
                StepKind::Hangup { items } => {
                    let (token, guard) = self.play(items, now);
                    self.state = State::Hangup { token, guard };
                    return;
                }
            }
        }
        tracing::error!(dialplan = %plan.name, "dialplan loops without waiting for the caller; hanging up");
        self.state = State::Done;
        self.actions.push_back(AppAction::Hangup);
    }

    /// Moves the card out of the slot for an authorization.
    fn take_order(&mut self) -> Result<AuthorizeOrder, OrderError> {
        let Some(found) = self.invoice.as_ref().filter(|b| b.0.status == InvoiceStatus::Payable) else {
            return Err(OrderError::NotPayable);
        };
        let (invoice, merchant) = (found.0.clone(), found.1.clone());
        let slot = std::mem::take(&mut self.card);
        let (Some(card), Some(expiry), Some(csc)) = (slot.number, slot.expiry, slot.csc) else {
            return Err(OrderError::CardIncomplete);
        };
        self.auth_attempts += 1;
        Ok(AuthorizeOrder { invoice, merchant, card, expiry, csc, attempt: self.auth_attempts })
    }

    /// A variable as text (built-ins, visit counters, collected values).
    fn var_value(&self, name: &str) -> Option<String> {
        if let Some(step) = name.strip_prefix("visits.") {
            return self.plan.step_id(step).map(|i| self.visits[i].to_string());
        }
        if name == "language" {
            return Some(self.language.clone());
        }
        self.vars.get(name).cloned()
    }

    fn on_lookup(&mut self, result: LookupResult, now: Instant) {
        let plan = self.plan.clone();
        let Some(StepKind::Lookup { on, var }) = self.current.map(|c| &plan.steps[c].kind) else { return };
        // No going back across the lookup: its result decides what follows.
        self.history.clear();
        let failed_code = match &result {
            LookupResult::Found(found) => found.0.status != InvoiceStatus::Payable,
            // The code is right: a payment of it is under way.
            LookupResult::InProgress(_) => false,
            LookupResult::Unknown => true,
            LookupResult::Error => false,
        };
        if failed_code {
            self.count_failed_code(var);
        }
        let target = match result {
            LookupResult::Found(found) => {
                let inv = &found.0;
                self.vars.insert("invoice.reference".into(), inv.reference.clone());
                let target = match inv.status {
                    InvoiceStatus::Payable => on.payable,
                    InvoiceStatus::Paid => on.paid,
                    InvoiceStatus::Cancelled => on.cancelled,
                    InvoiceStatus::Expired => on.expired,
                };
                if inv.status == InvoiceStatus::Payable {
                    self.results.payable_found = true;
                } else {
                    self.results.invalid_invoice = true;
                }
                self.invoice = Some(found);
                target
            }
            LookupResult::InProgress(found) => {
                self.vars.insert("invoice.reference".into(), found.0.reference.clone());
                self.results.invalid_invoice = true;
                on.in_progress
            }
            LookupResult::Unknown => {
                self.results.invalid_invoice = true;
                on.unknown
            }
            LookupResult::Error => {
                self.results.lookup_error = true;
                on.error
            }
        };
        self.goto(target, now);
    }

    /// A code that found no payable invoice counts as a failed attempt of the question
    /// that collected it, when that question counts its attempts over the call.
    fn count_failed_code(&mut self, var: &str) {
        let asked = self.plan.steps.iter().position(|s| match &s.kind {
            StepKind::Collect(c) => c.attempts_per_call && c.into == crate::ivr::dialplan::Target::Var(var.to_string()),
            _ => false,
        });
        if let Some(step) = asked {
            self.failures[step] += 1;
        }
    }

    fn on_authorized(&mut self, result: AuthorizeResult, now: Instant) {
        let Some(StepKind::Authorize { on, .. }) = self.current.map(|c| &self.plan.steps[c].kind) else { return };
        // No going back across the authorization: the card it took is gone.
        self.history.clear();
        let (target, kind) = match result {
            AuthorizeResult::Accepted { reference, authorisation_id } => {
                self.results.paid = true;
                self.vars.insert("payment.authorisation_id".into(), authorisation_id);
                self.vars.insert("payment.reference".into(), reference.clone());
                self.transaction_reference = Some(reference);
                (on.accepted, None)
            }
            AuthorizeResult::Refused { reference, .. } => {
                self.transaction_reference = Some(reference);
                (on.refused, Some(AuthKind::Refused))
            }
            AuthorizeResult::CardError => (on.card_error, Some(AuthKind::Refused)),
            AuthorizeResult::Unavailable { reference } => {
                self.transaction_reference = Some(reference);
                (on.unavailable, Some(AuthKind::PlatformError))
            }
            AuthorizeResult::Unresolved { reference } => {
                self.transaction_reference = reference;
                (on.unresolved, Some(AuthKind::PlatformError))
            }
            AuthorizeResult::NotPayable => (on.not_payable, Some(AuthKind::NotPayable)),
            AuthorizeResult::InProgress => (on.in_progress, Some(AuthKind::NotPayable)),
        };
        if !self.results.paid {
            self.results.last_auth = kind;
        }
        self.goto(target, now);
    }

    fn on_playback_done(&mut self, token: u64, now: Instant) {
        match &self.state {
            State::Play { token: t, next, .. } if *t == token => {
                let next = *next;
                self.goto(next, now);
            }
            State::Hangup { token: t, .. } if *t == token => {
                self.state = State::Done;
                self.actions.push_back(AppAction::Hangup);
            }
            State::Input(_) => self.input_playback_done(token, now),
            _ => {}
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Play { token, guard, .. } | State::Hangup { token, guard } if now >= *guard => {
                let token = *token;
                self.on_playback_done(token, now);
            }
            State::Input(_) => self.input_timeout(now),
            _ => {}
        }
    }

    fn on_key(&mut self, key: char, now: Instant) {
        // Which key is never logged: during card entry it is card data.
        tracing::trace!(step = %self.current_step(), "key received");
        if self.hearing_out() {
            // A question that must be heard to the end: the key is not an answer to it.
            return;
        }
        self.typeahead.push(key);
        self.pump(now);
    }

    /// Feeds waiting keys to the step while it takes keys.
    fn pump(&mut self, now: Instant) {
        loop {
            match &self.state {
                State::Play { interruptible: true, next, .. } if !self.typeahead.is_empty() => {
                    // A key during an interruptible message: skip to what follows; the
                    // key itself is for the next input step.
                    let next = *next;
                    self.stop_playback(now);
                    self.goto(next, now);
                }
                State::Input(i) if i.takes_keys() => match self.typeahead.pop() {
                    Some(key) => self.input_key(key, now),
                    None => return,
                },
                _ => return,
            }
        }
    }
}

impl CallApp for Engine {
    fn handle(&mut self, input: AppInput, now: Instant) {
        if matches!(self.state, State::Done) {
            return;
        }
        match input {
            AppInput::Started => {
                if matches!(self.state, State::Idle) {
                    let start = self.plan.start;
                    self.goto(start, now);
                }
            }
            AppInput::Digit(d) => self.on_key(d, now),
            AppInput::PlaybackDone(token) => self.on_playback_done(token, now),
            AppInput::Timeout => self.on_timeout(now),
            AppInput::Invoice(r) if matches!(self.state, State::Lookup) => self.on_lookup(r, now),
            AppInput::Authorized(r) if matches!(self.state, State::Authorize) => self.on_authorized(r, now),
            AppInput::Invoice(_) | AppInput::Authorized(_) => {}
        }
        self.pump(now);
    }

    fn poll_action(&mut self) -> Option<AppAction> {
        crate::queue::pop_or_release(&mut self.actions)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Play { guard, .. } | State::Hangup { guard, .. } => Some(*guard),
            State::Input(i) => Some(i.deadline()),
            State::Idle | State::Lookup | State::Authorize | State::Done => None,
        }
    }

    fn current_step(&self) -> &str {
        self.current.map(|c| self.plan.steps[c].name.as_str()).unwrap_or("")
    }

    fn outcome(&self) -> CallOutcome {
        let r = &self.results;
        if r.paid {
            return CallOutcome::Paid;
        }
        match r.last_auth {
            Some(AuthKind::Refused) => CallOutcome::Refused,
            Some(AuthKind::PlatformError) => CallOutcome::PlatformError,
            Some(AuthKind::NotPayable) => CallOutcome::InvalidInvoice,
            None if r.lookup_error => CallOutcome::PlatformError,
            None if r.invalid_invoice && !r.payable_found => CallOutcome::InvalidInvoice,
            None => CallOutcome::Abandoned,
        }
    }

    fn report(&self) -> AppReport {
        AppReport {
            flow: Some((self.plan.name.clone(), self.plan.version.clone())),
            steps: self.trail.clone(),
            language: self.language.clone(),
            invoice_id: self.invoice.as_ref().map(|b| b.0.id.clone()),
            transaction_reference: self.transaction_reference.clone(),
        }
    }
}
