//! Exactly once across a crash, with real processes, on SQLite and on PostgreSQL (a
//! fresh database for each run). A child process (this test binary re-run on the
//! ignored `payer_child` helper) opens the store and pays an
//! invoice through the Sips connector; it is SIGKILLed between sending the
//! authorization and recording the answer. The real `ivrpay serve` binary is then
//! started on the same database with `gateway = "sips"`, and its recovery must resolve
//! the payment with the platform:
//! - the platform had the authorization: the transaction becomes TO_CAPTURE, the
//!   invoice PAID, a history row by `recovery`, and the platform saw exactly one
//!   authorization;
//! - the platform never received it: REFUSED, nothing charged, the invoice PAYABLE.
//!
//! The platform is the Sips wire simulator served in this process, with a long latency
//! so the child is still waiting for its answer when it is killed. Every wait is bounded.

mod common;

use common::{fixtures, http};
use ivrpay::config::Config;
use ivrpay::payments::gateway::{Gateway, Lookup, Simulator};
use ivrpay::payments::sips::{SipsConfig, SipsConnector};
use ivrpay::payments::sips_sim::{self, SimServer};
use ivrpay::store::merchants::CaptureMode;
use ivrpay::store::Store;
use serde_json::{json, Value};
use std::io::BufRead;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

on_both_backends!(
    a_payment_killed_after_sending_is_completed_by_the_restarted_server,
    a_payment_killed_before_the_platform_got_it_is_closed_unpaid,
);

const CHILD: &str = "IVRPAY_CRASH_CHILD";
const SIPS_MERCHANT: &str = "002001000000001";
const SECRET: &str = "002001000000001_KEY1";

/// Kills the child process it holds when dropped (a failed assertion must not leave
/// it running).
struct Reaped(Option<Child>);

impl Reaped {
    fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child still held")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Not a test: the payer the crash tests kill. Started by them with its parameters in
/// `IVRPAY_CRASH_CHILD`; without it (e.g. `cargo test -- --ignored`) it does nothing.
#[test]
#[ignore = "helper process of the crash tests, started and killed by them"]
fn payer_child() {
    let Ok(spec) = std::env::var(CHILD) else { return };
    let spec: Value = serde_json::from_str(&spec).expect("child parameters");
    let s = |k: &str| spec[k].as_str().unwrap_or_else(|| panic!("child parameter {k}")).to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(&s("database")).await.unwrap();
        let m = store.merchant(&s("merchant")).await.unwrap().unwrap();
        let inv = store.invoice(&m.id, &s("invoice")).await.unwrap().unwrap();
        let mut cfg = SipsConfig::new(&s("platform"), SIPS_MERCHANT, SECRET);
        cfg.timeout = Duration::from_secs(300);
        let gw = Gateway::Sips(SipsConnector::new(cfg));
        let outcome = fixtures::pay(&store, &gw, &m, &inv, fixtures::ACCEPTED_CARD, &s("key")).await;
        // Only reached if nobody killed us: the parent then fails on our exit status.
        eprintln!("payer_child was not killed: {outcome:?}");
    });
}

/// The Sips wire simulator on a free loopback port, answering authorizations after
/// `latency`.
async fn platform(latency: Duration) -> (String, Simulator) {
    let simulator = Simulator::new(latency, Duration::from_secs(600));
    let state = SimServer { simulator: simulator.clone(), secret: SECRET.into(), answer_secret: SECRET.into() };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, sips_sim::router(state)).await.unwrap() });
    (url, simulator)
}

/// The fresh database of the test (SQLite file or PostgreSQL database) with a merchant
/// and one invoice: the database URL, the merchant's API key and the ids, and the RTP
/// range reserved for the server the test starts.
struct World {
    database: String,
    rtp_base: u16,
    api_key: String,
    merchant: String,
    invoice: String,
}

async fn world(config: &Config) -> World {
    let database = config.storage.database.clone();
    let store = Store::open(&database).await.unwrap();
    let (m, key) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 2, None)).await.unwrap();
    let inv = fixtures::stored_invoice(&store, &m, "CRASH-1", 4990).await;
    store.close().await;
    World { database, rtp_base: config.media.rtp_port_min, api_key: key.secret, merchant: m.id, invoice: inv.id }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(file) = self.database.strip_prefix("sqlite://") {
            for ext in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{ext}"));
            }
        }
    }
}

/// Starts the payer on `platform_url`.
fn start_payer(w: &World, platform_url: &str) -> Reaped {
    let spec = json!({
        "database": w.database,
        "merchant": w.merchant,
        "invoice": w.invoice,
        "platform": platform_url,
        "key": "crash-attempt-1",
    });
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["payer_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD, spec.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the payer");
    Reaped(Some(child))
}

