//! Exactly once across a crash, with real processes, on SQLite and on PostgreSQL (a
//! fresh database for each run). The real `ivrpay serve` binary, with `gateway =
//! "sips"`, takes a paying phone call (placed from this process over loopback) and is
//! SIGKILLed between sending the authorization and recording the answer. It is then
//! started again on the same database, and its recovery must resolve the payment with
//! the platform:
//! - the platform had the authorization: the transaction becomes TO_CAPTURE, the
//!   invoice PAID, a history row by `recovery`, and the platform saw exactly one
//!   authorization;
//! - the platform never received it: REFUSED, nothing charged, the invoice PAYABLE.
//!
//! The platform is the Sips wire simulator served in this process, with a long latency
//! so the server is still waiting for its answer when it is killed. Every wait is
//! bounded.

mod common;

use common::{fixtures, http};
use ivrpay::caller::{self, CallOptions, DtmfMode};
use ivrpay::config::Config;
use ivrpay::payments::gateway::{Lookup, Simulator};
use ivrpay::payments::merchant::CaptureMode;
use ivrpay::payments::sips_sim::{self, SimServer};
use ivrpay::sip::Transport;
use ivrpay::store::Store;
use serde_json::Value;
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

const SIPS_MERCHANT: &str = "002001000000001";
const SECRET: &str = "002001000000001_KEY1";
/// The server killed mid-payment waits this long for the platform: it is surely still
/// waiting when killed, and its own periodic recovery (which waits three times as
/// long) never touches the payment first.
const KILLED_SERVER_TIMEOUT_MS: u64 = 120_000;
/// The restarted server's time-out: its recovery resolves the payment within seconds.
const RESTARTED_SERVER_TIMEOUT_MS: u64 = 1_000;

/// Kills the child process it holds when dropped (a failed assertion must not leave
/// it running).
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
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
/// and one invoice: the database URL, the merchant's API key, the ids and the payment
/// code, and the RTP range reserved for the servers the test starts.
struct World {
    database: String,
    rtp_base: u16,
    api_key: String,
    merchant: String,
    invoice: String,
    payment_code: String,
}

async fn world(config: &Config) -> World {
    let database = config.storage.database.clone();
    let store = Store::open(&database).await.unwrap();
    let (m, key) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 2, None)).await.unwrap();
    let inv = fixtures::stored_invoice(&store, &m, "CRASH-1", 4990).await;
    store.close().await;
    World {
        database,
        rtp_base: config.media.rtp_port_min,
        api_key: key.secret,
        merchant: m.id,
        invoice: inv.id,
        payment_code: inv.payment_code,
    }
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

/// A running `ivrpay serve`; stopped with SIGTERM when dropped (then SIGKILL by
/// [`Reaped`]).
struct Served {
    process: Reaped,
    sip: SocketAddr,
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

impl Served {
    /// Fails if the server exited by itself.
    fn assert_running(&mut self, what: &str) {
        let c = self.process.0.as_mut().expect("server still held");
        if let Some(status) = c.try_wait().unwrap() {
            panic!("ivrpay serve exited ({status}) before {what}");
        }
    }

    /// SIGKILLs the server and checks it died of it.
    fn kill(mut self) {
        let mut child = self.process.0.take().unwrap();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "killed, not finished: {status}");
    }
}

/// Starts the real server (`name` in its log lines) on the world's database with the
/// Sips connector on `platform_url`, and waits (bounded) until it listens.
fn serve(w: &World, name: &str, platform_url: &str, timeout_ms: u64) -> Served {
    let rtp_base = w.rtp_base;
    let config = std::env::temp_dir().join(format!("ivrpay-crash-{}-{rtp_base}-{name}.toml", std::process::id()));
    let root = common::root();
    let text = format!(
        r#"[sip]
listen = "127.0.0.1:0"
[media]
rtp_port_min = {rtp_base}
rtp_port_max = {}
[prompts]
dir = "{}"
[dialplans]
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
timeout_ms = {timeout_ms}
capture_interval_s = 1
"#,
        rtp_base + 126,
        root.join("prompts").display(),
        root.join("dialplans").display(),
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
    let name = name.to_string();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[{name}] {line}");
            let field = |key: &str| {
                line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|a| a.parse::<SocketAddr>().ok())
            };
            if let (Some(sip), Some(http)) = (field("sip="), field("http=")) {
                let _ = tx.send((sip, http));
            }
        }
    });
    let process = Reaped(Some(child));
    let (sip, http) = rx.recv_timeout(Duration::from_secs(60)).expect("ivrpay serve listening within 60 s");
    Served { process, sip, http, _config: RemovedOnDrop(config) }
}

