//! The shipped payment flow (`dialplans/invoice-payment.toml`) on virtual time: every
//! path a caller can take, with the lookups and authorizations answered by the test.

use super::tests::{library, plan, Harness};
use crate::ivr::app::{AppInput, AuthorizeResult, CallApp, CallOutcome, LookupResult};
use crate::ivr::dialplan::plan_prompt_names;
use crate::ivr::dialplan::{parse, Dialplan};
use crate::payments::check_digit::append_check_digit;
use crate::payments::fixtures;
use crate::payments::invoice::InvoiceStatus;
use std::path::Path;

pub(super) const CARD: &str = "4100000000000100";

pub(super) fn shipped() -> Harness {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dialplans/invoice-payment.toml");
    let text = std::fs::read_to_string(&path).expect("shipped dialplan");
    let any: Dialplan = parse(&path, &text, &|_| true).expect("shipped dialplan parses");
    let names = plan_prompt_names(&any);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let lib = library(&names);
    Harness::new(plan(&text, &lib), lib)
}

pub(super) fn code() -> String {
    append_check_digit("48015273").expect("digits")
}

pub(super) fn found(status: InvoiceStatus) -> AppInput {
    let (invoice, merchant) = (fixtures::invoice(status), fixtures::merchant(&["CB", "VISA"]));
    AppInput::Invoice(LookupResult::Found(Box::new((invoice, merchant))))
}

pub(super) fn accepted() -> AppInput {
    AppInput::Authorized(AuthorizeResult::Accepted {
        reference: "IVR2026112300000001".into(),
        authorisation_id: "123456".into(),
    })
}

/// Welcome, French, code typed: the lookup is asked for.
pub(super) fn to_lookup(h: &mut Harness) {
    h.start();
    h.keys("1");
    h.keys(&code());
    let log = h.take();
    assert_eq!(log[..5], ["play pay_welcome", "stop", "play choose_language", "stop", "play enter_code"]);
    assert_eq!(log[5..], ["stop".to_string(), format!("lookup {}", code())]);
}

/// From the invoice read back (heard to the end) to the summary with a card.
pub(super) fn to_summary(h: &mut Harness, card: &str) {
    h.played();
    h.keys("1");
    h.keys(&format!("{card}#"));
    h.keys("1230");
    h.keys("737");
    let log = h.take();
    assert!(log.iter().any(|l| l.starts_with("play about_to_pay+")), "{log:?}");
    let summary = log.iter().find(|l| l.starts_with("play about_to_pay+")).expect("summary");
    assert!(summary.ends_with("with_card_ending+digit_0+digit_1+digit_0+digit_0+confirm_payment"), "{summary}");
}

#[test]
fn a_caller_pays_an_invoice() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Payable));
    let log = h.take();
    assert_eq!(log.len(), 1);
    assert!(log[0].starts_with("play invoice_amount_is+") && log[0].contains("+invoice_due_on+"), "{log:?}");
    assert!(log[0].ends_with("+confirm_invoice"));
    to_summary(&mut h, CARD);
    h.played();
    h.keys("1");
    assert_eq!(h.take(), ["play please_wait", "authorize #1"], "the summary was heard to the end");
    let order = &h.orders[0];
    assert_eq!(order.card.masked(), "410000######0100");
    assert_eq!(order.csc.expose(), "737");
    assert_eq!(order.expiry.as_yyyymm(), "203012");
    assert_eq!(order.invoice.id, "inv_1");
    h.input(accepted());
    let log = h.take();
    assert!(log[0].starts_with("play payment_accepted+authorization_number_is+digit_1+digit_2"), "{log:?}");
    assert!(log[0].ends_with("+thank_you"));
    h.played();
    assert_eq!(h.take(), ["play goodbye"]);
    h.played();
    assert_eq!(h.take(), ["hangup"]);
    assert_eq!(h.engine.outcome(), CallOutcome::Paid);
    let report = h.engine.report();
    assert_eq!(report.transaction_reference.as_deref(), Some("IVR2026112300000001"));
    assert_eq!(report.invoice_id.as_deref(), Some("inv_1"));
    assert_eq!(report.language, "fr");
    assert!(report.steps.starts_with(&["welcome".into(), "choose_language".into(), "french".into()]));
}

#[test]
fn a_wrong_check_digit_is_caught_before_any_lookup() {
    let mut h = shipped();
    h.start();
    h.keys("1");
    h.take();
    let mut wrong = code();
    let last = wrong.pop().and_then(|c| c.to_digit(10)).expect("digit");
    wrong.push(char::from_digit((last + 1) % 10, 10).expect("digit"));
    for _ in 0..2 {
        h.keys(&wrong);
        assert_eq!(h.take(), ["stop", "play code_invalid"]);
        h.played();
        assert_eq!(h.take(), ["play enter_code"]);
    }
    h.keys(&wrong);
    assert_eq!(h.take(), ["stop", "play too_many_attempts"]);
    h.played();
    assert_eq!(h.take(), ["play goodbye"]);
    assert_eq!(h.engine.outcome(), CallOutcome::InvalidInvoice);
}

#[test]
fn unknown_paid_cancelled_and_expired_invoices_each_get_their_message() {
    for (input, prompt) in [
        (AppInput::Invoice(LookupResult::Unknown), "play code_unknown"),
        (found(InvoiceStatus::Paid), "play code_paid"),
        (found(InvoiceStatus::Cancelled), "play code_cancelled"),
        (found(InvoiceStatus::Expired), "play code_expired"),
    ] {
        let mut h = shipped();
        to_lookup(&mut h);
        h.input(input);
        assert_eq!(h.take(), [prompt]);
        h.played();
        assert_eq!(h.take(), ["play enter_code"], "after {prompt}, the caller may type another code");
        assert_eq!(h.engine.outcome(), CallOutcome::InvalidInvoice);
    }
}

