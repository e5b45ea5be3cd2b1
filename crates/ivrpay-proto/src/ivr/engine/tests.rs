//! The engine on virtual time: small flows written for each behaviour, driven key by
//! key and millisecond by millisecond, checking what it plays and when it gives up.

use super::Engine;
use crate::ivr::app::{AppAction, AppInput, CallApp, CallOutcome};
use crate::ivr::dialplan::{parse, Dialplan};
use crate::ivr::prompts::{Prompt, PromptLibrary};
use chrono::NaiveDate;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drives an engine: records what it asks for, plays prompts instantly or not at all.
pub(super) struct Harness {
    pub engine: Engine,
    pub now: Instant,
    /// Everything asked for, as readable strings ("play a+b", "stop", "lookup 123"...).
    pub log: Vec<String>,
    /// Token of the last Play not yet reported done.
    pub playing: Option<u64>,
    /// Authorization orders received (card data stays inside).
    pub orders: Vec<crate::ivr::app::AuthorizeOrder>,
    /// Language of every prompt played.
    pub langs: Vec<String>,
}

/// A library with a short silent recording for every name, in French and English.
pub(super) fn library(names: &[&str]) -> Arc<PromptLibrary> {
    let mut lib = PromptLibrary::default();
    for lang in ["fr", "en"] {
        for n in names {
            lib.insert(Prompt::from_pcm(n, lang, vec![0; 800]));
        }
        for d in "0123456789".chars() {
            lib.insert(Prompt::from_pcm(&format!("digit_{d}"), lang, vec![0; 800]));
        }
    }
    Arc::new(lib)
}

pub(super) fn plan(text: &str, lib: &PromptLibrary) -> Arc<Dialplan> {
    let exists = |n: &str| lib.has("fr", n);
    Arc::new(parse(Path::new("test.toml"), text, &exists).unwrap_or_else(|e| panic!("{e}")))
}

impl Harness {
    pub fn new(plan: Arc<Dialplan>, lib: Arc<PromptLibrary>) -> Harness {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        Harness {
            engine: Engine::new(plan, lib, today),
            now: Instant::now(),
            log: Vec::new(),
            playing: None,
            orders: vec![],
            langs: vec![],
        }
    }

    fn feed(&mut self, input: AppInput) {
        self.engine.handle(input, self.now);
        while let Some(a) = self.engine.poll_action() {
            let line = match a {
                AppAction::Play { prompts, token } => {
                    self.playing = Some(token);
                    self.langs.extend(prompts.iter().map(|p| p.language.clone()));
                    format!("play {}", prompts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join("+"))
                }
                AppAction::StopPlayback => {
                    self.playing = None;
                    "stop".into()
                }
                AppAction::Hangup => "hangup".into(),
                AppAction::LookupInvoice { code } => format!("lookup {code}"),
                AppAction::Authorize(order) => {
                    let line = format!("authorize #{}", order.attempt);
                    self.orders.push(*order);
                    line
                }
            };
            self.log.push(line);
        }
    }

    pub fn start(&mut self) {
        self.feed(AppInput::Started);
    }

    pub fn keys(&mut self, keys: &str) {
        for k in keys.chars() {
            self.feed(AppInput::Digit(k));
        }
    }

    /// The prompts queued so far have all played.
    pub fn played(&mut self) {
        if let Some(t) = self.playing.take() {
            self.feed(AppInput::PlaybackDone(t));
        }
    }

    /// Time passes; the engine is woken if it asked to be.
    pub fn wait(&mut self, ms: u64) {
        let end = self.now + Duration::from_millis(ms);
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= end) {
            self.now = t.max(self.now);
            self.feed(AppInput::Timeout);
        }
        self.now = end;
    }

    pub fn input(&mut self, input: AppInput) {
        self.feed(input);
    }

    /// The log since the last call, emptied.
    pub fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}

const HEAD: &str = "[dialplan]\nname = \"t\"\nnumbers = [\"t\"]\nlanguage = \"fr\"\nstart = \"ask\"\n";

fn harness(steps: &str, prompts: &[&str]) -> Harness {
    let lib = library(prompts);
    let p = plan(&format!("{HEAD}{steps}"), &lib);
    Harness::new(p, lib)
}

