//! The contract between a call and the application that talks to the caller (the
//! diagnostic echo service, the dialplan engine): events in, actions out, on injected
//! time. Applications never see sockets, SIP or SQL: when they need the database or
//! the payment platform they ask with an action, and the answer comes back as an input.

use super::prompts::Prompt;
use crate::payments::card::{CardNumber, Expiry, SecurityCode};
use crate::payments::invoice::Invoice;
use crate::payments::merchant::Merchant;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// Something that happened on the call. Its `Debug` never shows which key was pressed.
pub enum AppInput {
    /// Media is up: the application may start talking.
    Started,
    /// The caller pressed a key (from RFC 4733, SIP INFO or in-band tones). Never
    /// logged: during card entry it is card data.
    Digit(char),
    /// Everything queued by the `Play` with this token has been sent.
    PlaybackDone(u64),
    /// The instant returned by `poll_timeout` was reached.
    Timeout,
    /// The answer to [`AppAction::LookupInvoice`].
    Invoice(LookupResult),
    /// The answer to [`AppAction::Authorize`].
    Authorized(AuthorizeResult),
}

impl fmt::Debug for AppInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppInput::Started => f.write_str("Started"),
            AppInput::Digit(_) => f.write_str("Digit(<withheld>)"),
            AppInput::PlaybackDone(t) => write!(f, "PlaybackDone({t})"),
            AppInput::Timeout => f.write_str("Timeout"),
            AppInput::Invoice(r) => write!(f, "Invoice({r:?})"),
            AppInput::Authorized(r) => write!(f, "Authorized({r:?})"),
        }
    }
}

/// What the database said about a payment code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupResult {
    /// The invoice with that code (in whatever status) and its merchant.
    Found(Box<(Invoice, Merchant)>),
    /// The invoice is payable but a payment of it is still being resolved (sent, no
    /// answer yet): the caller must hear it is being processed, neither "paid" nor
    /// asked to pay again.
    InProgress(Box<(Invoice, Merchant)>),
    /// No invoice has that code.
    Unknown,
    /// The database could not answer.
    Error,
}

/// What became of an authorization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthorizeResult {
    /// Authorized; the invoice is paid.
    Accepted {
        /// Sips transaction reference, for the call record and the dialplan
        /// (`payment.reference`).
        reference: String,
        /// Bank authorization number, which the dialplan may read to the caller as a receipt.
        authorisation_id: String,
    },
    /// Refused by the bank (or the card failed a check at the platform).
    Refused {
        /// Sips transaction reference, recorded on the call.
        reference: String,
        /// Sips `responseCode` (e.g. `05`); logged, never read out.
        response_code: String,
    },
    /// The platform could not be reached; nothing was charged.
    Unavailable {
        /// Sips transaction reference of the attempt, recorded on the call.
        reference: String,
    },
    /// The outcome is not known yet; recovery resolves it. The caller must not pay again.
    Unresolved {
        /// Sips transaction reference; `None` when the database failed and could not say.
        reference: Option<String>,
    },
    /// The card data was refused before anything was sent.
    CardError,
    /// The invoice could not be paid any more (paid or cancelled meanwhile).
    NotPayable,
    /// Another payment of the invoice is still being resolved (from another call):
    /// nothing was sent.
    InProgress,
}

/// Everything needed to send one authorization: the looked-up invoice and merchant,
/// and the card data moved out of the engine's wiping slot (it is wiped when this is
/// dropped, and its `Debug` shows nothing typed).
pub struct AuthorizeOrder {
    /// The invoice being paid.
    pub invoice: Invoice,
    /// Its merchant (accepted brands, capture mode and day).
    pub merchant: Merchant,
    /// The card number.
    pub card: CardNumber,
    /// The expiry date.
    pub expiry: Expiry,
    /// The security code, wiped once sent.
    pub csc: SecurityCode,
    /// 1 for the first card tried in this call, 2 for the next...: with the Call-ID it
    /// makes the idempotency key, so a retried request never charges twice.
    pub attempt: u32,
}

impl fmt::Debug for AuthorizeOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeOrder")
            .field("invoice", &self.invoice.id)
            .field("card", &self.card)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// What the application wants done.
#[derive(Debug)]
pub enum AppAction {
    /// Queue prompts after whatever is playing; `token` comes back in `PlaybackDone`.
    Play {
        /// Played in order.
        prompts: Vec<Arc<Prompt>>,
        /// Chosen by the engine so a late `PlaybackDone` from an older queue is recognised.
        token: u64,
    },
    /// Stop playing and drop everything queued (barge-in).
    StopPlayback,
    /// End the call (the SIP leg sends BYE).
    Hangup,
    /// Find the invoice with this payment code; answer with [`AppInput::Invoice`].
    LookupInvoice {
        /// Payment code as typed, its check digit already verified by the engine.
        code: String,
    },
    /// Take the payment; answer with [`AppInput::Authorized`].
    Authorize(Box<AuthorizeOrder>),
}

/// How a call ended, for call records and the operator pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// An invoice was paid.
    Paid,
    /// The last card tried was refused.
    Refused,
    /// The caller left (or went silent) before any result.
    Abandoned,
    /// The caller never reached a payable invoice (wrong, unknown, paid, cancelled or
    /// expired identifiers).
    InvalidInvoice,
    /// The payment platform or the database failed.
    PlatformError,
    /// A service without payments (the line test) ran to its end.
    Completed,
}

impl CallOutcome {
    /// Stored and displayed form.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Paid => "paid",
            CallOutcome::Refused => "refused",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::InvalidInvoice => "invalid_invoice",
            CallOutcome::PlatformError => "platform_error",
            CallOutcome::Completed => "completed",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<CallOutcome> {
        [
            CallOutcome::Paid,
            CallOutcome::Refused,
            CallOutcome::Abandoned,
            CallOutcome::InvalidInvoice,
            CallOutcome::PlatformError,
            CallOutcome::Completed,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// What a call record keeps of the application's work (never card data).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppReport {
    /// Flow name and version, if a dialplan ran.
    pub flow: Option<(String, String)>,
    /// Steps entered, in order.
    pub steps: Vec<String>,
    /// Language at the end of the call.
    pub language: String,
    /// Invoice looked up last.
    pub invoice_id: Option<String>,
    /// Transaction of the last authorization.
    pub transaction_reference: Option<String>,
}

/// A call application: a sans-IO state machine driven by the call core. It speaks the
/// way every core of the call does: inputs with the instant they happened in
/// (`handle`), what to do polled out (`poll_action`), one deadline (`poll_timeout`).
pub trait CallApp: Send {
    /// Reacts to an input; the actions it decides are queued for `poll_action`.
    fn handle(&mut self, input: AppInput, now: Instant);
    /// The next action decided and not yet taken, in the order decided. The driver
    /// drains it after every `handle`.
    fn poll_action(&mut self) -> Option<AppAction>;
    /// When the application next needs a `Timeout` input.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The step the caller is in, for the operator's view of calls in progress.
    fn current_step(&self) -> &str {
        ""
    }
    /// How the call ended, from what the application saw (a call that ends before any
    /// result is abandoned, whoever hung up).
    fn outcome(&self) -> CallOutcome;
    /// What the call record keeps.
    fn report(&self) -> AppReport;
}
