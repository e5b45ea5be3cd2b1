//! PCI DSS: a full paying call through the real binaries, the server logging at TRACE,
//! then a call through the error paths (a card number failing Luhn, a security code
//! of the wrong length, two cards refused by the bank), then every byte logged and
//! every byte of the database files is searched for every card number, security code
//! and expiry typed on the keypad. Keys go by SIP INFO over TCP, the path where they
//! travel inside SIP messages.

mod common;

use ivrpay::payments::card::luhn_valid;
use regex_lite::Regex;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// An American Express number whose last two digits are the simulator's response
/// code ("00" accepted, "05" refused), with random middle digits so it is unlike
/// anything else logged.
fn amex_card(response: &str) -> String {
    let middle: String = (0..6).map(|_| char::from(b'1' + rand::random::<u8>() % 9)).collect();
    (0..10).map(|d| format!("340000{middle}{d}{response}")).find(|c| luhn_valid(c)).expect("one check digit fits")
}

/// The same number with its check digit wrong.
fn luhn_broken(card: &str) -> String {
    let mut digits: Vec<u8> = card.bytes().collect();
    let i = digits.len() - 3;
    digits[i] = b'0' + (digits[i] - b'0' + 1) % 10;
    let broken = String::from_utf8(digits).expect("digits");
    assert!(!luhn_valid(&broken));
    broken
}

fn random_digits(n: usize) -> String {
    (0..n).map(|_| char::from(b'1' + rand::random::<u8>() % 9)).collect()
}

/// An expiry (MMYY) `years` ahead of today with a random month, so it never ages.
fn expiry(years: i32) -> String {
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    // Never this month or its neighbours: the database holds dates made from today
    // (due dates a year on: "2027-12-02"), whose "-MM-DD" would read as MM-YY on the
    // day of the month equal to YY.
    let month = (today.month0() + 2 + rand::random::<u32>() % 9) % 12 + 1;
    format!("{month:02}{:02}", (today.year() + years) % 100)
}

/// An expiry written as typed (MMYY) or with a separator (MM/YY), standing alone; with
/// `platform`, also as the platform's YYYYMM.
fn expiry_pattern(mmyy: &str, platform: bool) -> Regex {
    let (mm, yy) = mmyy.split_at(2);
    let yyyymm = if platform { format!("|20{yy}{mm}") } else { String::new() };
    // Not glued to letters either: four digits turn up by chance inside hex ids
    // (Call-IDs, tags, branches) stored and logged with every call.
    Regex::new(&format!("(?:^|[^0-9A-Za-z])(?:{mm}[/ -]?{yy}{yyyymm})(?:[^0-9A-Za-z]|$)")).unwrap()
}

/// A number standing alone in binary data, not inside a longer number or a hex id.
fn alone(digits: &str) -> Regex {
    Regex::new(&format!("(?:^|[^0-9a-fA-F]){digits}(?:[^0-9a-fA-F]|$)")).unwrap()
}

/// A pattern for `digits` also matching them spread out ("4 1 0 0", "'4', '1'"), not
/// glued to other digits.
fn spread(digits: &str, gap: usize) -> Regex {
    let body: Vec<String> = digits.chars().map(|c| c.to_string()).collect();
    Regex::new(&format!("(?:^|[^0-9]){}(?:[^0-9]|$)", body.join(&format!("[^0-9]{{0,{gap}}}")))).unwrap()
}

