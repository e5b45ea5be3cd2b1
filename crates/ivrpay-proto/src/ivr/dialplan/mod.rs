//! Dialplans: the call flows operators edit without touching code.
//!
//! A dialplan is a TOML file in `dialplans/`, one per service, naming the numbers that
//! reach it and a graph of steps (play, collect, menu, say, set language, invoice
//! lookup, authorization, branch, hang up). It is parsed and checked as a whole at
//! load ([`parse()`]): every step reference resolves, every prompt exists, every result
//! of a lookup or an authorization leads somewhere, card data can only be collected into
//! the wiping card slot. A file that fails any check is refused with each problem's path
//! and line, and the version already serving stays in force ([`registry`]).
//!
//! The types here are the checked, immutable form the [`engine`](super::engine) runs:
//! steps refer to each other by index, so a running call never looks a name up.

mod defs;
mod error;
pub mod parse;
#[cfg(test)]
mod parse_tests;

use std::path::PathBuf;
use std::time::Duration;

/// Most digits one collect step takes (a card number has at most 19): the engine's key
/// buffers are this size from the start, so they never reallocate card digits.
pub const MAX_DIGITS: usize = 32;

pub use parse::{parse, DialplanError};

/// Index of a step in [`Dialplan::steps`].
pub type StepId = usize;

/// A checked call flow.
#[derive(Debug)]
pub struct Dialplan {
    /// Short name (shown in call records and on the operator pages).
    pub name: String,
    /// What the flow is for, in the operator's words.
    pub description: String,
    /// File it was loaded from.
    pub path: PathBuf,
    /// Request-URI users (service numbers) answered by this flow.
    pub numbers: Vec<String>,
    /// Language spoken until a `set_language` step changes it.
    pub language: String,
    /// First step.
    pub start: StepId,
    /// All steps; [`StepId`]s index this.
    pub steps: Vec<Step>,
    /// Content hash of the file, so call records say which version a call ran.
    pub version: String,
}

impl Dialplan {
    /// The step with this name.
    pub fn step_id(&self, name: &str) -> Option<StepId> {
        self.steps.iter().position(|s| s.name == name)
    }
}

/// One step of a flow.
#[derive(Debug)]
pub struct Step {
    /// Name (the TOML table key), recorded in the call's step list.
    pub name: String,
    /// What it does.
    pub kind: StepKind,
    /// Entering this step more often than this in one call goes to the other step
    /// instead (bounds loops such as "unknown invoice, type it again").
    pub max_visits: Option<(u32, StepId)>,
    /// `*` during this step's input goes back to the previous input step.
    pub back: bool,
}

/// What a step does.
#[derive(Debug)]
pub enum StepKind {
    /// Plays prompts, then goes on.
    Play {
        /// Played in order.
        items: Vec<Item>,
        /// A key skips the rest and is kept for the next input step (off by default,
        /// so a message the caller must hear is heard).
        interruptible: bool,
        /// Step entered when the prompts end (or are skipped).
        next: StepId,
    },
    /// Collects digits into a variable or the card slot.
    Collect(Box<Collect>),
    /// Plays a choice and maps one key to a step.
    Menu(Box<Menu>),
    /// Switches the call's language.
    SetLanguage {
        /// Language code such as `fr` or `en` (its form is checked at load).
        language: String,
        /// Step entered right after, without waiting for the caller.
        next: StepId,
    },
    /// Finds the invoice whose payment code is in `var`.
    Lookup {
        /// Variable holding the payment code, filled by an earlier collect step.
        var: String,
        /// Where each lookup outcome leads.
        on: LookupTargets,
    },
    /// Sends the card authorization for the looked-up invoice; `items` play meanwhile.
    Authorize {
        /// Played while waiting for the platform, so the caller does not hear silence.
        items: Vec<Item>,
        /// Where each payment outcome leads.
        on: AuthorizeTargets,
    },
    /// Goes to the step whose case equals the variable's value.
    Branch {
        /// Variable whose value is compared.
        var: String,
        /// Exact value and its step, first match wins.
        cases: Vec<(String, StepId)>,
        /// Step when no case matches (or the variable is unset).
        default: StepId,
    },
    /// Plays its prompts to the end, then hangs up (BYE).
    Hangup {
        /// The goodbye, never cut short by a key.
        items: Vec<Item>,
    },
}

