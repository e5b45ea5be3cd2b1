//! The Sips connector over HTTPS, as it reaches the real platform: the wire simulator
//! served with TLS (in process, and as `ivrpay simulator --tls-cert --tls-key`), a
//! certificate from a CA the connector does not trust refused before any card data is
//! sent, then accepted once `[payments] tls_ca_file`'s CA is trusted.
//!
//! One test function: trusting a CA is process-wide, so the refusal must come first.

use ivrpay::payments::card::{CardNumber, Expiry, SecurityCode};
use ivrpay::payments::gateway::{AuthorizationRequest, Gateway, GatewayError, Simulator};
use ivrpay::payments::money::Currency;
use ivrpay::payments::sips::{SipsConfig, SipsConnector};
use ivrpay::payments::{sips_sim, tls};
use std::path::PathBuf;
use std::time::Duration;

const SECRET: &str = "tls-secret-123";

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
}

async fn authorize(base_url: &str, reference: &str) -> Result<String, GatewayError> {
    let mut cfg = SipsConfig::new(base_url, "011223344550000", SECRET);
    cfg.timeout = Duration::from_secs(5);
    let connector = Gateway::Sips(SipsConnector::new(cfg));
    let card = CardNumber::parse("4100000000000100").unwrap();
    let csc = SecurityCode::parse("123", card.brand().unwrap()).unwrap();
    let next_year = (chrono::Utc::now().format("%y").to_string().parse::<u32>().unwrap() + 1) % 100;
    let req = AuthorizationRequest {
        transaction_reference: reference,
        amount: 4200,
        currency: Currency::Eur,
        card: &card,
        expiry: Expiry::parse_mmyy(&format!("12{next_year:02}")).unwrap(),
        csc: &csc,
        capture_mode: ivrpay::payments::merchant::CaptureMode::AuthorCapture,
        capture_day: 0,
        order_channel: "MOTO",
    };
    connector.authorize(&req).await.map(|r| r.response_code)
}

async fn wait_for_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("nothing listens on {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connector_pays_over_https_only_with_a_trusted_certificate() {
    // The wire simulator behind TLS, in process.
    let state = sips_sim::SimServer {
        simulator: Simulator::new(Duration::from_millis(5), Duration::from_secs(30)),
        secret: SECRET.into(),
        answer_secret: SECRET.into(),
    };
    let acceptor = tls::acceptor(&fixture("server.pem"), &fixture("server.key")).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = tls::TlsListener::new(tcp, acceptor).unwrap();
    tokio::spawn(async move { axum::serve(listener, sips_sim::router(state)).await.unwrap() });

    // Its certificate is signed by a CA nobody trusts yet: the handshake fails, so no
    // request (and no card number) ever left, and the platform counts as unavailable.
    let by_name = format!("https://localhost:{port}");
    assert_eq!(authorize(&by_name, "TLS1").await, Err(GatewayError::Unavailable));
    // Plain HTTP to a TLS port gets no valid answer either.
    assert!(authorize(&format!("http://127.0.0.1:{port}"), "TLS2").await.is_err());

    // The operator trusts the test CA (what `[payments] tls_ca_file` does at start).
    assert_eq!(tls::trust_ca_file(&fixture("ca.pem")).unwrap(), 1);
    assert_eq!(authorize(&by_name, "TLS3").await.as_deref(), Ok("00"));
    // The certificate names 127.0.0.1 as well: an address URL verifies too.
    assert_eq!(authorize(&format!("https://127.0.0.1:{port}"), "TLS4").await.as_deref(), Ok("00"));

    // The same through the command a test platform runs: `ivrpay simulator` with TLS.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ivrpay"))
        .arg("simulator")
        .args(["--listen", &format!("127.0.0.1:{port}"), "--latency-ms", "5"])
        .arg("--tls-cert")
        .arg(fixture("server.pem"))
        .arg("--tls-key")
        .arg(fixture("server.key"))
        .env("IVRPAY_SIPS_SECRET", SECRET)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    assert_eq!(authorize(&format!("https://localhost:{port}"), "TLS5").await.as_deref(), Ok("00"));
    child.kill().await.unwrap();

    // A certificate missing its key is refused by the command with the file named.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ivrpay"))
        .args(["simulator", "--listen", "127.0.0.1:0", "--secret", "x"])
        .arg("--tls-cert")
        .arg(fixture("server.pem"))
        .arg("--tls-key")
        .arg(fixture("ca.pem"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ca.pem: no usable private key"), "{err}");
}
