//! A bad dialplan is refused with its file and line, and the message says what to fix.

use super::{parse, CardField, StepKind, Target};
use std::path::Path;

const GOOD: &str = r##"[dialplan]
name = "t"
numbers = ["t", "100"]
language = "fr"
start = "ask"

[steps.ask]
kind = "collect"
prompts = ["q"]
into = "code"
next = "bye"
on_failure = "bye"

[steps.bye]
kind = "hangup"
prompts = ["bye"]
"##;

fn check(text: &str) -> Result<super::Dialplan, String> {
    let exists = |n: &str| ["q", "bye"].contains(&n);
    parse(Path::new("dialplans/t.toml"), text, &exists).map_err(|e| e.to_string())
}

fn refused(text: &str, line: usize, words: &str) {
    let e = check(text).expect_err("refused");
    assert!(e.starts_with(&format!("dialplans/t.toml:{line}: ")), "{e}");
    assert!(e.contains(words), "{e}");
}

#[test]
fn a_good_file_gives_indexed_steps() {
    let p = check(GOOD).unwrap();
    assert_eq!(p.numbers, ["t", "100"]);
    assert_eq!(p.steps[p.start].name, "ask");
    let StepKind::Collect(c) = &p.steps[p.start].kind else { panic!() };
    assert_eq!(c.into, Target::Var("code".into()));
    assert_eq!(p.steps[c.next].name, "bye");
    assert_eq!(p.version.len(), 12);
}

#[test]
fn each_mistake_is_reported_at_its_line() {
    refused(&GOOD.replace("next = \"bye\"", "next = \"nowhere\""), 11, "no step named 'nowhere'");
    refused(&GOOD.replace("prompts = [\"q\"]", "prompts = [\"qq\"]"), 9, "prompt 'qq' has no recording");
    refused(&GOOD.replace("kind = \"hangup\"", "kind = \"hang_up\""), 15, "unknown step kind 'hang_up'");
    refused(
        &GOOD.replace("into = \"code\"", "into = \"code\"\noptions = { \"1\" = \"bye\" }"),
        11,
        "'options' is not used by a collect step",
    );
    refused(&GOOD.replace("into = \"code\"", "into = \"card.number\""), 10, "card data needs its own validator");
    refused(&GOOD.replace("into = \"code\"", "into = \"code\"\nterminator = \"x\""), 11, "terminator must be");
    refused(&GOOD.replace("into = \"code\"", "into = \"code\"\nbogus = 1"), 11, "unknown field `bogus`");
    refused(&GOOD.replace("start = \"ask\"", "start = \"ask\"\nstart = \"bye\""), 6, "duplicate key");
    refused(&GOOD.replace("numbers = [\"t\", \"100\"]", "numbers = [\"t\", \"t\"]"), 3, "listed twice");
    refused(&GOOD.replace("prompts = [\"q\"]", "prompts = [\"q\", { amount = \"code\" }]"), 9, "holds digits");
    refused(&GOOD.replace("prompts = [\"q\"]", "prompts = [{ digits = \"nothing\" }]"), 9, "no variable 'nothing'");
    refused(
        &GOOD.replace("into = \"code\"", "into = \"code\"\nvalidate = \"pattern\"\npattern = \"[\""),
        12,
        "bad pattern",
    );
}

#[test]
fn lookups_and_authorizations_must_route_every_result() {
    let lookup = GOOD.replace(
        "[steps.bye]",
        "[steps.find]\nkind = \"lookup_invoice\"\ncode = \"code\"\non = { payable = \"bye\", unknown = \"bye\" }\n\n[steps.bye]",
    );
    refused(&lookup, 17, "'on' must say where 'paid' leads");
    let pay = GOOD.replace(
        "[steps.bye]",
        "[steps.pay]\nkind = \"authorize\"\non = { accepted = \"bye\", refused = \"bye\", unavailable = \"bye\", unresolved = \"bye\", card_error = \"bye\", not_payable = \"bye\", in_progress = \"bye\" }\n\n[steps.bye]",
    );
    refused(&pay, 14, "needs a lookup_invoice step and collect steps into card.number");
}

#[test]
fn the_shipped_flow_collects_card_data_only_into_the_card_slot() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dialplans/invoice-payment.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let p = parse(&path, &text, &|_| true).unwrap();
    let card_steps: Vec<(&str, CardField)> = p
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Collect(c) => match c.into {
                Target::Card(f) => Some((s.name.as_str(), f)),
                Target::Var(_) => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        card_steps,
        [("ask_card", CardField::Number), ("ask_csc", CardField::SecurityCode), ("ask_expiry", CardField::Expiry)]
    );
}

#[test]
fn every_bad_step_of_a_file_is_reported_at_once() {
    let text = GOOD.replace("next = \"bye\"", "next = \"nowhere\"").replace("kind = \"hangup\"", "kind = \"hang_up\"");
    let e = check(&text).expect_err("refused");
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 2, "{e}");
    assert!(lines[0].starts_with("dialplans/t.toml:11: no step named 'nowhere'"), "{e}");
    assert!(lines[1].starts_with("dialplans/t.toml:15: unknown step kind 'hang_up'"), "{e}");
}