const ASK: &str = r##"
[steps.ask]
kind = "collect"
prompts = ["q"]
into = "code"
min_digits = 3
max_digits = 5
terminator = "#"
first_digit_timeout_ms = 5000
inter_digit_timeout_ms = 2000
attempts = 2
invalid_prompts = ["bad"]
timeout_prompts = ["silence"]
failure_prompts = ["sorry"]
next = "done"
on_failure = "bye"

[steps.done]
kind = "say"
prompts = ["ok", { digits = "code" }]
next = "bye"

[steps.bye]
kind = "hangup"
prompts = ["goodbye"]
"##;

const P: &[&str] = &["q", "bad", "silence", "sorry", "ok", "goodbye"];

#[test]
fn the_first_digit_timeout_starts_when_the_question_ends() {
    let mut h = harness(ASK, P);
    h.start();
    assert_eq!(h.take(), ["play q"]);
    h.wait(3000); // the question is still playing (its guard is 100 ms + 3 s): no timeout
    assert!(h.take().is_empty());
    h.played();
    h.wait(4_999);
    assert!(h.take().is_empty());
    h.wait(1);
    assert_eq!(h.take(), ["play silence"]);
}

#[test]
fn a_prompt_that_never_reports_its_end_does_not_hang_the_call() {
    let mut h = harness(ASK, P);
    h.start();
    h.take();
    h.playing = None; // the notice is lost (media on hold)
    h.wait(100 + 3000 + 5000);
    assert_eq!(h.take(), ["play silence"]);
}

#[test]
fn keys_barge_in_and_the_terminator_ends_the_input() {
    let mut h = harness(ASK, P);
    h.start();
    h.keys("12");
    assert_eq!(h.take(), ["play q", "stop"]);
    h.keys("3#");
    assert_eq!(h.take(), ["play ok+digit_1+digit_2+digit_3"]);
    h.played();
    assert_eq!(h.take(), ["play goodbye"]);
    h.played();
    assert_eq!(h.take(), ["hangup"]);
    assert_eq!(h.engine.report().steps, ["ask", "done", "bye"]);
}

#[test]
fn max_digits_ends_the_input_and_inter_digit_silence_accepts_enough_digits() {
    let mut h = harness(ASK, P);
    h.start();
    h.played();
    h.keys("12345");
    assert_eq!(h.take(), ["play q", "play ok+digit_1+digit_2+digit_3+digit_4+digit_5"]);
    let mut h = harness(ASK, P);
    h.start();
    h.played();
    h.keys("123");
    h.wait(1999);
    assert_eq!(h.take(), ["play q"]);
    h.wait(1);
    assert_eq!(h.take(), ["play ok+digit_1+digit_2+digit_3"]);
}

#[test]
fn too_few_digits_complain_then_attempts_run_out() {
    let mut h = harness(ASK, P);
    h.start();
    h.played();
    h.keys("1#");
    assert_eq!(h.take(), ["play q", "play bad"]);
    h.played();
    assert_eq!(h.take(), ["play q"], "asked again after the complaint");
    h.played();
    h.keys("12");
    h.wait(2000);
    assert_eq!(h.take(), ["play sorry"]);
    h.played();
    assert_eq!(h.take(), ["play goodbye"]);
    assert_eq!(h.engine.outcome(), CallOutcome::Abandoned);
}

#[test]
fn keys_typed_during_a_complaint_wait_for_the_question() {
    let mut h = harness(ASK, P);
    h.start();
    h.played();
    h.keys("1#");
    h.keys("987#");
    assert_eq!(h.take(), ["play q", "play bad"]);
    h.played();
    assert_eq!(h.take(), ["play q", "stop", "play ok+digit_9+digit_8+digit_7"]);
}

#[test]
fn required_terminator_waits_for_hash_and_refuses_more_digits() {
    let steps = ASK.replace("terminator = \"#\"", "terminator = \"#\"\nterminator_required = true");
    let mut h = harness(&steps, P);
    h.start();
    h.played();
    h.keys("12345");
    assert_eq!(h.take(), ["play q"], "five digits but no # yet");
    h.keys("6");
    assert_eq!(h.take(), ["play bad"]);
    h.played();
    h.take();
    h.keys("123");
    h.wait(2000);
    assert_eq!(h.take(), ["stop", "play sorry"], "inter-digit silence without # is a failed attempt");
}

