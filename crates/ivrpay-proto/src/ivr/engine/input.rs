//! Collect and menu steps: ask, take keys (with barge-in), time out, check, complain,
//! ask again, give up. Timeouts start when the question has finished playing, as
//! callers expect: nobody is timed out while still being spoken to. A question that is
//! not interruptible is heard to the end: keys typed before it or while it plays are
//! discarded, and it is never stopped.

use super::validate::{accept_card_field, check_plain, CheckContext};
use super::{Engine, State};
use crate::ivr::dialplan::{CardField, Collect, Item, Menu, Reason, StepId, StepKind, Target, Validator};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zeroize::{Zeroize, Zeroizing};

/// What follows a complaint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Then {
    /// Ask the question again.
    Ask,
    /// Attempts used up: leave by the failure path.
    Fail,
}

/// Where an input step is.
#[derive(Clone, Copy)]
pub(super) enum Phase {
    /// The question plays; keys may interrupt it.
    Asking { token: u64, guard: Instant },
    /// The question is over and no key came yet.
    Waiting { deadline: Instant },
    /// Some keys came; waiting for the next one.
    Typing { deadline: Instant },
    /// An error message plays; keys wait in the type-ahead buffer.
    Complaining { token: u64, guard: Instant, then: Then },
}

/// A visit of a collect or menu step.
pub(super) struct Input {
    attempt: u32,
    /// Not interruptible: keys are discarded while the question plays.
    hear_out: bool,
    phase: Phase,
    digits: Zeroizing<String>,
}

impl Input {
    /// Whether keys go to this step now (not while it complains).
    pub fn takes_keys(&self) -> bool {
        !matches!(self.phase, Phase::Complaining { .. }) && !self.hearing_out()
    }

    /// Whether the question plays and must be heard to the end (keys are discarded).
    pub fn hearing_out(&self) -> bool {
        self.hear_out && matches!(self.phase, Phase::Asking { .. })
    }

    /// When the engine must be woken.
    pub fn deadline(&self) -> Instant {
        match self.phase {
            Phase::Asking { guard, .. } | Phase::Complaining { guard, .. } => guard,
            Phase::Waiting { deadline } | Phase::Typing { deadline } => deadline,
        }
    }
}

/// Why an attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Silence,
    Invalid(Reason),
}

/// The step's kind, borrowed from a plan the caller holds.
enum Kind<'a> {
    Collect(&'a Collect),
    Menu(&'a Menu),
}

impl Kind<'_> {
    fn question(&self) -> &[Item] {
        match self {
            Kind::Collect(c) => &c.items,
            Kind::Menu(m) => &m.items,
        }
    }

    fn first_timeout(&self) -> Duration {
        match self {
            Kind::Collect(c) => c.first_digit_timeout,
            Kind::Menu(m) => m.timeout,
        }
    }

    fn interruptible(&self) -> bool {
        match self {
            Kind::Collect(c) => c.interruptible,
            Kind::Menu(m) => m.interruptible,
        }
    }
}

fn kind_of(plan: &crate::ivr::dialplan::Dialplan, step: StepId) -> Option<Kind<'_>> {
    match &plan.steps[step].kind {
        StepKind::Collect(c) => Some(Kind::Collect(c)),
        StepKind::Menu(m) => Some(Kind::Menu(m)),
        _ => None,
    }
}

impl Engine {
    /// Whether a key now would be typed over a question that must be heard out.
    pub(super) fn hearing_out(&self) -> bool {
        matches!(&self.state, State::Input(i) if i.hearing_out())
    }

    fn input(&mut self) -> Option<&mut Input> {
        match &mut self.state {
            State::Input(i) => Some(i),
            _ => None,
        }
    }

    /// Starts a visit of a collect or menu step.
    pub(super) fn enter_input(&mut self, step: StepId, now: Instant) {
        let plan = self.plan.clone();
        let Some(kind) = kind_of(&plan, step) else { return };
        let hear_out = !kind.interruptible();
        let (per_call, attempts) = match &kind {
            Kind::Collect(c) => (c.attempts_per_call, c.attempts),
            Kind::Menu(_) => (false, u32::MAX),
        };
        let flush = match kind {
            Kind::Collect(c) => {
                if let Target::Card(field) = c.into {
                    self.card.clear(field);
                    if field == CardField::Number {
                        self.vars.remove("card.last4");
                    }
                }
                c.flush
            }
            Kind::Menu(m) => m.flush,
        };
        // Keys typed before a question that must be heard are not answers to it.
        if flush || hear_out {
            self.typeahead.clear();
        }
        let attempt = if per_call { self.failures[step] } else { 0 };
        let phase = Phase::Waiting { deadline: now };
        self.state = State::Input(Input { attempt, hear_out, phase, digits: card_buffer() });
        if attempt >= attempts {
            // The attempts of the call are used up (a code refused by the lookup).
            self.typeahead.clear();
            self.complain(Then::Fail, now);
            return;
        }
        self.ask(now);
    }

