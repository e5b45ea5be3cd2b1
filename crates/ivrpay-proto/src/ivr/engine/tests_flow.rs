//! The shipped payment flow's harder paths on virtual time: `*` never crossing a
//! lookup or an authorization, questions heard to the end, payment codes counted over
//! the whole call, and the results of the database and the platform that are not the
//! happy path.

use super::tests::{library, plan, Harness};
use super::tests_payment::{accepted, code, found, shipped, to_lookup, to_summary, CARD};
use crate::ivr::app::{AppInput, AuthorizeResult, CallApp, CallOutcome, LookupResult};
use crate::ivr::dialplan::plan_prompt_names;
use crate::ivr::dialplan::{parse, Dialplan};
use crate::ivr::say::{self, Language};
use crate::payments::fixtures;
use crate::payments::invoice::InvoiceStatus;
use crate::payments::money::Currency;
use chrono::NaiveDate;
use std::path::Path;

fn refused(reference: &str) -> AppInput {
    AppInput::Authorized(AuthorizeResult::Refused { reference: reference.into(), response_code: "05".into() })
}

/// A payable invoice found, its read-back heard, confirmed; the summary heard; 1 pressed.
fn to_authorize(h: &mut Harness) {
    to_lookup(h);
    h.input(found(InvoiceStatus::Payable));
    to_summary(h, CARD);
    h.played();
    h.keys("1");
    assert_eq!(h.take(), ["play please_wait", format!("authorize #{}", h.orders.len()).as_str()]);
}

/// Card, expiry and security code typed, the summary heard and confirmed.
fn second_card(h: &mut Harness) {
    h.keys(&format!("{CARD}#"));
    h.keys("1230");
    h.keys("737");
    let log = h.take();
    let summary = log.iter().find(|l| l.starts_with("play about_to_pay+")).expect("summary");
    assert!(summary.ends_with("with_card_ending+digit_0+digit_1+digit_0+digit_0+confirm_payment"), "{summary}");
    h.played();
    h.keys("1");
}

#[test]
fn star_after_a_refused_card_asks_for_the_card_again_and_the_second_card_is_sent() {
    let mut h = shipped();
    to_authorize(&mut h);
    h.input(refused("R1"));
    h.played();
    h.played();
    assert_eq!(h.take(), ["play payment_refused", "play try_another_card", "play enter_card"]);
    // `*` may not go back over the authorization to a summary whose card is gone.
    h.keys("*");
    assert_eq!(h.take(), ["stop", "play enter_card"]);
    assert_eq!(h.engine.current_step(), "ask_card");
    second_card(&mut h);
    assert_eq!(h.take(), ["play please_wait", "authorize #2"], "the second card reaches the bank");
    assert_eq!(h.orders[1].card.masked(), "410000######0100");
    h.input(accepted());
    assert_eq!(h.engine.outcome(), CallOutcome::Paid);
}

#[test]
fn star_after_a_paid_invoice_asks_for_a_code_again() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Paid));
    h.played();
    assert_eq!(h.take(), ["play code_paid", "play enter_code"]);
    h.keys("*");
    assert_eq!(h.take(), ["stop", "play enter_code"], "no way back to an invoice already paid");
    assert_eq!(h.engine.current_step(), "ask_code");
}

#[test]
fn card_data_refused_before_sending_has_its_own_message_and_one_more_card() {
    let mut h = shipped();
    to_authorize(&mut h);
    h.input(AppInput::Authorized(AuthorizeResult::CardError));
    assert_eq!(h.take(), ["play card_not_sent"], "not the bank's refusal");
    h.played();
    h.played();
    assert_eq!(h.take(), ["play try_another_card", "play enter_card"]);
    assert_eq!(h.engine.outcome(), CallOutcome::Refused);
    second_card(&mut h);
    assert_eq!(h.take(), ["play please_wait", "authorize #2"]);
}

#[test]
fn an_invoice_paid_meanwhile_is_not_charged_and_a_code_is_asked_again() {
    let mut h = shipped();
    to_authorize(&mut h);
    h.input(AppInput::Authorized(AuthorizeResult::NotPayable));
    h.played();
    assert_eq!(h.take(), ["play code_paid", "play enter_code"]);
    assert_eq!(h.engine.outcome(), CallOutcome::InvalidInvoice);
    assert_eq!(h.orders.len(), 1);
}

