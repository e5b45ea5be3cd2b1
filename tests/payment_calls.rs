//! Invoices paid by phone, end to end: an invoice created through the extranet API, a
//! real call from `ivrpay call` to the shipped payment flow over loopback, and then the
//! database: a non-guaranteed transaction with a masked card, the invoice's status,
//! and the call record. Also the paths that must not charge: a refused card, a wrong
//! check digit, silence, and a caller who hangs up half way.

mod common;

use common::http;
use ivrpay::caller::{self, CallOptions, CallSummary, DtmfMode, EndedBy};
use ivrpay::config::Config;
use ivrpay::media::g711;
use ivrpay::payments::merchant::CaptureMode;
use ivrpay::server::Server;
use ivrpay::sip::Transport;
use ivrpay::store::calls::CallRecord;
use std::path::PathBuf;
use std::time::Duration;

const ACCEPTED: &str = "4100000000000100";
const REFUSED: &str = "4100000000000605";

/// A card expiry (MMYY) three years from today, so the tests never age.
fn expiry() -> String {
    let d = chrono::Utc::now().date_naive() + chrono::Months::new(36);
    d.format("%m%y").to_string()
}

/// A due date a year from today.
fn due_date() -> String {
    (chrono::Utc::now().date_naive() + chrono::Months::new(12)).format("%Y-%m-%d").to_string()
}

struct Line {
    server: Server,
    key: String,
}

async fn line(cfg: Config) -> Line {
    common::init_tracing();
    let server = common::start(cfg).await;
    let m = common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None);
    let (_, key) = server.ctx().store.create_merchant(&m).await.expect("merchant");
    Line { server, key: key.secret }
}

