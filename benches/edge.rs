//! Edge benchmarks: how many calls a second the server sets up and records, and what a
//! flood from one address costs the calls of everyone else. Both run a real
//! `ivrpay serve` process on loopback, SIPp as the callers, and read the call records
//! back from the server's database. Nothing here asserts a timing: it measures and
//! prints.
//!
//! `cargo bench --bench edge -- cps [--rates 1000,2000,2500,3000] [--seconds 8]`
//!   For each rate, a fresh server and database; SIPp places `rate x seconds` calls of
//!   the shortest kind (INVITE, 200, ACK, BYE: tests/sipp/uac_churn.xml) to the echo
//!   service. Reported: calls answered, failed (any other answer, 503 included, or no
//!   answer), set-up time p50/p99, call records written and records left open, the
//!   writer's lost and shed counts. A rate passes with 0 failed calls and every record
//!   written and closed.
//!
//! `cargo bench --bench edge -- flood [--flood 5000] [--rate 50] [--seconds 10]`
//!   One address (127.0.0.2) sends `flood` new INVITEs a second while SIPp places
//!   `rate` calls a second from the trusted loopback address (a proxy in front).
//!   Reported: the real calls' success and set-up p50/p99, and the server's CPU.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Command line: a mode and `--name value` pairs.
struct Args {
    mode: String,
    rates: Vec<u32>,
    seconds: u32,
    flood: u32,
    rate: u32,
}

fn args() -> Args {
    let v: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut a = Args { mode: "cps".into(), rates: vec![1000, 2000, 2500, 3000], seconds: 8, flood: 5000, rate: 50 };
    let mut i = 0;
    while i < v.len() {
        let next = v.get(i + 1).cloned().unwrap_or_default();
        match v[i].as_str() {
            "cps" | "flood" => {
                a.mode = v[i].clone();
                i += 1;
                continue;
            }
            "--rates" => a.rates = next.split(',').map(|r| r.parse().expect("--rates 1000,2000")).collect(),
            "--seconds" => a.seconds = next.parse().expect("--seconds N"),
            "--flood" => a.flood = next.parse().expect("--flood N"),
            "--rate" => a.rate = next.parse().expect("--rate N"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// A server process with its own directory and database.
struct Server {
    child: Child,
    dir: PathBuf,
    sip: SocketAddr,
}

impl Server {
    fn start(name: &str, port: u16) -> Server {
        let dir = std::env::temp_dir().join(format!("ivrpay-edge-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("edge.toml");
        std::fs::write(
            &config,
            format!(
                "[sip]\nlisten = \"127.0.0.1:{port}\"\nmax_calls = 20000\n[media]\nrtp_port_min = 20000\nrtp_port_max = 60000\n\
                 [prompts]\ndir = \"{}\"\n[dialplans]\ndir = \"{}\"\n[storage]\ndatabase = \"sqlite://{}\"\nrecord_queue = 65536\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n",
                root().join("prompts").display(),
                root().join("dialplans").display(),
                dir.join("edge.db").display()
            ),
        )
        .unwrap();
        let child = Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 200000 2>/dev/null || ulimit -n 65536; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_ivrpay"))
            .args(["--log", "warn,ivrpay::call::record_writer=info,ivrpay::server=info", "serve", "-c"])
            .arg(&config)
            .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
            .spawn()
            .expect("server starts");
        let sip: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let server = Server { child, dir, sip };
        server.wait_ready();
        server
    }

    /// Until the server answers an OPTIONS (or 10 s).
    fn wait_ready(&self) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let me = sock.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let options = format!(
                "OPTIONS sip:echo@{0} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKready{1}\r\nFrom: <sip:b@{me}>;tag=r\r\n\
                 To: <sip:echo@{0}>\r\nCall-ID: ready-{1}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                self.sip,
                deadline.elapsed().as_nanos()
            );
            let _ = sock.send_to(options.as_bytes(), self.sip);
            let mut buf = [0u8; 2048];
            if sock.recv_from(&mut buf).is_ok() {
                return;
            }
        }
        panic!("server did not answer on {}", self.sip);
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, wait, and the server's log.
    fn stop(mut self) -> (PathBuf, String) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let _ = self.child.wait();
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        (self.dir.clone(), log)
    }
}

/// User + system CPU ticks of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat.rsplit_once(')').map(|x| x.1).unwrap_or("").split_whitespace().collect();
    f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
}

/// Runs SIPp's churn scenario: `calls` calls at `rate` a second from `local`.
/// SIPp listens on `port` (signalling) and `port + 2` (media).
fn sipp(target: SocketAddr, local: &str, port: u16, rate: u32, calls: u32, dir: &Path) -> (u64, u64, Vec<f64>) {
    let log = dir.join(format!("sipp-{rate}.log"));
    let status = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 65536 2>/dev/null; exec sipp \"$@\"")
        .arg("sipp")
        .arg(target.to_string())
        .arg("-sf")
        .arg(root().join("tests/sipp/uac_churn.xml"))
        .args(["-s", "echo", "-i", local, "-p", &port.to_string(), "-mp", &(port + 2).to_string()])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string(), "-l", &(rate * 10).to_string()])
        .args(["-nostdin", "-timeout", "90", "-max_socket", "65000", "-trace_rtt", "-rtt_freq", "1"])
        .current_dir(dir)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("sipp runs (apt-get install sip-tester)");
    let _ = status;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let last_number = |label: &str| {
        text.lines()
            .rfind(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty()).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (last_number("Successful call"), last_number("Failed call"), setup_times(dir))
}

/// Every set-up time SIPp wrote (ms), sorted.
fn setup_times(dir: &Path) -> Vec<f64> {
    let mut times = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.ends_with("_rtt.csv") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            times.extend(text.lines().skip(1).filter_map(|l| l.split(';').nth(1)?.trim().parse::<f64>().ok()));
            let _ = std::fs::remove_file(entry.path());
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    times
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// (records, records never closed) in the server's database.
fn records(dir: &Path) -> (i64, i64) {
    let url = format!("sqlite://{}", dir.join("edge.db").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = ivrpay::store::Store::open(&url).await.expect("database");
        let row = sqlx::query("SELECT COUNT(*) AS n, COUNT(*) - COUNT(ended_at) AS open FROM calls")
            .fetch_one(store.pool())
            .await
            .unwrap();
        use sqlx::Row;
        (row.try_get::<i64, _>("n").unwrap(), row.try_get::<i64, _>("open").unwrap())
    })
}

/// The writer's counts from its last log line: (lost, shed).
fn writer_counts(log: &str) -> (u64, u64) {
    let line = log.lines().rfind(|l| l.contains("call records writer stopped")).unwrap_or("");
    let field = |k: &str| {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(k)).and_then(|v| v.parse().ok()).unwrap_or(u64::MAX)
    };
    (field("lost="), field("shed="))
}