#[test]
fn an_invoice_whose_payment_is_being_resolved_is_neither_paid_nor_paid_again() {
    // Found so at the lookup: the caller hears it is being processed, then goodbye.
    let mut h = shipped();
    to_lookup(&mut h);
    let (invoice, merchant) = (fixtures::invoice(InvoiceStatus::Payable), fixtures::merchant(&["CB"]));
    h.input(AppInput::Invoice(LookupResult::InProgress(Box::new((invoice, merchant)))));
    assert_eq!(h.take(), ["play payment_in_progress"]);
    h.played();
    assert_eq!(h.take(), ["play goodbye"]);
    assert_eq!(h.engine.outcome(), CallOutcome::InvalidInvoice);
    assert!(h.orders.is_empty(), "nothing sent");
    // Or when another call's payment began after this caller's lookup.
    let mut h = shipped();
    to_authorize(&mut h);
    h.input(AppInput::Authorized(AuthorizeResult::InProgress));
    h.played();
    assert_eq!(h.take(), ["play payment_in_progress", "play goodbye"]);
    assert_eq!(h.orders.len(), 1, "the one refused by the record, never sent");
}

#[test]
fn a_database_that_cannot_answer_gets_an_apology() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(AppInput::Invoice(LookupResult::Error));
    h.played();
    h.played();
    assert_eq!(h.take(), ["play service_error", "play goodbye", "hangup"]);
    assert_eq!(h.engine.outcome(), CallOutcome::PlatformError);
}

#[test]
fn the_amount_and_the_summary_are_heard_to_the_end_before_a_key_counts() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Payable));
    h.take();
    // 1 during the read-back: discarded, the read-back goes on.
    h.keys("1");
    assert_eq!(h.take(), Vec::<String>::new(), "not stopped, not confirmed");
    assert_eq!(h.engine.current_step(), "read_invoice");
    h.played();
    assert_eq!(h.engine.current_step(), "read_invoice", "the key typed early is not kept for later");
    h.keys("1");
    assert_eq!(h.take(), ["play enter_card"]);
    h.keys(&format!("{CARD}#"));
    h.keys("1230");
    h.keys("737");
    h.take();
    // 1 during the summary, and 1 typed with the security code: neither confirms.
    h.keys("11");
    assert_eq!(h.take(), Vec::<String>::new());
    h.played();
    h.wait(5999);
    assert!(h.orders.is_empty(), "nothing sent before the summary was heard and 1 pressed after it");
    h.wait(1);
    assert_eq!(h.take(), ["play no_input"]);
    h.played();
    assert_eq!(h.take().len(), 1, "the summary again");
    h.played();
    h.keys("1");
    assert_eq!(h.take(), ["play please_wait", "authorize #1"]);
}

#[test]
fn three_wrong_codes_in_all_end_the_call_but_another_invoice_costs_nothing() {
    let mut h = shipped();
    h.start();
    h.keys("1");
    h.take();
    // Choosing another invoice without any error, again and again, is not punished.
    for _ in 0..4 {
        h.keys(&code());
        h.input(found(InvoiceStatus::Payable));
        h.played();
        h.keys("2");
        assert_eq!(h.take().last().map(String::as_str), Some("play enter_code"));
    }
    // A wrong check digit (1), an unknown code (2), a paid invoice (3): that is all.
    let mut wrong = code();
    let last = wrong.pop().and_then(|c| c.to_digit(10)).expect("digit");
    wrong.push(char::from_digit((last + 1) % 10, 10).expect("digit"));
    h.keys(&wrong);
    h.played();
    assert_eq!(h.take(), ["stop", "play code_invalid", "play enter_code"]);
    h.keys(&code());
    h.input(AppInput::Invoice(LookupResult::Unknown));
    h.played();
    assert_eq!(h.take().last().map(String::as_str), Some("play enter_code"));
    h.keys(&code());
    h.input(found(InvoiceStatus::Paid));
    h.played();
    h.played();
    assert_eq!(h.take()[2..], ["play code_paid", "play too_many_attempts", "play goodbye"]);
}