/// Calls the server's payment line and pays the world's invoice with an accepted card:
/// French, the code, 1 to pay it, the card, its expiry and code, then 1 to confirm
/// once the summary has been heard. The call is left running (the server is killed
/// under it); its task is aborted when dropped.
fn paying_call(server: &Served, w: &World) -> AbortOnDrop {
    let opts = CallOptions {
        target: format!("sip:pay@{}", server.sip),
        // `;` waits for the read-back to end: it drops keys typed while it plays.
        dtmf: format!(
            "1{};1{}#{}737;1",
            w.payment_code,
            fixtures::ACCEPTED_CARD,
            (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y")
        ),
        wait: Duration::from_millis(800),
        digit: Duration::from_millis(100),
        gap: Duration::from_millis(120),
        wait_for_bye: true,
        mode: DtmfMode::Rfc4733,
        transport: Transport::Udp,
        max_duration: Duration::from_secs(150),
        ..CallOptions::default()
    };
    AbortOnDrop(tokio::spawn(async move { caller::run(&opts).await.map(|s| s.to_string()).map_err(|e| e.to_string()) }))
}

/// A spawned task aborted when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<Result<String, String>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits (bounded) until `ready()`, failing early if the server exited or the call
/// ended (the payment then never reached the point where the test kills).
async fn wait_until(what: &str, server: &mut Served, call: &mut AbortOnDrop, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        server.assert_running(what);
        if call.0.is_finished() {
            let ended = (&mut call.0).await;
            panic!("the call ended before {what}: {ended:?}");
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The payment as stored, after the kill: the only transaction of the world's merchant.
async fn pending_payment(w: &World) -> ivrpay::payments::transaction::Transaction {
    let store = Store::open(&w.database).await.unwrap();
    let mut all = store.list_transactions(&w.merchant, 0, i64::MAX).await.unwrap();
    store.close().await;
    assert_eq!(all.len(), 1, "recorded once, before sending: {all:?}");
    all.remove(0)
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
    // The platform takes a minute to answer: the server is surely waiting when killed.
    let (url, sim) = platform(Duration::from_secs(60)).await;
    let mut first = serve(&w, "killed", &url, KILLED_SERVER_TIMEOUT_MS);
    let mut call = paying_call(&first, &w);
    wait_until("the platform has the authorization", &mut first, &mut call, || sim.calls() == 1).await;
    first.kill();
    drop(call);

    let t = pending_payment(&w).await;
    assert_eq!(t.status, "PENDING");
    assert!(t.call_id.is_some(), "taken in the call: {t:?}");
    assert!(matches!(sim.lookup_now(&t.reference).unwrap(), Lookup::Found(d) if d.status == "TO_CAPTURE"));

    let server = serve(&w, "restarted", &url, RESTARTED_SERVER_TIMEOUT_MS);
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
    // The killed server's platform is a black hole: it accepts the connection and never
    // reads, so the authorization never reaches the real platform.
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
    let mut first = serve(&w, "killed", &hole_url, KILLED_SERVER_TIMEOUT_MS);
    let mut call = paying_call(&first, &w);
    wait_until("the server is sending", &mut first, &mut call, || accepted.try_recv().is_ok()).await;
    first.kill();
    drop(call);

    let t = pending_payment(&w).await;
    assert_eq!(t.status, "PENDING");

    let server = serve(&w, "restarted", &url, RESTARTED_SERVER_TIMEOUT_MS);
    let t = resolved(&server, &w, &t.reference).await;
    assert_eq!((t["status"].as_str(), t["response_code"].as_str()), (Some("REFUSED"), Some("97")), "{t}");
    let last = t["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["by"], "recovery");
    assert!(last["detail"].as_str().unwrap().contains("nothing charged"), "{last}");
    assert_eq!(invoice_status(&server, &w).await, "PAYABLE");
    assert_eq!(sim.calls(), 0, "nothing reached the platform, nothing was charged");
}
