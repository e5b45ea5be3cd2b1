//! Shared helpers for integration tests: a real server on loopback with its own ports.
#![allow(dead_code)]

pub mod openapi;
pub mod pcap;
pub mod raw_sip;
pub mod raw_tcp;

use ivrpay::config::Config;
use ivrpay::server::Server;
pub use ivrpay::store::Backend;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};

static NEXT_RANGE: AtomicU16 = AtomicU16::new(0);

/// The repository root (prompts/, dialplans/, tests/sipp/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A configuration listening on an ephemeral loopback port with a private RTP range,
/// so tests in one process (and in parallel processes) do not collide.
pub fn config() -> Config {
    // Test binaries run one after another; within one, each server gets 128 ports below
    // the kernel's ephemeral range (where SIPp and the callers' sockets live).
    let n = NEXT_RANGE.fetch_add(1, Ordering::Relaxed);
    let base = 20000 + (n % 96) * 128;
    let mut c = Config::default();
    c.sip.listen = "127.0.0.1:0".parse().unwrap();
    c.media.rtp_port_min = base;
    c.media.rtp_port_max = base + 126;
    c.prompts.dir = root().join("prompts");
    c.dialplans.dir = root().join("dialplans");
    c.payments.simulator_latency_ms = 50;
    c.http.listen = "127.0.0.1:0".parse().unwrap();
    let db = std::env::temp_dir().join(format!("ivrpay-srv-{}-{n}-{}.db", std::process::id(), rand::random::<u32>()));
    c.storage.database = format!("sqlite://{}", db.display());
    c
}

/// [`config`] with its database on `db` (SQLite file or PostgreSQL database).
pub fn config_on(db: &TestDb) -> Config {
    let mut c = config();
    c.storage.database = db.url.clone();
    c
}

/// Runs a server-level test body on a fresh database of `backend`: the body gets a
/// [`config_on`] configuration; the PostgreSQL database is dropped afterwards (open
/// connections included), also when the body fails, whose panic is then passed on.
/// Used through [`on_both_backends!`].
pub async fn on_backend<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::task::Poll;
    let db = TestDb::new(backend).await;
    let mut run = Box::pin(body(config_on(&db)));
    // The body's panic is caught where it is polled, so the database is still dropped.
    let outcome = std::future::poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(())) => Poll::Ready(Ok(())),
        Err(panic) => Poll::Ready(Err(panic)),
    })
    .await;
    drop(run);
    db.drop_pg().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// For each `async fn name(config: Config)` given, a module `name` with two tests,
/// `name::sqlite` and `name::postgres`, running the body on a fresh database of each
/// kind (`cargo test name` runs both; `cargo test postgres` every PostgreSQL run).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::common::on_backend($crate::common::Backend::Sqlite, super::$name).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::common::on_backend($crate::common::Backend::Postgres, super::$name).await;
                }
            }
        )*
    };
}

/// Starts a server with `config`.
pub async fn start(config: Config) -> Server {
    Server::start(config).await.expect("server starts")
}

/// Installs a tracing subscriber once, honouring RUST_LOG, for debugging failures.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// Position of `needle` inside `hay`, if present (exact sample match).
pub fn find(hay: &[i16], needle: &[i16], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

/// A database of each kind for storage tests: a fresh SQLite file and a fresh
/// PostgreSQL database (dropped by [`TestDb::drop_pg`]). PostgreSQL comes from
/// `IVRPAY_TEST_PG` or the local server `.ci/run` starts.
pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    pg_name: Option<String>,
}

pub fn pg_admin_url() -> String {
    std::env::var("IVRPAY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

impl TestDb {
    /// A fresh SQLite file and a fresh PostgreSQL database.
    pub async fn all() -> Vec<TestDb> {
        vec![TestDb::new(Backend::Sqlite).await, TestDb::new(Backend::Postgres).await]
    }

    /// A fresh database on `backend`: a new SQLite file, or a new PostgreSQL database
    /// on the test server (so tests running in parallel never share rows).
    pub async fn new(backend: Backend) -> TestDb {
        sqlx::any::install_default_drivers();
        if backend == Backend::Sqlite {
            let file =
                std::env::temp_dir().join(format!("ivrpay-test-{}-{}.db", std::process::id(), rand::random::<u32>()));
            return TestDb { name: "sqlite", url: format!("sqlite://{}", file.display()), pg_name: None };
        }
        let admin = pg_admin_url();
        let db = format!("ivrpay_t_{:08x}", rand::random::<u32>());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for storage tests ({e}); .ci/run starts it"));
        sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.expect("create test database");
        let _ = <sqlx::AnyConnection as sqlx::Connection>::close(conn).await;
        let base = admin.rsplit_once('/').map(|x| x.0).unwrap_or(&admin).to_string();
        TestDb { name: "postgres", url: format!("{base}/{db}"), pg_name: Some(db) }
    }

    /// Drops the PostgreSQL database (connections must be closed first).
    pub async fn drop_pg(&self) {
        if let Some(db) = &self.pg_name {
            if let Ok(mut conn) = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg_admin_url()).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).await;
            }
        }
    }
}

