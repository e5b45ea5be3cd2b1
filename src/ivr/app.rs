//! The contract between a call and the application that talks to the caller (the
//! diagnostic echo service, the dialplan engine): events in, actions out, on injected
//! time. Applications never see sockets or SIP.

use super::prompts::Prompt;
use std::sync::Arc;
use std::time::Instant;

/// Something that happened on the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppInput {
    /// Media is up: the application may start talking.
    Started,
    /// The caller pressed a key (from RFC 4733, SIP INFO or in-band tones).
    Digit(char),
    /// Everything queued by the `Play` with this token has been sent.
    PlaybackDone(u64),
    /// The instant returned by `poll_timeout` was reached.
    Timeout,
}

/// What the application wants done.
#[derive(Clone, Debug)]
pub enum AppAction {
    /// Queue prompts after whatever is playing; `token` comes back in `PlaybackDone`.
    Play { prompts: Vec<Arc<Prompt>>, token: u64 },
    /// Stop playing and drop everything queued (barge-in).
    StopPlayback,
    /// End the call (the SIP leg sends BYE).
    Hangup,
}

/// A call application: a sans-IO state machine driven by the call task.
pub trait CallApp: Send {
    /// Reacts to an input; pushes actions to `out`.
    fn handle(&mut self, input: AppInput, now: Instant, out: &mut Vec<AppAction>);
    /// When the application next needs a `Timeout` input.
    fn poll_timeout(&self) -> Option<Instant>;
}
