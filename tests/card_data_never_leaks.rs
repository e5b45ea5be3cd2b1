//! PCI DSS: a full paying call through the real binaries, the server logging at TRACE,
//! then every byte it logged and every byte of its database files is searched for the
//! card number, the security code and the expiry typed on the keypad. Keys go by SIP
//! INFO over TCP, the path where they travel inside SIP messages.

mod common;

use ivrpay::payments::card::luhn_valid;
use regex_lite::Regex;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// An American Express number the simulator accepts (its last two digits are the
/// response code), with random middle digits so it is unlike anything else logged.
fn amex_card() -> String {
    let middle: String = (0..6).map(|_| char::from(b'1' + rand::random::<u8>() % 9)).collect();
    (0..10).map(|d| format!("340000{middle}{d}00")).find(|c| luhn_valid(c)).expect("one check digit fits")
}

/// A pattern for `digits` also matching them spread out ("4 1 0 0", "'4', '1'"), not
/// glued to other digits.
fn spread(digits: &str, gap: usize) -> Regex {
    let body: Vec<String> = digits.chars().map(|c| c.to_string()).collect();
    Regex::new(&format!("(?:^|[^0-9]){}(?:[^0-9]|$)", body.join(&format!("[^0-9]{{0,{gap}}}")))).unwrap()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ivrpay")
}

async fn wait_for_line(path: &Path, needle: &str) {
    for _ in 0..200 {
        if std::fs::read_to_string(path).unwrap_or_default().contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("'{needle}' never appeared in {}", path.display());
}

struct Served {
    child: Child,
    log: PathBuf,
}

async fn serve(dir: &Path, sip: u16, http: u16, db: &Path) -> Served {
    let cfg = dir.join("ivrpay.toml");
    let root = common::root();
    std::fs::write(
        &cfg,
        format!(
            "[sip]\nlisten = \"127.0.0.1:{sip}\"\n[media]\nrtp_port_min = 30000\nrtp_port_max = 30126\n\
             [http]\nlisten = \"127.0.0.1:{http}\"\n[storage]\ndatabase = \"sqlite://{}\"\n\
             [prompts]\ndir = \"{}\"\n[dialplans]\ndir = \"{}\"\n[payments]\nsimulator_latency_ms = 50\n",
            db.display(),
            root.join("prompts").display(),
            root.join("dialplans").display()
        ),
    )
    .unwrap();
    let log = dir.join("server.log");
    let child = Command::new(bin())
        .args(["serve", "-c"])
        .arg(&cfg)
        .args(["--log", "trace"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("ivrpay serve starts");
    wait_for_line(&log, "ivrpay listening").await;
    Served { child, log }
}

fn value(out: &str, key: &str) -> String {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("{key} in {out}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paying_call_leaves_no_card_data_in_logs_or_database() {
    let dir = std::env::temp_dir().join(format!("ivrpay-pci-{}-{}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("ivrpay.db");
    let (sip, http) = (common::free_port(), common::free_port());
    let mut server = serve(&dir, sip, http, &db).await;

    let out = Command::new(bin())
        .args(["merchant", "create", "--name", "Dupont", "--phone", "+33970000000", "--brands", "CB,VISA,AMEX"])
        .arg("--database")
        .arg(format!("sqlite://{}", db.display()))
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = value(&String::from_utf8_lossy(&out.stdout), "api_key");
    let body =
        r#"{"reference":"FAC-PCI-1","amount":4242,"currency":"EUR","due_date":"2030-12-31","customer_name":"Jeanne"}"#;
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    let (status, inv) = common::http(addr, "POST", "/api/v1/invoices", Some(&key), Some(body)).await;
    assert_eq!(status, 201, "{inv}");
    let code = inv["payment_code"].as_str().unwrap().to_string();

    let pan = amex_card();
    let csc: String = (0..4).map(|_| char::from(b'1' + rand::random::<u8>() % 9)).collect();
    let expiry = "0931";
    let script = format!("1{code}1{pan}#{expiry}{csc};1");
    let call = Command::new(bin())
        .args(["call", &format!("sip:pay@127.0.0.1:{sip}"), "--dtmf", &script])
        .args(["--dtmf-mode", "info", "--transport", "tcp", "--wait-for-bye", "--wait-ms", "800"])
        .args(["--max-seconds", "120", "--log", "trace"])
        .output()
        .await
        .unwrap();
    assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stderr));
    let summary = String::from_utf8_lossy(&call.stdout).to_string();
    assert!(summary.contains("ended_by=Server"), "{summary}");

    // The payment went through: the transaction is stored, masked.
    let (_, txs) = common::http(addr, "GET", "/api/v1/transactions", Some(&key), None).await;
    let t = &txs["items"][0];
    assert_eq!(t["status"], "TO_CAPTURE", "{txs}");
    let masked = format!("{}#####{}", &pan[..6], &pan[11..]);
    assert_eq!(t["masked_pan"], masked.as_str());

    // Stop the server cleanly so every log line and database page is written.
    let pid = server.child.id().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;

    let log = std::fs::read(&server.log).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("TRACE"), "the server really logged at TRACE");
    assert!(log.contains("SIP in:") && log.contains("bytes of DTMF withheld"), "SIP INFO messages were traced");
    assert!(log.contains("key received"), "keys were traced (without their value)");
    let caller_log = String::from_utf8_lossy(&call.stderr).to_string();
    for (what, text) in [("server log", log.as_ref()), ("caller log", caller_log.as_str())] {
        assert!(!spread(&pan, 3).is_match(text), "card number in the {what}");
        assert!(!spread(&pan[6..], 3).is_match(text), "the hidden middle of the card number in the {what}");
        assert!(!spread(&csc, 2).is_match(text), "security code in the {what}");
        assert!(!spread(expiry, 2).is_match(text), "expiry in the {what}");
        for marker in ["Signal=", "Digit(", "digit=", "dtmf="] {
            assert!(!text.contains(marker), "a keypress ('{marker}') in the {what}");
        }
        // Keys logged one by one would not show the card number as a string: no line
        // about keys, digits or cards may carry a lone key value.
        let topic = Regex::new(r"(?i)\b(keys?|digits?|dtmf|signal|events?|keypad|cards?|csc|security)\b").unwrap();
        let lone_key = Regex::new("(?:^|[^0-9A-Za-z$.:])[0-9#*](?:[^0-9A-Za-z.:]|$)").unwrap();
        for line in text.lines().filter(|l| !l.contains("sqlx::query") && topic.is_match(l)) {
            assert!(!lone_key.is_match(line), "a key value in the {what}: {line}");
        }
    }

    let mut files = 0;
    let mut masked_seen = false;
    for name in ["ivrpay.db", "ivrpay.db-wal", "ivrpay.db-shm"] {
        let Ok(bytes) = std::fs::read(dir.join(name)) else { continue };
        files += 1;
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&pan), "card number in {name}");
        assert!(!spread(&csc, 0).is_match(&text), "security code in {name}");
        masked_seen |= text.contains(&masked);
    }
    assert!(files >= 1);
    assert!(masked_seen, "the scan reads the real database (the masked card is in it)");
    let _ = std::fs::remove_dir_all(&dir);
}