/// Something to play: a recorded prompt, or a value said from recorded fragments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A prompt by name, in the call's language.
    Prompt(String),
    /// A variable said as a kind of value.
    Say(SayAs, String),
}

/// How a variable is said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SayAs {
    /// An amount with its currency ("cent vingt-trois euros et quarante-cinq centimes").
    Amount,
    /// A date ("trente et un décembre deux mille vingt-six").
    Date,
    /// Digit by digit (an authorization number, the card's last four).
    Digits,
    /// A whole number.
    Number,
}

/// Where card digits go: never into ordinary variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardField {
    /// The card number (PAN).
    Number,
    /// The expiry date, MMYY.
    Expiry,
    /// The security code.
    SecurityCode,
}

/// Where a collect step puts what the caller typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An ordinary call variable (may be said back, logged by name only).
    Var(String),
    /// The wiping card slot of the payments module.
    Card(CardField),
}

/// How typed digits are checked before the flow goes on.
#[derive(Debug)]
pub enum Validator {
    /// No check beyond the digit counts.
    None,
    /// The whole input must match this regular expression.
    Pattern(regex_lite::Regex),
    /// Luhn checksum.
    Luhn,
    /// The Damm check digit of payment codes.
    CheckDigit,
    /// A card number: Luhn, known brand, length for the brand, accepted by the merchant.
    CardNumber,
    /// An expiry date MMYY not in the past.
    Expiry,
    /// A security code of the length the card's brand uses.
    SecurityCode,
}

/// A collect step.
#[derive(Debug)]
pub struct Collect {
    /// Prompts asking for the input.
    pub items: Vec<Item>,
    /// Whether a key stops the prompts (barge-in).
    pub interruptible: bool,
    /// Where the digits go.
    pub into: Target,
    /// Fewest digits accepted.
    pub min_digits: usize,
    /// Most digits accepted (collection ends when reached, unless a terminator is
    /// required).
    pub max_digits: usize,
    /// The key that ends the input early (usually `#`).
    pub terminator: Option<char>,
    /// The input ends only with the terminator.
    pub terminator_required: bool,
    /// Wait for the first key after the prompts end.
    pub first_digit_timeout: Duration,
    /// Wait for each following key.
    pub inter_digit_timeout: Duration,
    /// Tries in one visit (invalid input and silence both count).
    pub attempts: u32,
    /// The tries add up over every visit of the step in the call, and a lookup that
    /// finds no payable invoice for the variable this step fills counts as one: a caller
    /// gets `attempts` wrong payment codes per call, however they come back to the
    /// question (another invoice, `*`), while coming back without an error costs nothing.
    pub attempts_per_call: bool,
    /// The check applied to the input.
    pub validator: Validator,
    /// Discard keys typed ahead before this step (the caller must hear its prompts).
    pub flush: bool,
    /// Played after an invalid input (before asking again).
    pub invalid_items: Vec<Item>,
    /// Played after an invalid input, by reason, instead of `invalid_items`.
    pub reason_items: Vec<(Reason, Vec<Item>)>,
    /// Played after silence.
    pub timeout_items: Vec<Item>,
    /// Played when the attempts are used up.
    pub failure_items: Vec<Item>,
    /// After a valid input.
    pub next: StepId,
    /// When the attempts are used up.
    pub on_failure: StepId,
}

/// A menu step.
#[derive(Debug)]
pub struct Menu {
    /// Prompts stating the choice.
    pub items: Vec<Item>,
    /// Whether a key stops the prompts.
    pub interruptible: bool,
    /// Key to step.
    pub options: Vec<(char, StepId)>,
    /// Wait for the key after the prompts end.
    pub timeout: Duration,
    /// Where silence leads; without it silence counts as a failed attempt.
    pub on_timeout: Option<StepId>,
    /// Tries in one visit.
    pub attempts: u32,
    /// Discard keys typed ahead before this step.
    pub flush: bool,
    /// Played after a key that is not an option.
    pub invalid_items: Vec<Item>,
    /// Played after silence (when there is no `on_timeout`).
    pub timeout_items: Vec<Item>,
    /// Played when the attempts are used up.
    pub failure_items: Vec<Item>,
    /// When the attempts are used up.
    pub on_failure: StepId,
}

