//! API keys managed with the `ivrpay merchant key` commands (the real binary): create
//! (printed once), list (prefix, label, created, revoked), revoke; a revoked key gets a
//! 401 JSON answer at once while another key of the merchant still works; CLI mistakes
//! are explained and exit non-zero.

mod common;

use common::openapi::call;
use std::process::Command;

struct Cli {
    database: String,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_ivrpay"))
            .args(["--log", "warn", "merchant"])
            .args(args)
            .args(["--database", &self.database])
            .output()
            .expect("run ivrpay");
        Run {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert!(r.ok, "ivrpay merchant {args:?} failed: {}", r.stderr);
        r.stdout
    }

    fn fails(&self, args: &[&str], says: &str) {
        let r = self.run(args);
        assert!(!r.ok, "ivrpay merchant {args:?} should fail: {}", r.stdout);
        assert!(r.stderr.contains(says), "ivrpay merchant {args:?}: {:?} does not say {says:?}", r.stderr);
    }
}

fn value<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap_or_else(|| panic!("no {name}= in {out}"))
}

on_both_backends!(a_revoked_key_stops_working_and_the_others_go_on);

async fn a_revoked_key_stops_working_and_the_others_go_on(config: ivrpay::config::Config) {
    let cli = Cli { database: config.storage.database.clone() };
    let created = cli.ok(&["create", "--name", "Plomberie Dupont", "--phone", "+33970000000"]);
    let merchant = value(&created, "merchant_id").to_string();
    let first = value(&created, "api_key").to_string();
    let issued = cli.ok(&["key", "create", "--merchant", &merchant, "--label", "accounting"]);
    let (second_id, second) = (value(&issued, "key_id").to_string(), value(&issued, "api_key").to_string());
    assert!(second.starts_with("ivp_") && second != first);

    // Listed by prefix and label, never in full.
    let list = cli.ok(&["key", "list", "--merchant", &merchant]);
    assert_eq!(list.lines().count(), 3, "{list}");
    let row = list.lines().find(|l| l.starts_with(&second_id)).unwrap_or_else(|| panic!("{list}"));
    assert!(row.contains(&second[..12]) && row.contains("accounting") && row.trim_end().ends_with('-'), "{row}");
    assert!(!list.contains(&second) && !list.contains(&first), "secrets are never listed");

    let server = common::start(config).await;
    let api = server.http_addr();
    assert_eq!(call(api, "GET", "/invoices", "/invoices", Some(&second), None).await.0, 200);
    cli.ok(&["key", "revoke", "--merchant", &merchant, "--key", &second_id]);
    let (status, e) = call(api, "GET", "/invoices", "/invoices", Some(&second), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthorized")), "{e}");
    assert_eq!(
        call(api, "GET", "/invoices", "/invoices", Some(&first), None).await.0,
        200,
        "the other key still works"
    );
    let list = cli.ok(&["key", "list", "--merchant", &merchant]);
    let row = list.lines().find(|l| l.starts_with(&second_id)).unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(row.matches(&today).count(), 2, "created and revoked dates: {row}");

    // Mistakes are explained and exit non-zero.
    cli.fails(&["key", "revoke", "--merchant", &merchant, "--key", &second_id], "already revoked");
    cli.fails(&["key", "revoke", "--merchant", &merchant, "--key", "key_nope"], "no API key key_nope");
    cli.fails(&["key", "create", "--merchant", "mer_nope"], "no merchant 'mer_nope'");
    cli.fails(&["key", "list", "--merchant", "mer_nope"], "no merchant 'mer_nope'");
    cli.fails(&["key", "revoke", "--merchant", &merchant], "--key");
    server.shutdown(std::time::Duration::from_millis(100)).await;
}