    /// Plays the question (again).
    fn ask(&mut self, now: Instant) {
        let plan = self.plan.clone();
        let Some(step) = self.current else { return };
        let Some(kind) = kind_of(&plan, step) else { return };
        let phase = if kind.question().is_empty() {
            Phase::Waiting { deadline: now + kind.first_timeout() }
        } else {
            if !kind.interruptible() {
                // Keys typed during a complaint are not answers to a question not heard yet.
                self.typeahead.clear();
            }
            let (token, guard) = self.play(kind.question(), now);
            Phase::Asking { token, guard }
        };
        if let Some(i) = self.input() {
            i.phase = phase;
        }
    }

    pub(super) fn input_playback_done(&mut self, token: u64, now: Instant) {
        let plan = self.plan.clone();
        let Some(kind) = self.current.and_then(|s| kind_of(&plan, s)) else { return };
        let Some(i) = self.input() else { return };
        match i.phase {
            Phase::Asking { token: t, .. } if t == token => {
                i.phase = Phase::Waiting { deadline: now + kind.first_timeout() };
            }
            Phase::Complaining { token: t, then, .. } if t == token => self.after_complaint(then, now),
            _ => {}
        }
    }

    pub(super) fn input_timeout(&mut self, now: Instant) {
        let plan = self.plan.clone();
        let Some(step) = self.current else { return };
        let Some(kind) = kind_of(&plan, step) else { return };
        let Some(i) = self.input() else { return };
        if now < i.deadline() {
            return;
        }
        match i.phase {
            Phase::Asking { token, .. } | Phase::Complaining { token, .. } => self.input_playback_done(token, now),
            Phase::Waiting { .. } => match kind {
                Kind::Menu(Menu { on_timeout: Some(to), .. }) => self.goto(*to, now),
                _ => self.fail(Failure::Silence, now),
            },
            Phase::Typing { .. } => {
                let Kind::Collect(c) = kind else { return };
                if !c.terminator_required && i.digits.len() >= self.min_digits(c) {
                    self.complete(c, now);
                } else {
                    self.fail(Failure::Invalid(Reason::TooShort), now);
                }
            }
        }
    }

    /// The fewest digits this visit accepts (a security code's length is its brand's).
    fn min_digits(&self, c: &Collect) -> usize {
        match (&c.validator, self.card.brand()) {
            (Validator::SecurityCode, Some(b)) => b.csc_length(),
            _ => c.min_digits,
        }
    }

    fn max_digits(&self, c: &Collect) -> usize {
        match (&c.validator, self.card.brand()) {
            (Validator::SecurityCode, Some(b)) => b.csc_length(),
            _ => c.max_digits,
        }
    }

    pub(super) fn input_key(&mut self, key: char, now: Instant) {
        let plan = self.plan.clone();
        let Some(step) = self.current else { return };
        let Some(kind) = kind_of(&plan, step) else { return };
        let back = plan.steps[step].back;
        let interruptible = kind.interruptible();
        let Some(i) = self.input() else { return };
        if matches!(i.phase, Phase::Asking { .. }) && interruptible {
            // Barge-in: the caller knows what to type.
            i.phase = Phase::Typing { deadline: now };
            self.stop_playback(now);
        }
        match kind {
            Kind::Menu(m) => {
                if let Some((_, to)) = m.options.iter().find(|(k, _)| *k == key) {
                    self.history.push(step);
                    self.goto(*to, now);
                } else if key == '*' && back {
                    self.go_back(now);
                } else {
                    self.fail(Failure::Invalid(Reason::Pattern), now);
                }
            }
            Kind::Collect(c) => {
                let (min, max) = (self.min_digits(c), self.max_digits(c));
                let Some(i) = self.input() else { return };
                if key == '*' && back {
                    self.go_back(now);
                } else if Some(key) == c.terminator {
                    if i.digits.len() >= min {
                        self.complete(c, now);
                    } else {
                        self.fail(Failure::Invalid(Reason::TooShort), now);
                    }
                } else if key.is_ascii_digit() {
                    if i.digits.len() >= max {
                        self.fail(Failure::Invalid(Reason::TooLong), now);
                        return;
                    }
                    i.digits.push(key);
                    if i.digits.len() == max && !c.terminator_required {
                        self.complete(c, now);
                    } else {
                        i.phase = Phase::Typing { deadline: now + c.inter_digit_timeout };
                    }
                }
                // Other keys (A-D, an unused # or *) mean nothing here.
            }
        }
    }

