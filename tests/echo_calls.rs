//! End-to-end calls to the diagnostic echo service over loopback, with the real
//! `ivrpay call` user agent (the library, and for some cases the `ivrpay call` binary
//! itself with --record): every DTMF mode on both transports must come back as the
//! recorded digit prompts, in order, each digit received exactly once.

mod common;

use ivrpay::caller::{self, CallOptions, DtmfMode, EndedBy};
use ivrpay::ivr::prompts::PromptLibrary;
use ivrpay::media::codec::Codec;
use ivrpay::media::g711;
use ivrpay::sip::Transport;
use std::path::Path;
use std::time::Duration;

/// Who places the call: the library's caller, or the `ivrpay call` binary.
#[derive(Clone, Copy, Debug)]
enum Dialer {
    Library,
    Binary,
}

/// What the test needs from a call's summary.
struct Outcome {
    codec: Codec,
    digits_sent: usize,
}

/// Runs `ivrpay call` as a user would and reads its one-line summary.
async fn call_with_binary(target: &str, mode: DtmfMode, transport: Transport, digits: &str, wav: &Path) -> Outcome {
    let mode = match mode {
        DtmfMode::Rfc4733 => "rfc4733",
        DtmfMode::Info => "info",
        DtmfMode::Inband => "inband",
    };
    let transport = match transport {
        Transport::Udp => "udp",
        Transport::Tcp => "tcp",
    };
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ivrpay"))
        .args(["call", target, "--dtmf", digits, "--dtmf-mode", mode, "--transport", transport])
        .args(["--wait-ms", "600", "--digit-ms", "100", "--gap-ms", "150", "--hangup-after-ms", "3000"])
        .arg("--record")
        .arg(wav)
        .kill_on_drop(true)
        .output()
        .await
        .expect("ivrpay call runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ivrpay call failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("call-id=")).unwrap_or_else(|| panic!("a summary: {stdout}"));
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} in the summary: {line}"))
            .to_string()
    };
    assert_eq!(field("status"), "200", "{line}");
    assert_eq!(field("ended_by"), "Caller", "{line}");
    assert_eq!(field("bye_status"), "200", "{line}");
    assert!(field("rtp_in").parse::<u64>().unwrap() > 0, "{line}");
    let codec = Codec::from_encoding_name(&field("codec")).unwrap_or_else(|| panic!("a G.711 codec: {line}"));
    Outcome { codec, digits_sent: field("digits_sent").parse().unwrap() }
}

/// The samples a caller hears for a prompt, after G.711 encoding and decoding.
fn heard(lib: &PromptLibrary, name: &str, codec: Codec) -> Vec<i16> {
    let p = lib.get("fr", name).unwrap_or_else(|| panic!("prompt {name} shipped"));
    let enc = p.encoded(codec);
    let mut pcm = vec![0i16; enc.len()];
    g711::decode_frame(codec, enc, &mut pcm);
    pcm
}

async fn call_with_library(target: &str, mode: DtmfMode, transport: Transport, digits: &str, wav: &Path) -> Outcome {
    let opts = CallOptions {
        target: target.into(),
        dtmf: digits.into(),
        mode,
        transport,
        record: Some(wav.to_path_buf()),
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
    Outcome { codec: summary.codec.expect("negotiated"), digits_sent: summary.digits_sent }
}

async fn echo_call(mode: DtmfMode, transport: Transport, digits: &str, dialer: Dialer) {
    common::init_tracing();
    let server = common::start(common::config()).await;
    let dir = tempdir();
    let wav = dir.join("heard.wav");
    let target = format!("sip:echo@{}", server.sip_addr());
    let outcome = match dialer {
        Dialer::Library => call_with_library(&target, mode, transport, digits, &wav).await,
        Dialer::Binary => call_with_binary(&target, mode, transport, digits, &wav).await,
    };
    assert_eq!(outcome.digits_sent, digits.len());
    assert_eq!(
        server.ctx().digits_received(),
        digits.len() as u64,
        "each digit received exactly once ({mode:?} {transport:?} {dialer:?})"
    );
    let codec = outcome.codec;
    let recorded: Vec<i16> = hound::WavReader::open(&wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    let lib = ivrpay::ivr::prompts::load(&common::root().join("prompts"), "fr").unwrap();
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
    echo_call(DtmfMode::Rfc4733, Transport::Udp, "1590#", Dialer::Library).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Rfc4733, Transport::Tcp, "2*8", Dialer::Binary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_digits_over_udp_are_read_back() {
    echo_call(DtmfMode::Info, Transport::Udp, "364", Dialer::Binary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Info, Transport::Tcp, "71", Dialer::Library).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_digits_over_udp_are_read_back() {
    echo_call(DtmfMode::Inband, Transport::Udp, "4826", Dialer::Library).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_digits_over_tcp_are_read_back() {
    echo_call(DtmfMode::Inband, Transport::Tcp, "09", Dialer::Binary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_digits_are_each_read_back() {
    echo_call(DtmfMode::Rfc4733, Transport::Udp, "1111", Dialer::Library).await;
}