#[test]
fn three_unknown_codes_end_the_call() {
    let mut h = shipped();
    to_lookup(&mut h);
    for _ in 0..2 {
        h.input(AppInput::Invoice(LookupResult::Unknown));
        h.played();
        h.keys(&code());
        h.take();
    }
    h.input(AppInput::Invoice(LookupResult::Unknown));
    h.played();
    assert_eq!(h.take(), ["play code_unknown", "play too_many_attempts"]);
}

#[test]
fn a_refused_card_gets_one_more_try_with_another_card() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Payable));
    to_summary(&mut h, CARD);
    h.played();
    h.keys("1");
    h.take();
    h.input(AppInput::Authorized(AuthorizeResult::Refused { reference: "R1".into(), response_code: "05".into() }));
    assert_eq!(h.take(), ["play payment_refused"]);
    h.played();
    assert_eq!(h.take(), ["play try_another_card"]);
    h.played();
    assert_eq!(h.take(), ["play enter_card"]);
    assert_eq!(h.engine.outcome(), CallOutcome::Refused);
    // Straight to the card: the invoice stays confirmed.
    h.keys(&format!("{CARD}#"));
    h.keys("1230");
    h.keys("737");
    h.take();
    h.played();
    h.keys("1");
    assert_eq!(h.take(), ["play please_wait", "authorize #2"]);
    h.input(AppInput::Authorized(AuthorizeResult::Refused { reference: "R2".into(), response_code: "05".into() }));
    h.played();
    assert_eq!(h.take(), ["play payment_refused", "play goodbye"], "no third card");
    assert_eq!(h.engine.outcome(), CallOutcome::Refused);
}

#[test]
fn an_unreachable_platform_gets_an_apology_and_no_second_charge() {
    for (result, prompt, outcome) in [
        (
            AuthorizeResult::Unavailable { reference: "R".into() },
            "play platform_unavailable",
            CallOutcome::PlatformError,
        ),
        (AuthorizeResult::Unresolved { reference: None }, "play payment_checking", CallOutcome::PlatformError),
    ] {
        let mut h = shipped();
        to_lookup(&mut h);
        h.input(found(InvoiceStatus::Payable));
        to_summary(&mut h, CARD);
        h.played();
        h.keys("1");
        h.take();
        h.input(AppInput::Authorized(result));
        assert_eq!(h.take(), [prompt]);
        h.played();
        assert_eq!(h.take(), ["play goodbye"]);
        assert_eq!(h.orders.len(), 1);
        assert_eq!(h.engine.outcome(), outcome);
    }
}

#[test]
fn card_entry_errors_have_their_own_prompts_and_star_goes_back() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Payable));
    h.played();
    h.keys("1");
    h.take();
    h.keys("4100000000000101#");
    assert_eq!(h.take(), ["stop", "play card_invalid"], "Luhn");
    h.played();
    h.take();
    h.keys("5100000000000107#");
    assert_eq!(h.take(), ["stop", "play card_brand_refused"], "Mastercard is not accepted by this merchant");
    h.played();
    h.take();
    h.keys(&format!("{CARD}#"));
    assert_eq!(h.take(), ["stop", "play enter_expiry"]);
    h.keys("1025");
    assert_eq!(h.take(), ["stop", "play card_expired"]);
    h.played();
    h.take();
    h.keys("*");
    assert_eq!(h.take(), ["stop", "play enter_card"], "* goes back to the card number");
    h.keys(&format!("{CARD}#"));
    h.keys("1230");
    h.keys("73");
    h.wait(5000);
    assert_eq!(h.take().last().map(String::as_str), Some("play csc_invalid"), "two digits for a Visa code");
}

#[test]
fn silence_on_the_language_menu_means_french_and_two_means_english() {
    let mut h = shipped();
    h.start();
    h.played();
    h.played();
    h.wait(4000);
    assert_eq!(h.take(), ["play pay_welcome", "play choose_language", "play enter_code"]);
    assert_eq!(h.engine.report().language, "fr");
    let mut h = shipped();
    h.start();
    h.keys("2");
    assert_eq!(h.engine.report().language, "en");
    assert_eq!(*h.langs.last().expect("played"), "en");
}

#[test]
fn a_caller_who_hangs_up_mid_flow_is_abandoned() {
    let mut h = shipped();
    to_lookup(&mut h);
    h.input(found(InvoiceStatus::Payable));
    h.played();
    h.keys("1");
    h.keys("4100");
    assert_eq!(h.engine.current_step(), "ask_card");
    assert_eq!(h.engine.outcome(), CallOutcome::Abandoned);
    assert!(h.orders.is_empty());
}

#[test]
fn silence_everywhere_ends_in_goodbye() {
    let mut h = shipped();
    h.start();
    h.played(); // welcome
    h.played(); // language menu
    h.wait(4000); // French by default
    assert_eq!(h.take(), ["play pay_welcome", "play choose_language", "play enter_code"]);
    for _ in 0..2 {
        h.played();
        h.wait(8000);
        assert_eq!(h.take(), ["play no_input"]);
        h.played();
        assert_eq!(h.take(), ["play enter_code"]);
    }
    h.played();
    h.wait(8000);
    assert_eq!(h.take(), ["play too_many_attempts"]);
    h.played();
    h.played();
    assert_eq!(h.take(), ["play goodbye", "hangup"]);
    assert_eq!(h.engine.outcome(), CallOutcome::Abandoned);
}