#[test]
fn type_ahead_during_a_message_is_kept_for_the_next_question() {
    let steps = format!(
        "{}\n[steps.hello]\nkind = \"play\"\nprompts = [\"ok\"]\nnext = \"ask\"\n",
        ASK.replace("[steps.ask]", "[steps.ask]\nback = true")
    );
    let lib = library(P);
    let text = format!("{}{steps}", HEAD.replace("start = \"ask\"", "start = \"hello\""));
    let mut h = Harness::new(plan(&text, &lib), lib);
    h.start();
    h.keys("4#2"); // during a message that cannot be interrupted
    assert_eq!(h.take(), ["play ok"]);
    h.played();
    // The question starts and the buffered keys barge in at once: "4#" is too short.
    assert_eq!(h.take(), ["play q", "stop", "play bad"]);
}

#[test]
fn star_goes_back_to_the_previous_question() {
    let steps = r##"
[steps.ask]
kind = "collect"
prompts = ["q"]
into = "first"
min_digits = 1
max_digits = 1
next = "second"
on_failure = "bye"

[steps.second]
kind = "collect"
prompts = ["ok"]
into = "second"
min_digits = 1
max_digits = 1
next = "bye"
on_failure = "bye"

[steps.bye]
kind = "hangup"
"##;
    let mut h = harness(steps, P);
    h.start();
    h.keys("1");
    h.keys("*");
    h.keys("2");
    assert_eq!(h.take(), ["play q", "stop", "play ok", "stop", "play q", "stop", "play ok"]);
    assert_eq!(h.engine.report().steps, ["ask", "second", "ask", "second"]);
}

#[test]
fn menus_map_keys_time_out_to_a_default_and_bound_visits() {
    let steps = r##"
[steps.ask]
kind = "menu"
prompts = ["q"]
options = { "1" = "one", "2" = "ask" }
timeout_ms = 3000
on_timeout = "one"
invalid_prompts = ["bad"]
on_failure = "bye"
max_visits = 2
on_max_visits = "bye"

[steps.one]
kind = "play"
prompts = ["ok"]
next = "bye"

[steps.bye]
kind = "hangup"
prompts = ["goodbye"]
"##;
    let mut h = harness(steps, P);
    h.start();
    h.keys("7");
    assert_eq!(h.take(), ["play q", "stop", "play bad"]);
    h.played();
    h.keys("2");
    assert_eq!(h.take(), ["play q", "stop", "play q"]);
    h.keys("2");
    assert_eq!(h.take(), ["stop", "play goodbye"], "a third visit goes to on_max_visits");
    let mut h = harness(steps, P);
    h.start();
    h.played();
    h.wait(3000);
    assert_eq!(h.take(), ["play q", "play ok"]);
}

#[test]
fn branching_loops_without_waiting_end_the_call() {
    let steps = r##"
[steps.ask]
kind = "branch"
var = "language"
cases = { "fr" = "other" }
default = "ask"

[steps.other]
kind = "branch"
var = "language"
cases = {}
default = "ask"
"##;
    let mut h = harness(steps, P);
    h.start();
    assert_eq!(h.take(), ["hangup"]);
}

#[test]
fn languages_switch_the_recordings_played() {
    let steps = r##"
[steps.ask]
kind = "set_language"
language = "en"
next = "hi"

[steps.hi]
kind = "hangup"
prompts = ["ok"]
"##;
    let mut h = harness(steps, P);
    h.start();
    assert_eq!(h.take(), ["play ok"]);
    assert_eq!(h.langs, ["en"]);
    assert_eq!(h.engine.report().language, "en");
}

#[test]
fn a_flushing_question_discards_keys_typed_before_it() {
    let steps = r##"
[steps.ask]
kind = "play"
prompts = ["q"]
next = "confirm"

[steps.confirm]
kind = "menu"
prompts = ["ok"]
flush = true
options = { "1" = "bye" }
on_failure = "bye"

[steps.bye]
kind = "hangup"
"##;
    let mut h = harness(steps, P);
    h.start();
    h.keys("1"); // typed while the message plays: must not confirm anything
    h.played();
    assert_eq!(h.take(), ["play q", "play ok"]);
    h.keys("1");
    assert_eq!(h.take(), ["stop", "play "]);
}