/// A minimal HTTP/1.1 client for API tests: one request per connection.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, text) = http_text(addr, method, path, key, body).await;
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
}

/// Like [`http`], returning the body as text (CSV exports).
pub async fn http_text(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect to the extranet");
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    (status, payload)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Like [`find`], for audio decoded by another implementation of G.711: a sample
/// matches within about one quantisation step, and 98% of the needle must match.
pub fn find_close(hay: &[i16], needle: &[i16], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let close = |a: i16, b: i16| (a as i32 - b as i32).abs() <= 32 + (b as i32).abs() / 8;
    let need = needle.len() * 98 / 100;
    (from..=hay.len() - needle.len()).find(|&i| {
        let head = needle.len().min(160);
        (0..head).filter(|&k| close(hay[i + k], needle[k])).count() >= head * 98 / 100
            && (0..needle.len()).filter(|&k| close(hay[i + k], needle[k])).count() >= need
    })
}

/// Shared fixtures for payment tests: a merchant, an invoice, a card payment.
pub mod fixtures {
    use chrono::NaiveDate;
    use ivrpay::payments::authorize::{self, PayError, PaymentOutcome, PaymentRequest};
    use ivrpay::payments::card::{CardNumber, Expiry, SecurityCode};
    use ivrpay::payments::gateway::{Gateway, Simulator};
    use ivrpay::payments::invoice::Invoice;
    use ivrpay::payments::invoice::NewInvoice;
    use ivrpay::payments::merchant::{CaptureMode, Merchant, NewMerchant};
    use ivrpay::payments::money::Currency;
    use ivrpay::store::invoices::Created;
    use ivrpay::store::Store;
    use std::time::Duration;

    /// A card the simulator accepts (VISA range, ends in 00).
    pub const ACCEPTED_CARD: &str = "4100000000000100";

    /// A merchant accepting CB, VISA and Mastercard.
    pub fn merchant(mode: CaptureMode, capture_day: u8, notification_url: Option<&str>) -> NewMerchant {
        NewMerchant {
            name: "Plomberie Dupont".into(),
            accepted_brands: vec!["CB".into(), "VISA".into(), "MASTERCARD".into()],
            capture_mode: mode,
            capture_day,
            phone_number: "+33970000000".into(),
            notification_url: notification_url.map(str::to_string),
        }
    }

    /// An invoice due in 2030.
    pub fn invoice(reference: &str, amount: i64) -> NewInvoice {
        NewInvoice {
            reference: reference.into(),
            amount,
            currency: Currency::Eur,
            due_date: NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            expiry_date: NaiveDate::from_ymd_opt(2030, 2, 1).unwrap(),
            customer_name: "Jeanne Martin".into(),
            customer_contact: None,
            description: None,
        }
    }

    /// Stores an invoice (or returns the existing one with that reference).
    pub async fn stored_invoice(store: &Store, m: &Merchant, reference: &str, amount: i64) -> Invoice {
        match store.create_invoice(&m.id, &invoice(reference, amount)).await.unwrap() {
            Created::New(i) | Created::Existing(i) => i,
        }
    }

    /// The built-in simulator with short delays.
    pub fn simulator() -> (Gateway, Simulator) {
        let sim = Simulator::new(Duration::from_millis(2), Duration::from_millis(50));
        (Gateway::Simulator(sim.clone()), sim)
    }

    /// Pays an invoice by card (expiry 12/30, code 737).
    pub async fn pay(
        store: &Store,
        gw: &Gateway,
        m: &Merchant,
        inv: &Invoice,
        pan: &str,
        key: &str,
    ) -> Result<PaymentOutcome, PayError> {
        let card = CardNumber::parse(pan).unwrap();
        let brand = card.brand().unwrap();
        let req = PaymentRequest {
            merchant: m,
            invoice: inv,
            card: &card,
            expiry: Expiry::parse_mmyy("1230").unwrap(),
            csc: SecurityCode::parse(&"737"[..brand.csc_length().min(3)], brand).unwrap(),
            idempotency_key: key,
            caller: Some("+33612345678"),
            call_id: Some("call-1@test"),
            order_channel: "MOTO",
            today: chrono::Utc::now().date_naive(),
        };
        authorize::pay(store, gw, req).await
    }
}

/// The most recent call records once `n` of them are complete (their end is written
/// by a task of its own just after the call ends).
pub async fn completed_calls(store: &ivrpay::store::Store, n: usize) -> Vec<ivrpay::store::calls::CallRecord> {
    for _ in 0..100 {
        let calls = store.list_calls(&Default::default(), 100).await.expect("call records");
        if calls.iter().filter(|c| c.outcome.is_some()).count() >= n {
            return calls;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} completed call records after 10 s");
}

/// A port nobody listens on right now (UDP and TCP), for a peer's own sockets.
pub fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let t = std::net::TcpListener::bind(s.local_addr().unwrap()).ok();
    let port = s.local_addr().unwrap().port();
    drop((s, t));
    port
}