/// Creates an invoice through the API; returns its id and payment code.
async fn invoice(line: &Line, reference: &str) -> (String, String) {
    let due = due_date();
    let body = format!(
        r#"{{"reference":"{reference}","amount":12345,"currency":"EUR","due_date":"{due}","customer_name":"Jeanne Martin"}}"#
    );
    let (status, inv) = http(line.server.http_addr(), "POST", "/api/v1/invoices", Some(&line.key), Some(&body)).await;
    assert_eq!(status, 201, "{inv}");
    (inv["id"].as_str().unwrap().to_string(), inv["payment_code"].as_str().unwrap().to_string())
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ivrpay-pay-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn call(
    line: &Line,
    dtmf: &str,
    mode: DtmfMode,
    transport: Transport,
    wait_for_bye: bool,
) -> (CallSummary, Vec<i16>) {
    call_as(line, dtmf, mode, transport, wait_for_bye, None).await
}

/// [`call`] with a Call-ID of the test's choosing.
async fn call_as(
    line: &Line,
    dtmf: &str,
    mode: DtmfMode,
    transport: Transport,
    wait_for_bye: bool,
    call_id: Option<&str>,
) -> (CallSummary, Vec<i16>) {
    let wav = tempdir().join("heard.wav");
    let opts = CallOptions {
        target: format!("sip:pay@{}", line.server.sip_addr()),
        dtmf: dtmf.into(),
        mode,
        transport,
        record: Some(wav.clone()),
        wait: Duration::from_millis(800),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(120),
        hangup_after: Duration::from_millis(1000),
        wait_for_bye,
        max_duration: Duration::from_secs(150),
        call_id: call_id.map(str::to_string),
        ..CallOptions::default()
    };
    let summary = caller::run(&opts).await.expect("call completes");
    assert_eq!(summary.status, 200, "{summary}");
    let heard = hound::WavReader::open(&wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    (summary, heard)
}

/// The call's record once it is complete.
async fn record(line: &Line, call_id: &str) -> CallRecord {
    for _ in 0..100 {
        let calls = line.server.ctx().store.calls_by_call_id(call_id).await.unwrap();
        if let Some(c) = calls.into_iter().find(|c| c.outcome.is_some()) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no completed call record for {call_id}");
}

/// Whether the caller heard a prompt (exactly as the server encodes it).
fn heard(recording: &[i16], lang: &str, name: &str, codec: ivrpay::media::codec::Codec) -> bool {
    let lib = ivrpay::ivr::prompts::load(&common::root().join("prompts"), "fr").unwrap();
    let p = lib.get(lang, name).unwrap_or_else(|| panic!("prompt {lang}/{name}"));
    let enc = p.encoded(codec);
    let mut pcm = vec![0i16; enc.len()];
    g711::decode_frame(codec, enc, &mut pcm);
    common::find(recording, &pcm[..pcm.len().min(4000)], 0).is_some()
}

async fn invoice_status(line: &Line, id: &str) -> String {
    let (_, inv) = http(line.server.http_addr(), "GET", &format!("/api/v1/invoices/{id}"), Some(&line.key), None).await;
    inv["status"].as_str().unwrap().to_string()
}

async fn transactions(line: &Line) -> Vec<serde_json::Value> {
    let (status, list) = http(line.server.http_addr(), "GET", "/api/v1/transactions", Some(&line.key), None).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_an_invoice_by_phone() {
    let line = line(common::config()).await;
    let (id, code) = invoice(&line, "FAC-PAY-1").await;
    // French; the code; once the amount has been read back, 1 to pay it; the card;
    // expiry; code; then, once the summary has been heard, 1 to confirm (the read-back
    // and the summary discard keys typed over them).
    let script = format!("1{code};1{ACCEPTED}#{}737;1", expiry());
    let (summary, recording) = call(&line, &script, DtmfMode::Rfc4733, Transport::Udp, true).await;
    assert_eq!(summary.ended_by, EndedBy::Server, "the flow says goodbye and hangs up: {summary}");
    let codec = summary.codec.unwrap();
    for prompt in [
        "pay_welcome",
        "invoice_amount_is",
        "invoice_due_on",
        "about_to_pay",
        "payment_accepted",
        "authorization_number_is",
        "transaction_reference_is",
        "goodbye",
    ] {
        assert!(heard(&recording, "fr", prompt, codec), "heard {prompt}");
    }
    assert_eq!(invoice_status(&line, &id).await, "PAID");
    let txs = transactions(&line).await;
    assert_eq!(txs.len(), 1, "{txs:?}");
    let t = &txs[0];
    assert_eq!(t["invoice_id"], id.as_str());
    assert_eq!(t["status"], "TO_CAPTURE");
    assert_eq!(t["masked_pan"], "410000######0100");
    assert_eq!(t["guarantee_indicator"], "N", "voice-server payments carry no liability shift");
    assert_eq!(t["channel"], "IVR");
    assert_eq!(t["amount"], 12345);
    assert_eq!(t["call_id"], summary.call_id.as_str());
    assert_eq!(t["caller"], "ivrpay-caller");
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("paid"));
    assert_eq!(rec.service, "pay");
    assert_eq!(rec.flow.as_deref(), Some("invoice-payment"));
    assert_eq!(rec.transaction_reference.as_deref(), t["reference"].as_str());
    assert_eq!(rec.invoice_id.as_deref(), Some(id.as_str()));
    assert_eq!(rec.end_reason.as_deref(), Some("flow_hangup"));
    for step in [
        "ask_code",
        "find_invoice",
        "read_invoice",
        "ask_card",
        "ask_expiry",
        "ask_csc",
        "summary",
        "pay",
        "accepted",
        "goodbye",
    ] {
        assert!(rec.steps.iter().any(|s| s == step), "step {step} in {:?}", rec.steps);
    }
    assert!(rec.answered_at.is_some() && rec.ended_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_card_may_be_replaced_once_then_the_call_ends_unpaid() {
    let line = line(common::config()).await;
    let (id, code) = invoice(&line, "FAC-REF-1").await;
    // In English, over SIP INFO on TCP.
    let exp = expiry();
    let script = format!("2{code};1{REFUSED}#{exp}737;1;{REFUSED}#{exp}737;1");
    let (summary, recording) = call(&line, &script, DtmfMode::Info, Transport::Tcp, true).await;
    assert_eq!(summary.ended_by, EndedBy::Server, "{summary}");
    let codec = summary.codec.unwrap();
    assert!(heard(&recording, "en", "payment_refused", codec));
    assert!(heard(&recording, "en", "try_another_card", codec));
    assert_eq!(invoice_status(&line, &id).await, "PAYABLE");
    let txs = transactions(&line).await;
    assert_eq!(txs.len(), 2, "two cards tried: {txs:?}");
    assert!(txs.iter().all(|t| t["status"] == "REFUSED" && t["response_code"] == "05"), "{txs:?}");
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("refused"));
    assert_eq!(rec.language.as_deref(), Some("en"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_check_digit_never_reaches_the_database() {
    let line = line(common::config()).await;
    let (id, code) = invoice(&line, "FAC-CD-1").await;
    // Swap two adjacent digits: the Damm check digit catches it.
    let mut wrong: Vec<char> = code.chars().collect();
    let i = (0..8).find(|&i| wrong[i] != wrong[i + 1]).unwrap();
    wrong.swap(i, i + 1);
    let wrong: String = wrong.into_iter().collect();
    let script = format!("1{wrong};{wrong};{wrong}");
    let (summary, recording) = call(&line, &script, DtmfMode::Inband, Transport::Udp, true).await;
    assert_eq!(summary.ended_by, EndedBy::Server, "{summary}");
    let codec = summary.codec.unwrap();
    assert!(heard(&recording, "fr", "code_invalid", codec));
    assert!(heard(&recording, "fr", "too_many_attempts", codec));
    assert_eq!(invoice_status(&line, &id).await, "PAYABLE");
    assert!(transactions(&line).await.is_empty());
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("invalid_invoice"));
    assert!(!rec.steps.iter().any(|s| s == "find_invoice"), "no lookup: {:?}", rec.steps);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_caller_is_asked_three_times_then_let_go() {
    // The shipped flow with a shorter wait for the first digit of the code.
    let dir = tempdir();
    let text = std::fs::read_to_string(common::root().join("dialplans/invoice-payment.toml")).unwrap();
    let text = text.replacen("first_digit_timeout_ms = 8000", "first_digit_timeout_ms = 1500", 1);
    std::fs::write(dir.join("invoice-payment.toml"), text).unwrap();
    let mut cfg = common::config();
    cfg.dialplans.dir = dir;
    let line = line(cfg).await;
    let (summary, recording) = call(&line, "1", DtmfMode::Rfc4733, Transport::Udp, true).await;
    assert_eq!(summary.ended_by, EndedBy::Server, "{summary}");
    assert!(heard(&recording, "fr", "no_input", summary.codec.unwrap()));
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("abandoned"));
    assert_eq!(rec.steps.iter().filter(|s| *s == "ask_code").count(), 1, "one visit, three attempts");
    assert_eq!(rec.steps.last().map(String::as_str), Some("goodbye"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_who_hangs_up_mid_flow_leaves_the_invoice_payable() {
    let line = line(common::config()).await;
    let (id, code) = invoice(&line, "FAC-HUP-1").await;
    let script = format!("1{code};14100000");
    let (summary, _) = call(&line, &script, DtmfMode::Rfc4733, Transport::Udp, false).await;
    assert_eq!(summary.ended_by, EndedBy::Caller);
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("abandoned"));
    assert_eq!(rec.end_reason.as_deref(), Some("caller_bye"));
    assert_eq!(rec.steps.last().map(String::as_str), Some("ask_card"));
    assert_eq!(invoice_status(&line, &id).await, "PAYABLE");
    assert!(transactions(&line).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_reusing_a_call_id_is_charged_for_each_invoice_it_pays() {
    // The payment's idempotency key is the server's own, drawn per call: a Call-ID the
    // caller chose again must not find the first call's payment and say "accepted"
    // for the second invoice while nothing is charged.
    // A short T1, so the first call's leg stops lingering (64*T1) soon; until it has,
    // the same Call-ID is that call's (481), so each call waits for the last to go.
    let mut cfg = common::config();
    cfg.sip.t1_ms = 50;
    let line = line(cfg).await;
    let (first, code1) = invoice(&line, "FAC-CID-1").await;
    let (second, code2) = invoice(&line, "FAC-CID-2").await;
    for code in [&code1, &code2] {
        let script = format!("1{code};1{ACCEPTED}#{}737;1", expiry());
        let (s, _) = call_as(&line, &script, DtmfMode::Rfc4733, Transport::Udp, true, Some("reused@caller")).await;
        assert_eq!(s.call_id, "reused@caller");
        for _ in 0..300 {
            if !line.server.ctx().env.calls.contains("reused@caller") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(invoice_status(&line, &first).await, "PAID");
    assert_eq!(invoice_status(&line, &second).await, "PAID", "the second invoice was really paid");
    let txs = transactions(&line).await;
    let mut paid: Vec<&str> = txs.iter().map(|t| t["invoice_id"].as_str().unwrap()).collect();
    paid.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(paid, expected, "one authorization per invoice: {txs:?}");
    assert!(txs.iter().all(|t| t["status"] == "TO_CAPTURE"), "{txs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_whose_invoice_payment_is_being_resolved_hears_it_is_being_processed() {
    use ivrpay::payments::card::Brand;
    use ivrpay::payments::money::Currency;
    use ivrpay::payments::transaction::{NewPending, Pending};
    let line = line(common::config()).await;
    let (id, code) = invoice(&line, "FAC-PEND-1").await;
    let store = &line.server.ctx().store;
    let inv = store.invoice_by_payment_code(&code).await.unwrap().unwrap();
    // Another call's payment was sent and its answer is not recorded yet.
    let pending = NewPending {
        reference: "IVRPENDING0000001".into(),
        merchant_id: inv.merchant_id.clone(),
        invoice_id: id.clone(),
        idempotency_key: "other-call#1".into(),
        amount: inv.amount,
        currency: Currency::Eur,
        masked_pan: "410000######0100".into(),
        brand: Brand::Visa,
        expiry_month: "203012".into(),
        order_channel: "MOTO".into(),
        capture_mode: CaptureMode::AuthorCapture,
        capture_day: 0,
        caller: Some("+33600000000".into()),
        call_id: Some("other@test".into()),
    };
    assert_eq!(store.record_pending(&pending).await.unwrap(), Pending::Recorded);
    let ivrpay::payments::gateway::Gateway::Simulator(sim) = &line.server.ctx().gateway else {
        panic!("the simulator")
    };
    let sent = sim.calls();
    let (summary, recording) = call(&line, &format!("1{code}"), DtmfMode::Rfc4733, Transport::Udp, true).await;
    let codec = summary.codec.unwrap();
    assert!(heard(&recording, "fr", "payment_in_progress", codec), "told it is being processed");
    assert!(!heard(&recording, "fr", "code_paid", codec), "never that it is paid");
    assert!(!heard(&recording, "fr", "invoice_amount_is", codec), "not offered to pay it again");
    assert_eq!(summary.ended_by, EndedBy::Server, "{summary}");
    let rec = record(&line, &summary.call_id).await;
    assert_eq!(rec.outcome.as_deref(), Some("invalid_invoice"));
    assert!(rec.steps.iter().any(|s| s == "in_progress"), "{:?}", rec.steps);
    assert_eq!(sim.calls(), sent, "nothing sent to the platform");
    assert_eq!(invoice_status(&line, &id).await, "PAYABLE");
}
