//! Storage benchmark: invoice lookup by payment code (what the phone line does when a
//! caller types a code) and the authorization write path (PENDING, then the answer with
//! the invoice marked paid), under concurrent load, on SQLite and PostgreSQL.
//!
//! `cargo bench --bench store -- [--invoices N] [--seconds S] [--concurrency C] [--backend sqlite|postgres|both]`
//!
//! Populates N invoices (default 1,000,000) with distinct payment codes, then runs C
//! concurrent lookup loops for S seconds and reports lookups per second and latency
//! percentiles; then C concurrent payment writers. Prints figures; asserts nothing.

use ivrpay::payments::check_digit;
use ivrpay::payments::transaction::{Answer, Completion, NewPending, Pending};
use ivrpay::store::Store;
use std::time::{Duration, Instant};

struct Args {
    invoices: u64,
    seconds: u64,
    concurrency: usize,
    backend: String,
}

fn args() -> Args {
    let mut a = Args { invoices: 1_000_000, seconds: 10, concurrency: 8, backend: "both".into() };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "--invoices" => a.invoices = next.parse().expect("--invoices N"),
            "--seconds" => a.seconds = next.parse().expect("--seconds S"),
            "--concurrency" => a.concurrency = next.parse().expect("--concurrency C"),
            "--backend" => a.backend = next,
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// The payment code of invoice `i`: a bijection of i modulo 10^8, plus a check digit.
fn code(i: u64) -> String {
    check_digit::append_check_digit(&format!("{:08}", (i * 48_271) % 100_000_000)).expect("digits")
}

async fn populate(store: &Store, merchant: &str, n: u64) {
    let start = Instant::now();
    let now = store.now_ms();
    let far = now + 365 * 86_400_000;
    let batch = 500u64;
    let mut i = 0;
    while i < n {
        let m = batch.min(n - i);
        let mut sql = String::from(
            "INSERT INTO invoices (id, merchant_id, reference, amount, currency, due_date, expires_at, customer_name, payment_code, status, created_at, updated_at) VALUES ",
        );
        for k in 0..m {
            let j = i + k;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('inv_b{j}', '{merchant}', 'B-{j}', {}, 'EUR', '2030-01-01', {far}, 'Bench Customer {j}', '{}', 'PAYABLE', {now}, {now})",
                1000 + j % 100_000,
                code(j)
            ));
        }
        sqlx::query(&sql).execute(store.pool()).await.expect("bulk insert");
        i += m;
    }
    eprintln!("  populated {n} invoices in {:.1} s", start.elapsed().as_secs_f64());
}

fn report(name: &str, mut lat: Vec<u32>, secs: f64) {
    lat.sort_unstable();
    let p = |q: f64| if lat.is_empty() { f64::NAN } else { lat[((lat.len() - 1) as f64 * q) as usize] as f64 / 1000.0 };
    println!(
        "  {name}: {} in {secs:.0} s = {:.0}/s; latency p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        lat.len(),
        lat.len() as f64 / secs,
        p(0.5),
        p(0.99),
        p(1.0)
    );
}

async fn run(url: &str, a: &Args) {
    let store = Store::open(url).await.expect("open store");
    let nm = ivrpay::payments::merchant::NewMerchant {
        name: "Bench".into(),
        accepted_brands: vec!["VISA".into()],
        capture_mode: ivrpay::payments::merchant::CaptureMode::AuthorCapture,
        capture_day: 0,
        phone_number: "+33970000000".into(),
        notification_url: None,
    };
    let (m, _) = store.create_merchant(&nm).await.unwrap();
    populate(&store, &m.id, a.invoices).await;
    if store.backend() == ivrpay::store::Backend::Postgres {
        sqlx::query("ANALYZE invoices").execute(store.pool()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for t in 0..a.concurrency {
        let (store, n) = (store.clone(), a.invoices);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(1 << 20);
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ t as u64;
            while Instant::now() < deadline {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let c = code(x % n);
                let t0 = Instant::now();
                let inv = store.invoice_by_payment_code(&c).await.expect("lookup");
                lat.push(t0.elapsed().as_micros() as u32);
                assert!(inv.is_some());
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report("lookup by payment code", lat, a.seconds as f64);

    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut tasks = Vec::new();
    for t in 0..a.concurrency {
        let (store, m, n, conc) = (store.clone(), m.clone(), a.invoices, a.concurrency as u64);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut j = t as u64;
            while Instant::now() < deadline && j < n {
                let reference = format!("BENCH{t}X{j}");
                let p = NewPending {
                    reference: reference.clone(),
                    merchant_id: m.id.clone(),
                    invoice_id: format!("inv_b{j}"),
                    idempotency_key: reference.clone(),
                    amount: 1000,
                    currency: ivrpay::payments::money::Currency::Eur,
                    masked_pan: "410000######0100".into(),
                    brand: ivrpay::payments::card::Brand::Visa,
                    expiry_month: "203012".into(),
                    order_channel: "MOTO".into(),
                    capture_mode: ivrpay::payments::merchant::CaptureMode::AuthorCapture,
                    capture_day: 0,
                    caller: None,
                    call_id: None,
                };
                let t0 = Instant::now();
                assert_eq!(store.record_pending(&p).await.unwrap(), Pending::Recorded);
                let answer = Answer {
                    status: ivrpay::payments::status::TransactionStatus::ToCapture,
                    response_code: "00",
                    acquirer_response_code: "00",
                    authorisation_id: Some("123456"),
                };
                assert_eq!(
                    store.complete_payment(&reference, &answer, "bench", "bench").await.unwrap(),
                    Completion::Recorded
                );
                lat.push(t0.elapsed().as_micros() as u32);
                j += conc;
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    report("authorization write path (pending + answer + invoice paid)", lat, a.seconds as f64);
    store.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a = args();
    println!(
        "ivrpay storage benchmark: {} invoices, {} concurrent clients, {} s per phase",
        a.invoices, a.concurrency, a.seconds
    );
    if a.backend == "sqlite" || a.backend == "both" {
        let file = std::env::temp_dir().join(format!("ivrpay-bench-{}.db", std::process::id()));
        println!("SQLite ({}):", file.display());
        run(&format!("sqlite://{}", file.display()), &a).await;
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", file.display()));
        }
    }
    if a.backend == "postgres" || a.backend == "both" {
        let admin =
            std::env::var("IVRPAY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        sqlx::any::install_default_drivers();
        let db = format!("ivrpay_bench_{}", std::process::id());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("PostgreSQL reachable");
        sqlx::query(&format!("CREATE DATABASE {db}")).execute(&mut conn).await.unwrap();
        let base = admin.rsplit_once('/').map(|x| x.0).unwrap_or(&admin).to_string();
        println!("PostgreSQL ({base}/{db}):");
        run(&format!("{base}/{db}"), &a).await;
        let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&mut conn).await;
    }
}
