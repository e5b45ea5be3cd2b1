//! End-to-end calls to the diagnostic echo service over loopback, with the real
//! `ivrpay call` user agent: every DTMF mode on both transports must come back as the
//! recorded digit prompts, in order.

mod common;

use ivrpay::caller::{self, CallOptions, DtmfMode, EndedBy};
use ivrpay::ivr::prompts::PromptLibrary;
use ivrpay::media::codec::Codec;
use ivrpay::media::g711;
use ivrpay::sip::Transport;
use std::time::Duration;

/// The samples a caller hears for a prompt, after G.711 encoding and decoding.
fn heard(lib: &PromptLibrary, name: &str, codec: Codec) -> Vec<i16> {
    let p = lib.get("fr", name).unwrap_or_else(|| panic!("prompt {name} shipped"));
    let enc = p.encoded(codec);
    let mut pcm = vec![0i16; enc.len()];
    g711::decode_frame(codec, enc, &mut pcm);
    pcm
}

async fn echo_call(mode: DtmfMode, transport: Transport, digits: &str) {
    common::init_tracing();
    let server = common::start(common::config()).await;
    let dir = tempdir();
    let wav = dir.join("heard.wav");
    let opts = CallOptions {
        target: format!("sip:echo@{}", server.sip_addr()),
        dtmf: digits.into(),
        mode,
        transport,
        record: Some(wav.clone()),
        wait: Duration::from_millis(600),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(150),
        hangup_after: Duration::from_millis(3000),
        ..CallOptions::default()
    };
    let summary = caller::run(&opts).await.expect("call completes");
    assert_eq!(summary.status, 200, "{summary}");
    assert_eq!(summary.ended_by, EndedBy::Caller);
    assert_eq!(summary.bye_status, 200, "{summary}");
    assert_eq!(summary.digits_sent, digits.len());
    let codec = summary.codec.expect("negotiated");
    let recorded: Vec<i16> = hound::WavReader::open(&wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    let lib = PromptLibrary::load(&common::root().join("prompts"), "fr").unwrap();
    // The greeting starts the call (its beginning at least: the first key barges in).
    let greeting = heard(&lib, "echo_welcome", codec);
    assert!(common::find(&recorded, &greeting[..1600], 0).is_some(), "greeting heard");
    // Each digit prompt is heard, in the order typed.
    let mut at = 0;
    for d in digits.chars() {
        let name = ivrpay::ivr::echo::digit_prompt_name(d).unwrap();
        let pcm = heard(&lib, &name, codec);
        at = common::find(&recorded, &pcm, at)
            .unwrap_or_else(|| panic!("digit {d} read back after sample {at} ({mode:?} {transport:?})"))
            + pcm.len();
    }
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ivrpay-echo-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_digits_over_udp_are_read_back() {
    echo_call(DtmfMode::Rfc4733, Transport::Udp, "1590#").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Rfc4733, Transport::Tcp, "2*8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_digits_over_udp_are_read_back() {
    echo_call(DtmfMode::Info, Transport::Udp, "364").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Info, Transport::Tcp, "71").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_digits_over_udp_are_read_back() {
    echo_call(DtmfMode::Inband, Transport::Udp, "4826").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Inband, Transport::Tcp, "09").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_digits_are_each_read_back() {
    echo_call(DtmfMode::Rfc4733, Transport::Udp, "1111").await;
}
