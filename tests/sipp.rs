//! Interoperability with SIPp (Debian package `sip-tester`): real third-party UAC
//! scenarios from `tests/sipp/` against a real server on loopback.

mod common;

use std::process::Stdio;
use std::time::Duration;

/// Runs one scenario to completion (`-m calls`), asserts SIPp reports success, and
/// returns SIPp's message trace.
async fn sipp(scenario: &str, target: std::net::SocketAddr, extra: &[&str], calls: u32) -> String {
    sipp_in(None, scenario, target, extra, calls, 30).await
}

/// Like [`sipp`], run in `dir` (where a scenario finds its captures) with a global
/// timeout of `timeout_s`.
async fn sipp_in(
    dir: Option<&std::path::Path>,
    scenario: &str,
    target: std::net::SocketAddr,
    extra: &[&str],
    calls: u32,
    timeout_s: u32,
) -> String {
    let path = common::root().join("tests/sipp").join(scenario);
    let trace = std::env::temp_dir().join(format!("ivrpay-sipp-{}-{}.log", std::process::id(), rand::random::<u32>()));
    let mut cmd = tokio::process::Command::new("sipp");
    cmd.arg(target.to_string())
        .arg("-sf")
        .arg(&path)
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &common::free_port().to_string(),
            "-mp",
            &(common::free_port() & !1).to_string(),
        ])
        .args([
            "-m",
            &calls.to_string(),
            "-l",
            "20",
            "-r",
            "10",
            "-nostdin",
            "-timeout",
            &timeout_s.to_string(),
            "-timeout_error",
            "-d",
            "1500",
        ])
        .arg("-trace_msg")
        .arg("-message_file")
        .arg(&trace)
        .args(if extra.contains(&"-s") { &[][..] } else { &["-s", "echo"][..] })
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    let out = match tokio::time::timeout(Duration::from_secs(u64::from(timeout_s) + 30), cmd.output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("cannot run sipp ({e}); install it with `apt-get install sip-tester` (.ci/run does)"),
        Err(_) => panic!("sipp {scenario} did not finish within 60 s"),
    };
    assert!(
        out.status.success(),
        "sipp {scenario} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    let _ = std::fs::remove_file(&trace);
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_call_with_rfc4733_pcap_digits_over_udp() {
    let server = common::start(common::config()).await;
    sipp("uac_rfc4733.xml", server.sip_addr(), &[], 2).await;
    assert_eq!(server.ctx().digits_received(), 2 * 3, "digits 1, 2, 5 per call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_call_over_tcp() {
    let server = common::start(common::config()).await;
    sipp("uac_rfc4733.xml", server.sip_addr(), &["-t", "t1"], 2).await;
    assert_eq!(server.ctx().digits_received(), 2 * 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_while_ringing() {
    let mut cfg = common::config();
    cfg.sip.answer_delay_ms = 3000;
    let server = common::start(cfg).await;
    sipp("uac_cancel.xml", server.sip_addr(), &[], 2).await;
    assert_eq!(server.ctx().active_calls(), 0, "cancelled calls are not left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_late_offer() {
    let server = common::start(common::config()).await;
    // SIPp's answer (in the ACK) points the media here: what the server sends is counted.
    let sink = std::sync::Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let port = sink.local_addr().unwrap().port().to_string();
    let counter = tokio::spawn({
        let sink = sink.clone();
        async move {
            let (mut packets, mut payload_types) = (0u32, std::collections::BTreeSet::new());
            let mut buf = [0u8; 2048];
            while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(3), sink.recv_from(&mut buf)).await {
                if n >= 12 && buf[0] >> 6 == 2 {
                    packets += 1;
                    payload_types.insert(buf[1] & 0x7f);
                }
            }
            (packets, payload_types)
        }
    });
    sipp("uac_late_offer.xml", server.sip_addr(), &["-set", "sink_port", &port], 2).await;
    let (packets, payload_types) = counter.await.unwrap();
    // Two calls of 1.5 s each hear the greeting: dozens of 20 ms packets at least.
    assert!(packets >= 20, "media flowed after the answer in the ACK: {packets} packets");
    // We offered PCMA first; SIPp answered PCMU only, and that is what we must send.
    assert_eq!(payload_types.into_iter().collect::<Vec<_>>(), [0], "PCMU (payload type 0) as answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_invite_retransmitted_before_the_200() {
    let mut cfg = common::config();
    cfg.sip.answer_delay_ms = 800;
    let server = common::start(cfg).await;
    let log = sipp("uac_invite_retransmit.xml", server.sip_addr(), &[], 2).await;
    let count = |what: &str| log.lines().filter(|l| l.starts_with(what)).count();
    // However many times the 200 was sent again, each call has one dialog (one To tag).
    let mut dialogs: Vec<&str> = Vec::new();
    let mut in_ok = false;
    for line in log.lines() {
        if line.starts_with("SIP/2.0 ") {
            in_ok = line.starts_with("SIP/2.0 200");
        } else if in_ok && line.starts_with("To:") && !dialogs.contains(&line) {
            dialogs.push(line);
        }
    }
    assert_eq!(dialogs.len(), 2, "one dialog per call: {dialogs:?}");
    assert!(count("SIP/2.0 180") >= 2 * 2, "the retransmitted INVITE got the 180 again:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_pays_an_invoice_with_rfc4733_pcaps() {
    use ivrpay::payments::merchant::CaptureMode;
    let server = common::start(common::config()).await;
    let store = &server.ctx().store;
    let (m, _) = store.create_merchant(&common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let inv = common::fixtures::stored_invoice(store, &m, "FAC-SIPP-1", 9990).await;
    let dir = std::env::temp_dir().join(format!("ivrpay-sipp-pay-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut timeline = common::pcap::KeyTimeline::default();
    let expiry = (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y").to_string();
    for (file, keys) in [
        ("lang.pcap", "1".to_string()),
        ("code.pcap", inv.payment_code.clone()),
        ("confirm.pcap", "1".to_string()),
        ("card.pcap", format!("{}#", common::fixtures::ACCEPTED_CARD)),
        ("expiry.pcap", expiry),
        ("csc.pcap", "737".to_string()),
        ("pay.pcap", "1".to_string()),
    ] {
        timeline.write(&dir.join(file), &keys);
    }
    // The amount read back and the summary must be heard to the end before 1 counts:
    // SIPp cannot listen, so the pauses before both 1s are this invoice's read-back and
    // summary as the shipped French prompts say them, plus the keys before them and a
    // margin well inside the menus' 6 s wait.
    use ivrpay::ivr::say::{self, Language};
    let lib = ivrpay::ivr::prompts::load(&common::root().join("prompts"), "fr").unwrap();
    let ms = |names: Vec<&str>| names.iter().map(|n| lib.get("fr", n).expect("prompt").duration_ms()).sum::<u64>();
    let amount = say::amount(Language::Fr, inv.amount, inv.currency);
    let read_back = [vec!["invoice_amount_is"], amount.clone(), vec!["invoice_due_on"]].concat();
    let read_back = [read_back, say::date(Language::Fr, inv.due_date), vec!["confirm_invoice"]].concat();
    let last4 = say::digits(Language::Fr, &common::fixtures::ACCEPTED_CARD[12..]);
    let summary = [vec!["about_to_pay"], amount, vec!["with_card_ending"], last4, vec!["confirm_payment"]].concat();
    const MARGIN_MS: u64 = 2500;
    let key_ms = |keys: usize| keys as u64 * 300;
    let before_confirm = key_ms(inv.payment_code.len()) + ms(read_back) + MARGIN_MS;
    let before_pay = key_ms(3) + ms(summary) + MARGIN_MS;
    let scenario = std::fs::read_to_string(common::root().join("tests/sipp/uac_payment.xml")).unwrap();
    let set_pause = |text: String, id: &str, value: u64| {
        let re = regex_lite::Regex::new(&format!(r#"<pause milliseconds="\d+"/><!-- {id} -->"#)).unwrap();
        assert!(re.is_match(&text), "pause {id} in the scenario");
        re.replace(&text, format!(r#"<pause milliseconds="{value}"/><!-- {id} -->"#).as_str()).into_owned()
    };
    let scenario = set_pause(set_pause(scenario, "read-back", before_confirm), "summary", before_pay);
    let path = dir.join("uac_payment.xml");
    std::fs::write(&path, scenario).unwrap();
    sipp_in(Some(&dir), path.to_str().unwrap(), server.sip_addr(), &["-s", "pay"], 1, 120).await;
    let inv = store.invoice(&m.id, &inv.id).await.unwrap().unwrap();
    assert_eq!(inv.status.as_str(), "PAID");
    let calls = common::completed_calls(store, 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].outcome.as_deref(), Some("paid"), "{:?}", calls[0]);
    for step in ["read_invoice", "summary", "pay", "accepted", "goodbye"] {
        assert!(calls[0].steps.iter().any(|s| s == step), "{step} in {:?}", calls[0].steps);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
