//! The sans-IO rule, checked: `ivrpay-proto` (SIP, media, call flow and call cores) must
//! not reach IO, a clock or an ambient random generator. The compiler already refuses
//! a `tokio::` path there because the crate does not depend on tokio; this test keeps it
//! that way (no IO crate may join its normal dependencies) and catches what the compiler
//! cannot: std's own clock, filesystem, sockets, threads, processes and environment.
//! It also checks the root package's layers: which of its folders may name which (no
//! `store` <-> `payments` or `call` <-> `server` cycle, the edges of the README's
//! picture).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Crates that do IO. None may be a normal or build dependency of the protocol crate,
/// directly or through another crate. (`getrandom` is not listed: rsip, the requested SIP
/// parser, pulls it in through uuid 0.8 for its v4 ids, which ivrpay never asks for; the
/// source check below refuses `new_v4`, `OsRng` and `from_entropy` instead.)
const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "hyper",
    "hyper-util",
    "axum",
    "sqlx",
    "sqlx-core",
    "rustls",
    "tokio-rustls",
    "hound",
    "reqwest",
    "lettre",
];

/// What the protocol crate's source must never call: the clock and ambient randomness
/// (time and randomness are inputs), and std's IO.
const FORBIDDEN_CALLS: &[&str] = &[
    "Instant::now",
    "SystemTime::now",
    "Utc::now",
    "Local::now",
    "thread_rng",
    "rand::random",
    "from_entropy",
    "OsRng",
    "new_v4",
    "std::fs",
    "std::net::UdpSocket",
    "std::net::TcpStream",
    "std::net::TcpListener",
    "std::thread",
    "std::process",
    "std::env::var",
    "tokio::",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn proto_dependencies() -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args(["tree", "-p", "ivrpay-proto", "-e", "normal,build", "--prefix", "none", "--offline", "--locked"])
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut names: Vec<String> = text.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_string).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn proto_crate_has_no_io_dependency() {
    let deps = proto_dependencies();
    assert!(deps.iter().any(|d| d == "ivrpay-proto"), "cargo tree lists the crate itself: {deps:?}");
    assert!(deps.iter().any(|d| d == "rsip"), "the SIP parser is a dependency, so the walk saw something");
    let bad: Vec<&String> = deps.iter().filter(|d| FORBIDDEN_CRATES.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "ivrpay-proto reaches IO crates {bad:?}; keep them in the root package");
}

#[test]
fn the_root_package_does_reach_io() {
    // The same walk on the root package finds tokio and sqlx: the check above can fail.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args(["tree", "-p", "ivrpay", "-e", "normal", "--prefix", "none", "--offline", "--locked"])
        .output()
        .expect("cargo tree runs");
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["tokio", "sqlx", "ivrpay-proto"] {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(name)), "root reaches {name}");
    }
}