/// Why an input was refused; selects the prompt the caller hears.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// Fewer digits than required (or no terminator when required).
    TooShort,
    /// More digits than allowed.
    TooLong,
    /// Does not match the step's pattern.
    Pattern,
    /// Luhn checksum failed.
    Luhn,
    /// Damm check digit wrong.
    CheckDigit,
    /// No known card brand.
    UnknownBrand,
    /// The brand is known but this merchant does not accept it.
    BrandNotAccepted,
    /// Wrong length for the card's brand.
    BadLength,
    /// Expiry not MMYY with a month 01–12.
    BadExpiry,
    /// Card expired.
    Expired,
    /// Security code of the wrong length.
    BadSecurityCode,
}

impl Reason {
    /// All reasons, for parsing `reason_prompts` keys.
    pub const ALL: [Reason; 11] = [
        Reason::TooShort,
        Reason::TooLong,
        Reason::Pattern,
        Reason::Luhn,
        Reason::CheckDigit,
        Reason::UnknownBrand,
        Reason::BrandNotAccepted,
        Reason::BadLength,
        Reason::BadExpiry,
        Reason::Expired,
        Reason::BadSecurityCode,
    ];

    /// Name used in dialplan files.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::TooShort => "too_short",
            Reason::TooLong => "too_long",
            Reason::Pattern => "pattern",
            Reason::Luhn => "luhn",
            Reason::CheckDigit => "check_digit",
            Reason::UnknownBrand => "unknown_brand",
            Reason::BrandNotAccepted => "brand_not_accepted",
            Reason::BadLength => "bad_length",
            Reason::BadExpiry => "bad_expiry",
            Reason::Expired => "expired",
            Reason::BadSecurityCode => "bad_security_code",
        }
    }
}

/// Where each result of an invoice lookup leads. All are required so no caller is
/// left in silence.
#[derive(Debug)]
pub struct LookupTargets {
    /// The invoice can be paid.
    pub payable: StepId,
    /// No invoice has this code.
    pub unknown: StepId,
    /// Already paid.
    pub paid: StepId,
    /// Cancelled by the merchant.
    pub cancelled: StepId,
    /// Past its expiry.
    pub expired: StepId,
    /// A payment of it is still being resolved.
    pub in_progress: StepId,
    /// The database could not answer.
    pub error: StepId,
}

/// Where each result of an authorization leads.
#[derive(Debug)]
pub struct AuthorizeTargets {
    /// Authorized: the invoice is paid.
    pub accepted: StepId,
    /// Refused by the bank.
    pub refused: StepId,
    /// The platform could not be reached; nothing was charged.
    pub unavailable: StepId,
    /// No answer yet: the payment is being checked, never to be paid again.
    pub unresolved: StepId,
    /// The card data was refused before sending (e.g. brand not accepted).
    pub card_error: StepId,
    /// The invoice was paid or cancelled meanwhile.
    pub not_payable: StepId,
    /// Another payment of the invoice is still being resolved.
    pub in_progress: StepId,
}

/// Every prompt a flow names directly (not the fragments used to say values).
pub fn plan_prompt_names(plan: &Dialplan) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for item in plan.steps.iter().flat_map(|s| s.kind.items()) {
        if let Item::Prompt(p) = item {
            if !names.contains(p) {
                names.push(p.clone());
            }
        }
    }
    names
}

impl StepKind {
    /// Every item a step may play (prompts and said values), whatever path the caller
    /// takes through it: what load-time checks and prompt listings walk.
    pub fn items(&self) -> Vec<&Item> {
        match self {
            StepKind::Play { items, .. } | StepKind::Authorize { items, .. } | StepKind::Hangup { items } => {
                items.iter().collect()
            }
            StepKind::Collect(c) => c
                .items
                .iter()
                .chain(&c.invalid_items)
                .chain(&c.timeout_items)
                .chain(&c.failure_items)
                .chain(c.reason_items.iter().flat_map(|(_, v)| v))
                .collect(),
            StepKind::Menu(m) => {
                m.items.iter().chain(&m.invalid_items).chain(&m.timeout_items).chain(&m.failure_items).collect()
            }
            StepKind::SetLanguage { .. } | StepKind::Lookup { .. } | StepKind::Branch { .. } => Vec::new(),
        }
    }
}