#[test]
fn a_caller_pays_in_english_and_hears_the_amount_date_authorization_and_reference() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dialplans/invoice-payment.toml");
    let text = std::fs::read_to_string(&path).expect("shipped dialplan");
    let any: Dialplan = parse(&path, &text, &|_| true).expect("parses");
    let mut names = plan_prompt_names(&any);
    for lang in [Language::Fr, Language::En] {
        names.extend(say::fragment_names(lang).into_iter().map(String::from));
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let lib = library(&names);
    let mut h = Harness::new(plan(&text, &lib), lib);
    h.start();
    h.keys("2");
    h.keys(&code());
    h.take();
    h.input(found(InvoiceStatus::Payable));
    let log = h.take();
    let due = NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    let mut want = vec!["invoice_amount_is"];
    want.extend(say::amount(Language::En, 12345, Currency::Eur));
    want.push("invoice_due_on");
    want.extend(say::date(Language::En, due));
    want.push("confirm_invoice");
    assert_eq!(log, [format!("play {}", want.join("+"))]);
    assert!(log[0].contains("cur_eur_n"), "{log:?}");
    to_summary(&mut h, CARD);
    h.played();
    h.keys("1");
    h.take();
    let reference = "IVR2026112300000001".to_string();
    h.input(AppInput::Authorized(AuthorizeResult::Accepted {
        reference: reference.clone(),
        authorisation_id: "123456".into(),
    }));
    let log = h.take();
    let mut want = vec!["payment_accepted", "authorization_number_is"];
    want.extend(say::digits(Language::En, "123456"));
    want.push("transaction_reference_is");
    want.extend(say::digits(Language::En, &reference));
    want.push("thank_you");
    assert_eq!(log, [format!("play {}", want.join("+"))]);
    assert_eq!(h.langs.last().map(String::as_str), Some("en"));
    assert_eq!(h.engine.outcome(), CallOutcome::Paid);
    assert_eq!(h.engine.report().language, "en");
}

const HEAD: &str = "[dialplan]\nname = \"t\"\nnumbers = [\"t\"]\nlanguage = \"fr\"\nstart = \"ask\"\n";

const STEPS: &str = r##"
[steps.ask]
kind = "collect"
prompts = ["q"]
interruptible = false
into = "code"
min_digits = 3
max_digits = 3
first_digit_timeout_ms = 5000
attempts = 2
invalid_prompts = ["bad"]
next = "menu"
on_failure = "bye"

[steps.menu]
kind = "menu"
prompts = ["choose"]
interruptible = false
options = { "1" = "bye" }
timeout_ms = 5000
attempts = 2
on_failure = "bye"

[steps.bye]
kind = "hangup"
prompts = ["goodbye"]
"##;

#[test]
fn a_question_that_is_not_interruptible_discards_keys_while_it_plays() {
    let lib = library(&["q", "bad", "choose", "goodbye"]);
    let mut h = Harness::new(plan(&format!("{HEAD}{STEPS}"), &lib), lib);
    h.start();
    h.keys("123");
    assert_eq!(h.take(), ["play q"], "not stopped");
    h.played();
    h.wait(4999);
    assert_eq!(h.take(), Vec::<String>::new(), "the digits typed over the question are gone");
    h.keys("456");
    assert_eq!(h.take(), ["play choose"]);
    h.keys("1");
    assert_eq!(h.take(), Vec::<String>::new(), "the menu's prompt is not stopped");
    h.played();
    h.keys("1");
    assert_eq!(h.take(), ["play goodbye"]);
}

#[test]
fn keys_typed_during_a_complaint_do_not_answer_a_question_that_must_be_heard() {
    let lib = library(&["q", "bad", "choose", "goodbye"]);
    let mut h = Harness::new(plan(&format!("{HEAD}{STEPS}"), &lib), lib);
    h.start();
    h.played();
    h.take();
    h.keys("12");
    h.wait(5000);
    assert_eq!(h.take(), ["play bad"]);
    h.keys("456");
    h.played();
    assert_eq!(h.take(), ["play q"]);
    h.played();
    h.wait(4999);
    assert_eq!(h.engine.current_step(), "ask", "the keys typed over the complaint were discarded");
}