    /// Checks the digits and goes on, or complains.
    fn complete(&mut self, c: &Collect, now: Instant) {
        let Some(step) = self.current else { return };
        let Some(i) = self.input() else { return };
        let digits = std::mem::take(&mut i.digits);
        let checked = match &c.into {
            Target::Var(name) => check_plain(&c.validator, &digits).map(|()| {
                self.vars.insert(name.clone(), digits.to_string());
            }),
            Target::Card(field) => {
                let accepted = self.invoice.as_ref().map(|b| b.1.accepted_brands.as_slice());
                let ctx = CheckContext { accepted, today: self.today };
                let r = accept_card_field(*field, &digits, &mut self.card, &ctx);
                if r.is_ok() && *field == CardField::Number {
                    if let Some(n) = &self.card.number {
                        self.vars.insert("card.last4".into(), n.last4().to_string());
                    }
                }
                r
            }
        };
        drop(digits);
        match checked {
            Ok(()) => {
                self.history.push(step);
                self.goto(c.next, now);
            }
            Err(reason) => {
                if reason == Reason::CheckDigit {
                    self.results.invalid_invoice = true;
                }
                self.fail(Failure::Invalid(reason), now);
            }
        }
    }

    /// Counts a failed attempt; complains and asks again, or leaves by the failure path.
    fn fail(&mut self, failure: Failure, now: Instant) {
        let plan = self.plan.clone();
        let Some(kind) = self.current.and_then(|s| kind_of(&plan, s)) else { return };
        self.typeahead.clear();
        let per_call = matches!(&kind, Kind::Collect(c) if c.attempts_per_call);
        if per_call {
            if let Some(step) = self.current {
                self.failures[step] += 1;
            }
        }
        let Some(i) = self.input() else { return };
        i.digits.zeroize();
        i.attempt += 1;
        let (attempts, failure_items, invalid, timeout, reasons): (u32, &[Item], &[Item], &[Item], &[_]) = match &kind {
            Kind::Collect(c) => (c.attempts, &c.failure_items, &c.invalid_items, &c.timeout_items, &c.reason_items),
            Kind::Menu(m) => (m.attempts, &m.failure_items, &m.invalid_items, &m.timeout_items, &[]),
        };
        let (items, then) = if i.attempt >= attempts {
            (failure_items, Then::Fail)
        } else {
            let items = match failure {
                Failure::Silence => timeout,
                Failure::Invalid(r) => reasons.iter().find(|(x, _)| *x == r).map_or(invalid, |(_, v)| v.as_slice()),
            };
            (items, Then::Ask)
        };
        let items: Vec<Item> = items.to_vec();
        self.play_complaint(&items, then, now);
    }

    /// Plays the step's message for attempts used up, then leaves by its failure path.
    fn complain(&mut self, then: Then, now: Instant) {
        let plan = self.plan.clone();
        let items: &[Item] = match self.current.and_then(|s| kind_of(&plan, s)) {
            Some(Kind::Collect(c)) => &c.failure_items,
            Some(Kind::Menu(m)) => &m.failure_items,
            None => return,
        };
        self.play_complaint(items, then, now);
    }

    fn play_complaint(&mut self, items: &[Item], then: Then, now: Instant) {
        if items.is_empty() {
            self.after_complaint(then, now);
        } else {
            let (token, guard) = self.play(items, now);
            if let Some(i) = self.input() {
                i.phase = Phase::Complaining { token, guard, then };
            }
        }
    }

    fn after_complaint(&mut self, then: Then, now: Instant) {
        let plan: Arc<_> = self.plan.clone();
        match (then, self.current.and_then(|s| kind_of(&plan, s))) {
            (Then::Ask, _) => self.ask(now),
            (Then::Fail, Some(Kind::Collect(c))) => self.goto(c.on_failure, now),
            (Then::Fail, Some(Kind::Menu(m))) => self.goto(m.on_failure, now),
            (Then::Fail, None) => {}
        }
    }

    /// `*`: back to the previous input step, or this question again if there is none.
    fn go_back(&mut self, now: Instant) {
        self.typeahead.clear();
        let current = self.current;
        while let Some(prev) = self.history.pop() {
            if Some(prev) != current {
                self.goto(prev, now);
                return;
            }
        }
        if let Some(i) = self.input() {
            i.digits.zeroize();
        }
        self.ask(now);
    }
}

/// A buffer for the keys of one input, at its final size from the start: a step takes
/// at most 32 digits (the dialplan parser refuses more), so pushing never reallocates
/// and leaves no copy of card digits in freed memory; it is wiped when dropped.
pub(super) fn card_buffer() -> Zeroizing<String> {
    Zeroizing::new(String::with_capacity(crate::ivr::dialplan::MAX_DIGITS))
}