fn cps(a: &Args) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ivrpay set-up rate benchmark: {} s at each rate, SIPp churn calls to echo", a.seconds);
    for (i, &rate) in a.rates.iter().enumerate() {
        let server = Server::start(&format!("cps{rate}"), 15260 + i as u16 * 2);
        let (t0, w0) = (cpu_ticks(server.pid()), Instant::now());
        let (ok, failed, times) = sipp(server.sip, "127.0.0.1", 15400, rate, rate * a.seconds, &server.dir);
        let cpu = (cpu_ticks(server.pid()) - t0) as f64 / w0.elapsed().as_secs_f64();
        std::thread::sleep(Duration::from_millis(500));
        let (dir, log) = server.stop();
        let (written, open) = records(&dir);
        let (lost, shed) = writer_counts(&log);
        let pass = failed == 0 && open == 0 && written as u64 == ok && lost == 0;
        let _ = writeln!(
            out,
            "rate {rate:>5}/s: answered {ok:>6} failed {failed:>6}  set-up p50 {:>7.2} ms p99 {:>8.2} ms  records {written:>6} open {open} lost {lost} shed {shed}  server CPU {:.0}%  {}",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            cpu,
            if pass { "PASS" } else { "fail" }
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Sends new INVITEs from 127.0.0.2 at `per_s` until `stop`; returns how many.
fn flooder(target: SocketAddr, per_s: u32, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.2:0").expect("127.0.0.2 is local");
        let me = sock.local_addr().unwrap();
        let start = Instant::now();
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let due = (start.elapsed().as_secs_f64() * per_s as f64) as u64;
            while n < due {
                let invite = format!(
                    "INVITE sip:echo@{target} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKfl{n}\r\nFrom: <sip:f@{me}>;tag=f{n}\r\n\
                     To: <sip:echo@{target}>\r\nCall-ID: flood-{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = sock.send_to(invite.as_bytes(), target);
                n += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        sent.store(n, Ordering::Relaxed);
    })
}

fn flood(a: &Args) {
    let server = Server::start("flood", 15240);
    let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let flood = flooder(server.sip, a.flood, stop.clone(), sent.clone());
    std::thread::sleep(Duration::from_millis(500));
    let (t0, w0) = (cpu_ticks(server.pid()), Instant::now());
    let (ok, failed, times) = sipp(server.sip, "127.0.0.1", 15400, a.rate, a.rate * a.seconds, &server.dir);
    let cpu = (cpu_ticks(server.pid()) - t0) as f64 / w0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = flood.join();
    let (dir, _) = server.stop();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "ivrpay flood benchmark: {} INVITE/s from 127.0.0.2 ({} sent) while {} calls/s from 127.0.0.1 for {} s\n\
         real calls: answered {ok} failed {failed} ({:.2}% success)  set-up p50 {:.2} ms p99 {:.2} ms  server CPU {:.0}%",
        a.flood,
        sent.load(Ordering::Relaxed),
        a.rate,
        a.seconds,
        100.0 * ok as f64 / (ok + failed).max(1) as f64,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        cpu
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let a = args();
    match a.mode.as_str() {
        "flood" => flood(&a),
        _ => cps(&a),
    }
}
