//! The diagnostic line-test service: a greeting, then every digit typed is said back.
//! Operators call it to check that audio flows both ways and that DTMF arrives in each
//! mode (RFC 4733, SIP INFO, in-band) before putting a number in service.

use super::app::{AppAction, AppInput, AppReport, CallApp, CallOutcome};
use super::prompts::PromptLibrary;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

const GREETING_TOKEN: u64 = 1;

/// Digits waiting to be said back at most: a caller (or a packet generator) typing
/// faster than the prompts play gets the first ones said, and the rest dropped, rather
/// than an ever longer queue of clips.
pub const MAX_QUEUED_DIGITS: u32 = 16;

/// Echo application state.
pub struct EchoApp {
    prompts: Arc<PromptLibrary>,
    language: String,
    greeting_playing: bool,
    next_token: u64,
    looping: bool,
    queued: u32,
    /// Actions decided and not yet taken by the call.
    actions: VecDeque<AppAction>,
}

impl EchoApp {
    /// A new echo session in `language`.
    pub fn new(prompts: Arc<PromptLibrary>, language: &str) -> Self {
        EchoApp {
            prompts,
            language: language.to_string(),
            greeting_playing: false,
            next_token: GREETING_TOKEN + 1,
            looping: false,
            queued: 0,
            actions: VecDeque::new(),
        }
    }

    /// The looping variant: the greeting plays again whenever nothing else is queued, so
    /// audio flows for the whole call (one-way audio checks, load tests).
    pub fn looping(prompts: Arc<PromptLibrary>, language: &str) -> Self {
        EchoApp { looping: true, ..Self::new(prompts, language) }
    }

    fn greet(&mut self) {
        if let Some(p) = self.prompts.get(&self.language, "echo_welcome") {
            self.greeting_playing = true;
            self.actions.push_back(AppAction::Play { prompts: vec![p], token: GREETING_TOKEN });
        }
    }
}

/// The prompt name that says a key.
pub fn digit_prompt_name(d: char) -> Option<String> {
    match d {
        '0'..='9' => Some(format!("digit_{d}")),
        '*' => Some("digit_star".into()),
        '#' => Some("digit_hash".into()),
        'A'..='D' => Some(format!("digit_{}", d.to_ascii_lowercase())),
        _ => None,
    }
}

impl CallApp for EchoApp {
    fn handle(&mut self, input: AppInput, _now: Instant) {
        match input {
            AppInput::Started => self.greet(),
            AppInput::Digit(d) => {
                if self.greeting_playing {
                    // Barge-in: a key stops the greeting; the digit is still said.
                    self.greeting_playing = false;
                    self.actions.push_back(AppAction::StopPlayback);
                }
                if self.queued >= MAX_QUEUED_DIGITS {
                    return;
                }
                if let Some(p) = digit_prompt_name(d).and_then(|n| self.prompts.get(&self.language, &n)) {
                    self.next_token += 1;
                    self.queued += 1;
                    self.actions.push_back(AppAction::Play { prompts: vec![p], token: self.next_token });
                }
            }
            AppInput::PlaybackDone(token) => {
                if token == GREETING_TOKEN {
                    self.greeting_playing = false;
                } else {
                    self.queued = self.queued.saturating_sub(1);
                }
                if self.looping && !self.greeting_playing && self.queued == 0 {
                    self.greet();
                }
            }
            AppInput::Timeout | AppInput::Invoice(_) | AppInput::Authorized(_) => {}
        }
    }

    fn poll_action(&mut self) -> Option<AppAction> {
        crate::queue::pop_or_release(&mut self.actions)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    fn current_step(&self) -> &str {
        if self.greeting_playing {
            "greeting"
        } else {
            "echo"
        }
    }

    fn outcome(&self) -> CallOutcome {
        // The line test has no result to reach: the caller ends it when satisfied.
        CallOutcome::Completed
    }

    fn report(&self) -> AppReport {
        AppReport { language: self.language.clone(), ..AppReport::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::prompts::Prompt;

    fn library() -> Arc<PromptLibrary> {
        let mut lib = PromptLibrary::default();
        for name in ["echo_welcome", "digit_1", "digit_2", "digit_star", "digit_hash"] {
            lib.insert(Prompt::from_pcm(name, "", vec![0; 160]));
        }
        Arc::new(lib)
    }

    fn names(actions: &[AppAction]) -> Vec<String> {
        actions
            .iter()
            .map(|a| match a {
                AppAction::Play { prompts, .. } => prompts.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join("+"),
                AppAction::StopPlayback => "stop".into(),
                AppAction::Hangup => "hangup".into(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Feeds one input and collects what the app decided, in order.
    fn feed(app: &mut EchoApp, input: AppInput, now: Instant, out: &mut Vec<AppAction>) {
        app.handle(input, now);
        while let Some(a) = app.poll_action() {
            out.push(a);
        }
    }

    #[test]
    fn greets_then_says_each_digit_in_order_with_barge_in() {
        let mut app = EchoApp::new(library(), "");
        let now = Instant::now();
        let mut out = Vec::new();
        feed(&mut app, AppInput::Started, now, &mut out);
        for d in ['1', '2', '*', '#'] {
            feed(&mut app, AppInput::Digit(d), now, &mut out);
        }
        assert_eq!(names(&out), ["echo_welcome", "stop", "digit_1", "digit_2", "digit_star", "digit_hash"]);
    }

    #[test]
    fn looping_variant_replays_the_greeting_when_idle() {
        let mut app = EchoApp::looping(library(), "");
        let now = Instant::now();
        let mut out = Vec::new();
        feed(&mut app, AppInput::Started, now, &mut out);
        feed(&mut app, AppInput::PlaybackDone(GREETING_TOKEN), now, &mut out);
        feed(&mut app, AppInput::Digit('1'), now, &mut out);
        let token = match out.last() {
            Some(AppAction::Play { token, .. }) => *token,
            _ => panic!(),
        };
        feed(&mut app, AppInput::PlaybackDone(token), now, &mut out);
        assert_eq!(names(&out), ["echo_welcome", "echo_welcome", "stop", "digit_1", "echo_welcome"]);
    }

    #[test]
    fn no_barge_in_once_the_greeting_is_over() {
        let mut app = EchoApp::new(library(), "");
        let now = Instant::now();
        let mut out = Vec::new();
        feed(&mut app, AppInput::Started, now, &mut out);
        feed(&mut app, AppInput::PlaybackDone(GREETING_TOKEN), now, &mut out);
        feed(&mut app, AppInput::Digit('1'), now, &mut out);
        assert_eq!(names(&out), ["echo_welcome", "digit_1"]);
    }

    #[test]
    fn a_flood_of_digits_queues_at_most_the_cap_and_the_queue_frees_as_they_play() {
        let mut app = EchoApp::new(library(), "");
        let now = Instant::now();
        let mut out = Vec::new();
        feed(&mut app, AppInput::Started, now, &mut out);
        feed(&mut app, AppInput::PlaybackDone(GREETING_TOKEN), now, &mut out);
        out.clear();
        for _ in 0..10_000 {
            feed(&mut app, AppInput::Digit('1'), now, &mut out);
        }
        assert_eq!(out.len(), MAX_QUEUED_DIGITS as usize);
        let first = match out[0] {
            AppAction::Play { token, .. } => token,
            _ => panic!(),
        };
        feed(&mut app, AppInput::PlaybackDone(first), now, &mut out);
        feed(&mut app, AppInput::Digit('2'), now, &mut out);
        assert_eq!(names(&out).last().map(String::as_str), Some("digit_2"), "room again once one was said");
    }
}