/// The lines of a source file that are production code: test modules (everything from a
/// `#[cfg(test)]` line on), test-only files and `//` comments are left out.
fn production_lines(path: &Path, text: &str) -> Vec<(usize, String)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("tests") || name.ends_with("_tests.rs") || path.components().any(|c| c.as_os_str() == "tests") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // A test module written inline ends the production code; a `#[cfg(test)] mod x;`
        // declaration (the tests in their own file) does not.
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        if line.trim_start().starts_with("#[cfg(test)]") && !next.ends_with(';') {
            break;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

fn offences(path: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, code) in production_lines(path, text) {
        for call in FORBIDDEN_CALLS {
            if code.contains(call) {
                found.push(format!("{}:{n}: {call}", path.display()));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn proto_source_reads_no_clock_rng_or_io() {
    let src = root().join("crates/ivrpay-proto/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "the protocol crate's sources were found: {}", files.len());
    let mut found = Vec::new();
    for f in &files {
        found.extend(offences(f, &std::fs::read_to_string(f).expect("read source")));
    }
    assert!(found.is_empty(), "time, randomness and IO are inputs of the protocol crate:\n{}", found.join("\n"));
}

#[test]
fn the_matcher_sees_what_it_must_and_skips_tests_and_comments() {
    let p = Path::new("crates/ivrpay-proto/src/sip/dialog.rs");
    let bad = "fn tag() -> u64 { rand::random() }\nlet t = Instant::now();\n";
    assert_eq!(offences(p, bad).len(), 2);
    let fine = "// Instant::now is never read here\nfn f(now: Instant) {}\n#[cfg(test)]\nmod tests { fn t() { let _ = Instant::now(); } }\n";
    assert!(offences(p, fine).is_empty());
    let after_declaration = "#[cfg(test)]\nmod tests;\nfn f() { let _ = std::time::Instant::now(); }\n";
    assert_eq!(offences(p, after_declaration).len(), 1, "a test module declaration does not end production code");
    assert!(offences(Path::new("crates/ivrpay-proto/src/sip/dialog_tests.rs"), bad).is_empty());
}

/// The root package's layers: each folder, and the modules its production code must
/// not name (as `crate::<module>` paths). Payments are written against their own
/// `Ledger` trait, so they name no store; the store names payments only; a call knows
/// its environment, not the server that routes to it; media and SIP know neither calls
/// nor payments.
const LAYERS: &[(&str, &[&str])] = &[
    ("payments", &["store", "call", "server", "sip", "extranet", "ivr", "media", "caller", "cli"]),
    ("store", &["call", "server", "sip", "extranet", "ivr", "media", "caller", "cli"]),
    ("call", &["server", "extranet", "caller", "cli"]),
    // The extranet shares sip::per_source for its connection caps.
    ("extranet", &["server", "caller", "cli"]),
    ("ivr", &["call", "server", "extranet", "store", "caller", "cli"]),
    ("media", &["call", "server", "extranet", "store", "payments", "ivr", "sip", "caller", "cli"]),
    ("sip", &["call", "server", "extranet", "store", "payments", "ivr", "media", "caller", "cli"]),
    ("caller", &["call", "server", "extranet", "store", "payments", "ivr", "cli"]),
];

fn layer_offences(folder: &str, path: &Path, text: &str) -> Vec<String> {
    let forbidden = LAYERS.iter().find(|(f, _)| *f == folder).map(|(_, m)| *m).unwrap_or(&[]);
    let mut found = Vec::new();
    for (n, code) in production_lines(path, text) {
        for module in forbidden {
            if code.contains(&format!("crate::{module}::")) || code.contains(&format!("crate::{module};")) {
                found.push(format!("{}:{n}: {folder} names crate::{module}", path.display()));
            }
        }
    }
    found
}

#[test]
fn root_folders_keep_their_layers() {
    let mut found = Vec::new();
    for (folder, _) in LAYERS {
        let mut files = Vec::new();
        rust_files(&root().join("src").join(folder), &mut files);
        assert!(!files.is_empty(), "src/{folder} has sources");
        for f in &files {
            found.extend(layer_offences(folder, f, &std::fs::read_to_string(f).expect("read source")));
        }
    }
    assert!(found.is_empty(), "a layer names one it must not know:\n{}", found.join("\n"));
}

#[test]
fn the_layer_matcher_sees_a_cycle_and_skips_comments() {
    let p = Path::new("src/payments/authorize.rs");
    assert_eq!(layer_offences("payments", p, "use crate::store::{Store, StoreError};\n").len(), 1);
    assert_eq!(layer_offences("payments", p, "fn f(s: &crate::store::Store) {}\n").len(), 1);
    assert!(layer_offences("payments", p, "// see crate::store::ledger\nuse crate::payments::ledger;\n").is_empty());
    assert!(layer_offences("store", Path::new("src/store/cash.rs"), "use crate::payments::cash;\n").is_empty());
}