/// Waits (bounded) until `ready()`, failing early if the child died by itself.
async fn wait_until(what: &str, payer: &mut Reaped, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready() {
        if let Some(status) = payer.child().try_wait().unwrap() {
            panic!("the payer exited ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// SIGKILLs the payer and checks it died of it.
fn kill(mut payer: Reaped) {
    let mut child = payer.0.take().unwrap();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "killed, not finished: {status}");
}

/// The payment as stored, after the kill.
async fn pending_payment(w: &World) -> ivrpay::store::transactions::Transaction {
    let store = Store::open(&w.database).await.unwrap();
    let t = store.transaction_by_key("crash-attempt-1").await.unwrap().expect("recorded before sending");
    store.close().await;
    t
}

/// A running `ivrpay serve`; stopped with SIGTERM (then SIGKILL) when dropped.
struct Served {
    process: Reaped,
    http: SocketAddr,
    _config: RemovedOnDrop,
}

/// A file removed when dropped (the server's configuration).
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(c) = self.process.0.as_mut() {
            // Our own child, by its id: a graceful stop first.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// Starts the real server on the world's database with the Sips connector on
/// `platform_url`, and waits (bounded) until it listens.
fn serve(w: &World, platform_url: &str) -> Served {
    let rtp_base = w.rtp_base;
    let config = std::env::temp_dir().join(format!("ivrpay-crash-{}-{}.toml", std::process::id(), rtp_base));
    let text = format!(
        r#"[sip]
listen = "127.0.0.1:0"
[media]
rtp_port_min = {rtp_base}
rtp_port_max = {}
[prompts]
dir = "{}"
[storage]
database = "{}"
[http]
listen = "127.0.0.1:0"
[payments]
gateway = "sips"
sips_base_url = "{platform_url}"
sips_merchant_id = "{SIPS_MERCHANT}"
sips_secret_key = "{SECRET}"
timeout_ms = 1000
capture_interval_s = 1
"#,
        rtp_base + 126,
        common::root().join("prompts").display(),
        w.database
    );
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivrpay"))
        .args(["--log", "info", "serve", "-c"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ivrpay serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[serve] {line}");
            if let Some(addr) = line.split_whitespace().find_map(|w| w.strip_prefix("http=")) {
                let _ = tx.send(addr.parse::<SocketAddr>());
            }
        }
    });
    let process = Reaped(Some(child));
    let http = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("ivrpay serve listening within 60 s")
        .expect("a socket address after http=");
    Served { process, http, _config: RemovedOnDrop(config) }
}

/// Waits (bounded) until the API shows the transaction out of PENDING.
async fn resolved(server: &Served, w: &World, reference: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, t) =
            http(server.http, "GET", &format!("/api/v1/transactions/{reference}"), Some(&w.api_key), None).await;
        assert_eq!(status, 200, "{t}");
        if t["status"] != "PENDING" {
            return t;
        }
        assert!(Instant::now() < deadline, "still PENDING after 60 s: {t}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn invoice_status(server: &Served, w: &World) -> String {
    let (_, inv) = http(server.http, "GET", &format!("/api/v1/invoices/{}", w.invoice), Some(&w.api_key), None).await;
    inv["status"].as_str().unwrap_or_default().to_string()
}

async fn a_payment_killed_after_sending_is_completed_by_the_restarted_server(config: Config) {
    let w = world(&config).await;
    // The platform takes a minute to answer: the payer is surely waiting when killed.
    let (url, sim) = platform(Duration::from_secs(60)).await;
    let mut payer = start_payer(&w, &url);
    wait_until("the platform has the authorization", &mut payer, || sim.calls() == 1).await;
    kill(payer);

    let t = pending_payment(&w).await;
    assert_eq!(t.status, "PENDING");
    assert!(matches!(sim.lookup_now(&t.reference).unwrap(), Lookup::Found(d) if d.status == "TO_CAPTURE"));

    let server = serve(&w, &url);
    let t = resolved(&server, &w, &t.reference).await;
    assert_eq!((t["status"].as_str(), t["response_code"].as_str()), (Some("TO_CAPTURE"), Some("00")), "{t}");
    assert!(t["authorisation_id"].as_str().is_some_and(|a| a.len() == 6), "{t}");
    let by_recovery: Vec<&Value> = t["history"].as_array().unwrap().iter().filter(|h| h["by"] == "recovery").collect();
    assert_eq!(by_recovery.len(), 1, "{t}");
    assert_eq!((by_recovery[0]["from"].as_str(), by_recovery[0]["to"].as_str()), (Some("PENDING"), Some("TO_CAPTURE")));
    assert!(by_recovery[0]["detail"].as_str().unwrap().contains("getTransactionData"));
    assert_eq!(invoice_status(&server, &w).await, "PAID");
    assert_eq!(sim.calls(), 1, "exactly one authorization reached the platform");
}

async fn a_payment_killed_before_the_platform_got_it_is_closed_unpaid(config: Config) {
    let w = world(&config).await;
    // The payer's platform is a black hole: it accepts the connection and never reads,
    // so the authorization never reaches the real platform.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hole_url = format!("http://{}", hole.local_addr().unwrap());
    let (accepted_tx, accepted) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = hole.accept() {
            let _ = accepted_tx.send(());
            std::thread::sleep(Duration::from_secs(120));
            drop(stream);
        }
    });
    let (url, sim) = platform(Duration::from_millis(5)).await;
    let mut payer = start_payer(&w, &hole_url);
    wait_until("the payer is sending", &mut payer, || accepted.try_recv().is_ok()).await;
    kill(payer);

    let t = pending_payment(&w).await;
    assert_eq!(t.status, "PENDING");

    let server = serve(&w, &url);
    let t = resolved(&server, &w, &t.reference).await;
    assert_eq!((t["status"].as_str(), t["response_code"].as_str()), (Some("REFUSED"), Some("97")), "{t}");
    let last = t["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["by"], "recovery");
    assert!(last["detail"].as_str().unwrap().contains("nothing charged"), "{last}");
    assert_eq!(invoice_status(&server, &w).await, "PAYABLE");
    assert_eq!(sim.calls(), 0, "nothing reached the platform, nothing was charged");
}