/// The line holding byte `at`, for a failure message (test data only).
fn line_around(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// Like [`spread`], for codes short enough to turn up by chance in hex (SIP branches,
/// tags): the digits may be spread by punctuation or spaces only, and stand apart from
/// letters and digits.
fn spread_short(digits: &str, gap: usize) -> Regex {
    let body: Vec<String> = digits.chars().map(|c| c.to_string()).collect();
    let sep = format!("[^0-9A-Za-z]{{0,{gap}}}");
    Regex::new(&format!("(?:^|[^0-9A-Za-z]){}(?:[^0-9A-Za-z]|$)", body.join(&sep))).unwrap()
}

/// The text with what the log writes itself and can never be typed data blanked out:
/// timestamps, durations (`elapsed=144.433µs`), IPv4 addresses and ports. A 3-digit
/// security code drawn at random otherwise turns up in them now and then ("144.433µs"
/// holds "144" between two non-digits), failing the test on an innocent line.
fn without_noise(text: &str) -> String {
    let noise = Regex::new(
        r"\d{4}-\d\d-\d\dT[0-9:.]+Z|\b\d+(?:\.\d+)?(?:µs|ms|ns|s)\b|elapsed(?:_secs)?=[0-9.]+(?:[µmn]?s)?|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?",
    )
    .unwrap();
    noise.replace_all(text, "~").into_owned()
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
    let addr = format!("127.0.0.1:{http}").parse().unwrap();
    let due = (chrono::Utc::now().date_naive() + chrono::Months::new(12)).format("%Y-%m-%d");
    let mut codes = Vec::new();
    for reference in ["FAC-PCI-1", "FAC-PCI-2"] {
        let body = format!(
            r#"{{"reference":"{reference}","amount":4242,"currency":"EUR","due_date":"{due}","customer_name":"Jeanne"}}"#
        );
        let (status, inv) = common::http(addr, "POST", "/api/v1/invoices", Some(&key), Some(&body)).await;
        assert_eq!(status, 201, "{inv}");
        codes.push(inv["payment_code"].as_str().unwrap().to_string());
    }
    let call = |script: String| async move {
        let call = Command::new(bin())
            .args(["call", &format!("sip:pay@127.0.0.1:{sip}"), "--dtmf", &script])
            .args(["--dtmf-mode", "info", "--transport", "tcp", "--wait-for-bye", "--wait-ms", "800"])
            .args(["--max-seconds", "150", "--log", "trace"])
            .output()
            .await
            .unwrap();
        assert!(call.status.success(), "{}", String::from_utf8_lossy(&call.stderr));
        let summary = String::from_utf8_lossy(&call.stdout).to_string();
        assert!(summary.contains("ended_by=Server"), "{summary}");
        String::from_utf8_lossy(&call.stderr).to_string()
    };

    // The paying call.
    let pan = amex_card("00");
    let csc = random_digits(4);
    let exp = expiry(3);
    let mut caller_log = call(format!("1{};1{pan}#{exp}{csc};1", codes[0])).await;

    // The error paths: a number failing Luhn, a security code too short for the brand,
    // a card refused by the bank, then another card refused too.
    let (bad, refused, refused2) = (luhn_broken(&amex_card("05")), amex_card("05"), amex_card("05"));
    let (short, csc2, csc3) = (random_digits(3), random_digits(4), random_digits(4));
    let (exp2, exp3) = (expiry(2), expiry(4));
    let script = format!("1{};1{bad}#;{refused}#{exp2}{short}#;{csc2};1;{refused2}#{exp3}{csc3};1", codes[1]);
    caller_log.push_str(&call(script).await);

    // The payment went through: the transaction is stored, masked.
    let (_, txs) = common::http(addr, "GET", "/api/v1/transactions", Some(&key), None).await;
    let items = txs["items"].as_array().expect("transactions");
    let masked = format!("{}#####{}", &pan[..6], &pan[11..]);
    let t = items.iter().find(|t| t["masked_pan"] == masked.as_str()).expect("the paying card");
    // Captured already if the capture run passed midnight during the test.
    assert!(t["status"] == "TO_CAPTURE" || t["status"] == "CAPTURED", "{txs}");
    let refusals = items.iter().filter(|t| t["status"] == "REFUSED").count();
    assert_eq!(refusals, 2, "both refused cards reached the bank: {txs}");

    // Stop the server cleanly so every log line and database page is written.
    let pid = server.child.id().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let _ = tokio::time::timeout(Duration::from_secs(10), server.child.wait()).await;

    let log = std::fs::read(&server.log).unwrap();
    let log = String::from_utf8_lossy(&log);
    assert!(log.contains("TRACE"), "the server really logged at TRACE");
    assert!(log.contains("SIP in:") && log.contains("bytes of DTMF withheld"), "SIP INFO messages were traced");
    assert!(log.contains("key received"), "keys were traced (without their value)");
    let pans = [&pan, &bad, &refused, &refused2];
    let cscs = [&csc, &short, &csc2, &csc3];
    let expiries = [&exp, &exp2, &exp3];
    for (what, text) in [("server log", log.as_ref()), ("caller log", caller_log.as_str())] {
        for p in pans {
            assert!(!spread(p, 3).is_match(text), "card number in the {what}");
            assert!(!spread(&p[6..], 3).is_match(text), "the hidden middle of the card number in the {what}");
        }
        let quiet = without_noise(text);
        for (i, c) in cscs.iter().enumerate() {
            let found = spread_short(c, 2).find(&quiet).map(|m| line_around(&quiet, m.start()));
            assert!(found.is_none(), "security code #{i} (test data) in the {what}: {found:?}");
        }
        for e in expiries {
            assert!(!expiry_pattern(e, true).is_match(text), "expiry in the {what}");
        }
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
        for p in pans {
            assert!(!text.contains(p.as_str()), "card number in {name}");
            assert!(!text.contains(&p[6..p.len() - 4]), "the hidden middle of a card number in {name}");
        }
        for c in cscs {
            assert!(!alone(c).is_match(&text), "security code in {name}");
        }
        // The transaction keeps the expiry month as YYYYMM (cardholder data PCI DSS
        // lets a merchant store with the masked number); never as typed.
        for e in expiries {
            assert!(!expiry_pattern(e, false).is_match(&text), "expiry as typed in {name}");
        }
        masked_seen |= text.contains(&masked);
    }
    assert!(files >= 1);
    assert!(masked_seen, "the scan reads the real database (the masked card is in it)");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_noise_is_blanked_but_a_typed_code_is_not() {
    let line = "2026-12-02T00:28:55.355911Z DEBUG sqlx::query: elapsed=144.433µs elapsed_secs=0.000144433 peer=127.0.0.1:5060 took 12ms";
    let quiet = without_noise(line);
    for code in ["144", "433", "127", "506", "355"] {
        assert!(!spread_short(code, 2).is_match(&quiet), "{code} in {quiet}");
    }
    assert!(spread_short("144", 2).is_match(&without_noise("csc=144 ok")), "a code standing alone is still found");
    assert!(spread_short("144", 2).is_match(&without_noise("digits 1 4 4")));
}

#[test]
fn test_expiries_avoid_dates_of_today_and_hex_ids() {
    use chrono::Datelike;
    let month = chrono::Utc::now().date_naive().month();
    for _ in 0..200 {
        let e = expiry(2);
        let m: u32 = e[..2].parse().unwrap();
        assert!((1..=12).contains(&m), "{e}");
        let distance = (m + 12 - month) % 12;
        assert!((2..=10).contains(&distance), "{e}: month {m} too close to {month}");
    }
    let p = expiry_pattern("0528", false);
    assert!(p.is_match("expiry=0528;") && p.is_match("\"05/28\""));
    assert!(!p.is_match("call-id a0528f3@host") && !p.is_match("x20528"));
}
