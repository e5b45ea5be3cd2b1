//! Operators change flows while the line serves: a reload (operator API or SIGHUP)
//! switches new calls to the new version, calls in progress finish on theirs, and a bad
//! file is refused with its path and line while the version in force keeps serving.
//! `ivrpay check` finds the same problems before a deploy.

mod common;

use common::http;
use ivrpay::caller::{self, CallOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ivrpay-{tag}-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shipped() -> String {
    std::fs::read_to_string(common::root().join("dialplans/invoice-payment.toml")).unwrap()
}

fn call_opts(target: String, hangup_after_ms: u64) -> CallOptions {
    CallOptions {
        target,
        wait: Duration::from_millis(300),
        hangup_after: Duration::from_millis(hangup_after_ms),
        ..CallOptions::default()
    }
}

/// Options for a call whose audio is written to `wav`.
fn recorded(target: String, hangup_after_ms: u64, wav: &Path) -> CallOptions {
    CallOptions { record: Some(wav.to_path_buf()), ..call_opts(target, hangup_after_ms) }
}

/// Whether a recording holds the start of a French prompt, as the server encodes it.
fn heard(wav: &Path, name: &str, codec: ivrpay::media::codec::Codec) -> bool {
    let recording: Vec<i16> = hound::WavReader::open(wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    let lib = ivrpay::ivr::prompts::load(&common::root().join("prompts"), "fr").unwrap();
    let p = lib.get("fr", name).unwrap_or_else(|| panic!("prompt fr/{name}"));
    let enc = p.encoded(codec);
    let mut pcm = vec![0i16; enc.len()];
    ivrpay::media::g711::decode_frame(codec, enc, &mut pcm);
    common::find(&recording, &pcm[..pcm.len().min(4000)], 0).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_serves_new_calls_and_lets_calls_in_progress_finish_on_their_version() {
    let dir = tempdir("flows");
    let file = dir.join("invoice-payment.toml");
    std::fs::write(&file, shipped()).unwrap();
    let mut cfg = common::config();
    cfg.dialplans.dir = dir.clone();
    let server = common::start(cfg).await;
    let store = server.ctx().store.clone();
    let key = store.issue_operator_key("test").await.unwrap().secret;
    let api = server.http_addr();
    let (status, before) = http(api, "GET", "/api/v1/operator/dialplans", Some(&key), None).await;
    assert_eq!(status, 200, "{before}");
    let v1 = before["flows"][0]["version"].as_str().unwrap().to_string();

    // A call starts on version 1 and stays on the line: silent, it hears the welcome,
    // the language menu, then (French by default) the question for the payment code.
    let target = format!("sip:pay@{}", server.sip_addr());
    let old_wav = dir.join("old.wav");
    let long_call = tokio::spawn(caller::run_owned(recorded(target.clone(), 15000, &old_wav)));
    let mut live = serde_json::Value::Null;
    for _ in 0..100 {
        (_, live) = http(api, "GET", "/api/v1/operator/calls/live", Some(&key), None).await;
        if live["calls"][0]["step"] == "welcome" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(live["calls"].as_array().unwrap().len(), 1, "{live}");
    assert_eq!(live["calls"][0]["service"], "pay");
    assert_eq!(live["calls"][0]["step"], "welcome", "{live}");

    // Version 2 answers one more number and asks for the payment code in other words.
    std::fs::write(
        &file,
        shipped()
            .replace("numbers = [\"pay\", \"3900\"]", "numbers = [\"pay\", \"3900\", \"3901\"]")
            .replace("prompts = [\"enter_code\"]", "prompts = [\"echo_welcome\"]"),
    )
    .unwrap();
    let (status, after) = http(api, "POST", "/api/v1/operator/dialplans/reload", Some(&key), None).await;
    assert_eq!(status, 200, "{after}");
    let v2 = after["flows"][0]["version"].as_str().unwrap().to_string();
    assert_ne!(v1, v2);
    assert_eq!(after["flows"][0]["numbers"][2], "3901");
    let new_wav = dir.join("new.wav");
    // French at once: straight to the payment code's question.
    let mut opts = recorded(format!("sip:3901@{}", server.sip_addr()), 4000, &new_wav);
    opts.dtmf = "1".into();
    let new_call = caller::run(&opts).await.unwrap();
    assert_eq!(new_call.status, 200, "the new number answers at once");
    let old = long_call.await.unwrap().unwrap();
    assert_eq!(old.status, 200);
    // The call in progress, which reached the question after the reload, asked for the
    // code in version 1's words; the new call in version 2's.
    let codec = old.codec.unwrap();
    assert!(heard(&old_wav, "enter_code", codec), "the call in progress kept version 1");
    assert!(!heard(&old_wav, "echo_welcome", codec));
    assert!(heard(&new_wav, "echo_welcome", new_call.codec.unwrap()), "the new call runs version 2");
    assert!(!heard(&new_wav, "enter_code", new_call.codec.unwrap()));

    let calls = common::completed_calls(&store, 2).await;
    // Ended and recorded: no longer in progress, although the SIP legs linger for their
    // transaction timers.
    let (_, live) = http(api, "GET", "/api/v1/operator/calls/live", Some(&key), None).await;
    assert_eq!(live["calls"], serde_json::json!([]), "{live}");
    let version_of = |call_id: &str| {
        calls.iter().find(|c| c.call_id == call_id).and_then(|c| c.flow_version.clone()).expect("recorded")
    };
    assert_eq!(version_of(&old.call_id), v1, "the call in progress finished on its version");
    assert_eq!(version_of(&new_call.call_id), v2);

    // A broken file is refused with its line; version 2 keeps serving.
    std::fs::write(&file, shipped().replace("next = \"choose_language\"", "next = \"nowhere\"")).unwrap();
    let (status, err) = http(api, "POST", "/api/v1/operator/dialplans/reload", Some(&key), None).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "invalid_dialplan");
    assert!(err["error"]["details"]["file"].as_str().unwrap().ends_with("invoice-payment.toml"), "{err}");
    let line = shipped().lines().position(|l| l.contains("next = \"choose_language\"")).unwrap() + 1;
    assert_eq!(err["error"]["details"]["line"], line, "{err}");
    let (_, now) = http(api, "GET", "/api/v1/operator/dialplans", Some(&key), None).await;
    assert_eq!(now["flows"][0]["version"], v2.as_str());
    let still = caller::run(&call_opts(format!("sip:3901@{}", server.sip_addr()), 300)).await.unwrap();
    assert_eq!(still.status, 200);

    // Merchant keys and no key at all are refused.
    let (m, merchant_key) = store
        .create_merchant(&common::fixtures::merchant(ivrpay::payments::merchant::CaptureMode::AuthorCapture, 0, None))
        .await
        .unwrap();
    let _ = m;
    let (status, _) = http(api, "POST", "/api/v1/operator/dialplans/reload", Some(&merchant_key.secret), None).await;
    assert_eq!(status, 401);
    let (status, _) = http(api, "GET", "/api/v1/operator/calls", None, None).await;
    assert_eq!(status, 401);
    let (status, records) = http(api, "GET", "/api/v1/operator/calls?outcome=abandoned", Some(&key), None).await;
    assert_eq!(status, 200);
    assert_eq!(records["calls"].as_array().unwrap().len(), 3, "{records}");
    let (status, bad) = http(api, "GET", "/api/v1/operator/calls?outcome=lost", Some(&key), None).await;
    assert_eq!((status, bad["error"]["field"].as_str()), (422, Some("outcome")));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_for(path: &Path, needle: &str, count: usize) {
    for _ in 0..200 {
        if std::fs::read_to_string(path).unwrap_or_default().matches(needle).count() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("'{needle}' not {count} times in {}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_check_reports_file_and_line() {
    let bin = env!("CARGO_BIN_EXE_ivrpay");
    let dir = tempdir("hup");
    let flows = dir.join("dialplans");
    std::fs::create_dir_all(&flows).unwrap();
    std::fs::write(flows.join("invoice-payment.toml"), shipped()).unwrap();
    let cfg = dir.join("ivrpay.toml");
    std::fs::write(
        &cfg,
        format!(
            "[sip]\nlisten = \"127.0.0.1:0\"\n[media]\nrtp_port_min = 30200\nrtp_port_max = 30300\n[http]\nlisten = \"127.0.0.1:0\"\n\
             [storage]\ndatabase = \"sqlite://{}\"\n[prompts]\ndir = \"{}\"\n[dialplans]\ndir = \"{}\"\n",
            dir.join("db.sqlite").display(),
            common::root().join("prompts").display(),
            flows.display()
        ),
    )
    .unwrap();

    let check = std::process::Command::new(bin).args(["check", "-c"]).arg(&cfg).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(String::from_utf8_lossy(&check.stdout).contains("dialplan OK: invoice-payment"));

    let log = dir.join("server.log");
    let mut child = tokio::process::Command::new(bin)
        .args(["serve", "-c"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for(&log, "ivrpay listening", 1).await;
    let pid = child.id().unwrap() as i32;
    let sip = regex_lite::Regex::new(r"sip=(127\.0\.0\.1:\d+)").unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let sip = sip.captures(&text).and_then(|c| c.get(1)).expect("SIP address logged").as_str().to_string();
    let answers = |number: &str| {
        let opts = call_opts(format!("sip:{number}@{sip}"), 300);
        async move { caller::run(&opts).await.map(|s| s.status).unwrap_or(0) }
    };
    assert_eq!(answers("3902").await, 404, "not a number yet");
    std::fs::write(flows.join("invoice-payment.toml"), shipped().replace("\"3900\"", "\"3902\"")).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    wait_for(&log, "dialplans reloaded", 1).await;
    assert_eq!(answers("3902").await, 200, "the new number answers after the reload");
    let bad = shipped().replace("kind = \"hangup\"", "kind = \"hang_up\"");
    let line = bad.lines().position(|l| l.contains("kind = \"hang_up\"")).unwrap() + 1;
    std::fs::write(flows.join("invoice-payment.toml"), &bad).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    wait_for(&log, "dialplan reload refused", 1).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(&format!("invoice-payment.toml:{line}: unknown step kind 'hang_up'")), "{text}");
    assert_eq!(answers("3902").await, 200, "the version in force keeps serving after a refused reload");
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;

    // The same file fails `ivrpay check` with a non-zero status and the same line.
    let check = std::process::Command::new(bin).args(["check", "-c"]).arg(&cfg).output().unwrap();
    assert!(!check.status.success());
    let err = String::from_utf8_lossy(&check.stderr);
    assert!(err.contains(&format!("invoice-payment.toml:{line}: unknown step kind")), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reports_each_problem_of_each_file_with_its_line() {
    let bin = env!("CARGO_BIN_EXE_ivrpay");
    let dir = tempdir("check");
    let flows = dir.join("dialplans");
    std::fs::create_dir_all(&flows).unwrap();
    // Two problems in one file (a step nowhere, a kind that does not exist)...
    let a = shipped()
        .replace("next = \"choose_language\"", "next = \"nowhere\"")
        .replace("kind = \"hangup\"", "kind = \"hang_up\"");
    std::fs::write(flows.join("a.toml"), &a).unwrap();
    // ...and two in another (a language code that is not one, a prompt never recorded).
    let b = shipped()
        .replace("name = \"invoice-payment\"", "name = \"other\"")
        .replace("numbers = [\"pay\", \"3900\"]", "numbers = [\"other\"]")
        .replace("language = \"fr\"\nstart", "language = \"French\"\nstart")
        .replace("prompts = [\"goodbye\"]", "prompts = [\"never_recorded\"]");
    std::fs::write(flows.join("b.toml"), &b).unwrap();
    let cfg = dir.join("ivrpay.toml");
    std::fs::write(
        &cfg,
        format!(
            "[prompts]\ndir = \"{}\"\n[dialplans]\ndir = \"{}\"\n",
            common::root().join("prompts").display(),
            flows.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin).args(["check", "-c"]).arg(&cfg).output().unwrap();
    assert!(!out.status.success(), "problems make check fail");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = |text: &str, needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    for (file, text, needle, what) in [
        ("a.toml", &a, "next = \"nowhere\"", "no step named 'nowhere'"),
        ("a.toml", &a, "kind = \"hang_up\"", "unknown step kind 'hang_up'"),
        ("b.toml", &b, "language = \"French\"", "language 'French'"),
        ("b.toml", &b, "prompts = [\"never_recorded\"]", "never_recorded"),
    ] {
        let at = format!("{}:{}: ", flows.join(file).display(), line(text, needle));
        assert!(err.lines().any(|l| l.starts_with(&at) && l.contains(what)), "{at}{what} in:\n{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
