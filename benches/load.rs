//! Load benchmark: N concurrent SIPp calls against a real ivrpay process on loopback.
//!
//! `cargo bench --bench load -- [--calls N] [--seconds M] [--listeners L] [--rate R]`
//!
//! - The server runs as its own process (`ivrpay serve`), so its CPU time and resident
//!   memory are read from /proc without counting the load generators.
//! - The main SIPp instance places N calls to the looping echo service; each hears the
//!   greeting over and over, sends digits 1, 2, 5 as RFC 4733 events from pcap files
//!   (read back by the server), holds M seconds and hangs up.
//! - A second SIPp instance places L listener calls whose SDP points at a sink socket
//!   here; every packet the server sends them is timestamped on arrival, and the
//!   deviation of the spacing from 20 ms (consecutive sequence numbers only) is reported
//!   as p50/p99/max. Listener calls are part of the load too.
//!
//! Reported: failed calls, digits lost (the server's per-call digit counts from its
//! "call ended" log lines (written by ivrpay_proto::call::core) against the 3 each main call sends; lost digits are failures),
//! the server's CPU per call (% of one core), memory per call, packet spacing deviation,
//! and the pacer's late ticks. Nothing here asserts a timing:
//! it measures and prints.

use std::collections::HashMap;
use std::io::Write;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    calls: u32,
    seconds: u64,
    listeners: u32,
    rate: u32,
}

fn args() -> Args {
    let mut a = Args { calls: 2000, seconds: 60, listeners: 100, rate: 100 };
    let v: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < v.len() {
        let next = || v.get(i + 1).and_then(|x| x.parse().ok());
        match v[i].as_str() {
            "--calls" => a.calls = next().expect("--calls N"),
            "--seconds" => a.seconds = next().expect("--seconds M") as u64,
            "--listeners" => a.listeners = next().expect("--listeners L"),
            "--rate" => a.rate = next().expect("--rate R"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// CPU ticks (user + system) and resident KiB of a process.
fn proc_usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

struct Load<'a> {
    scenario: &'a str,
    target: &'a str,
    calls: u32,
    rate: u32,
    hold_ms: u64,
}

fn sipp(l: Load, extra: &[String], log: &Path) -> Child {
    let Load { scenario, target, calls, rate, hold_ms } = l;
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 65536 2>/dev/null; exec sipp \"$@\"")
        .arg("sipp")
        .arg(target)
        .arg("-sf")
        .arg(root().join("tests/sipp").join(scenario))
        .args([
            "-s",
            "echo-loop",
            "-i",
            "127.0.0.1",
            "-m",
            &calls.to_string(),
            "-l",
            &calls.to_string(),
            "-r",
            &rate.to_string(),
        ])
        .args([
            "-d",
            &hold_ms.to_string(),
            "-nostdin",
            "-timeout",
            &(hold_ms / 1000 + 120).to_string(),
            "-max_socket",
            "65000",
        ])
        .args(extra)
        .stdout(std::fs::File::create(log).expect("log file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)")
}

fn sipp_counts(log: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let last_number = |label: &str| {
        text.lines()
            .rfind(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty()).and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    };
    (last_number("Successful call"), last_number("Failed call"))
}

/// Arrival times stamped by the kernel when each datagram reached the socket
/// (SO_TIMESTAMPNS), so the sink's own scheduling delays do not count as jitter.
struct KernelClock;

impl KernelClock {
    fn enable(sock: &UdpSocket) -> KernelClock {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: valid fd and option value of the documented type and size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                &on as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_TIMESTAMPNS");
        KernelClock
    }

    /// One datagram and its kernel arrival time in nanoseconds.
    fn recv(&self, sock: &UdpSocket, buf: &mut [u8]) -> Option<(usize, u64)> {
        use std::os::fd::AsRawFd;
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
        let mut control = [0u64; 16];
        // SAFETY: msghdr points at live buffers (iov, control) for the duration of the
        // call; the control messages are read back with the CMSG macros within bounds.
        unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            let n = libc::recvmsg(sock.as_raw_fd(), &mut msg, 0);
            if n < 0 {
                return None;
            }
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::timespec);
                    return Some((n as usize, ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64));
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
            None
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let a = args();
    let bin = env!("CARGO_BIN_EXE_ivrpay");
    let dir = std::env::temp_dir().join(format!("ivrpay-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = 15060;
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[sip]\nlisten = \"127.0.0.1:{port}\"\nmax_calls = {}\n[media]\nrtp_port_min = 20000\nrtp_port_max = 39998\ninactivity_timeout_s = 3600\n[prompts]\ndir = \"{}\"\n\
             [dialplans]\ndir = \"{}\"\n[storage]\ndatabase = \"sqlite://{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            a.calls + a.listeners + 10,
            root().join("prompts").display(),
            root().join("dialplans").display(),
            dir.join("bench.db").display()
        ),
    )
    .unwrap();
    let mut server = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 65536 2>/dev/null; exec \"$@\"")
        .arg("sh")
        .arg(bin)
        .args([
            "--log",
            "warn,ivrpay::server=info,ivrpay::call::task=info,ivrpay_proto::call::core=info",
            "serve",
            "-c",
        ])
        .arg(&config)
        .stderr(std::fs::File::create(dir.join("server.log")).unwrap())
        .spawn()
        .expect("server starts");
    std::thread::sleep(Duration::from_millis(700));
    let pid = server.id();
    let (_, rss_idle) = proc_usage(pid);

    // The RTP sink for listener calls.
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let (stop2, measuring2) = (stop.clone(), measuring.clone());
    let receiver = std::thread::spawn(move || {
        let mut last: HashMap<u32, (u16, u64)> = HashMap::new();
        let mut deltas: Vec<u32> = Vec::with_capacity(1 << 22);
        let mut packets = 0u64;
        let mut buf = [0u8; 2048];
        let clock = KernelClock::enable(&sink);
        while !stop2.load(Ordering::Relaxed) {
            let Some((n, now)) = clock.recv(&sink, &mut buf) else { continue };
            if n < 12 {
                continue;
            }
            packets += 1;
            let seq = u16::from_be_bytes([buf[2], buf[3]]);
            // A marker bit starts a talkspurt: the interval before it is silence, not jitter.
            let marker = buf[1] & 0x80 != 0;
            let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
            if let Some((s, t)) = last.insert(ssrc, (seq, now)) {
                if seq == s.wrapping_add(1) && !marker && measuring2.load(Ordering::Relaxed) {
                    let d = (now - t) as i64 / 1000;
                    deltas.push((d - 20_000).unsigned_abs() as u32);
                }
            }
        }
        (packets, last.len(), deltas)
    });

    let target = format!("127.0.0.1:{port}");
    let hold_ms = a.seconds * 1000;
    let ramp = Duration::from_secs_f64((a.calls.max(a.listeners)) as f64 / a.rate as f64);
    let sink_keys = vec![
        "-key".into(),
        "sink_ip".into(),
        "127.0.0.1".into(),
        "-key".into(),
        "sink_port".into(),
        sink_port.to_string(),
        "-p".into(),
        "15070".into(),
    ];
    let main_log = dir.join("sipp-main.log");
    let listen_log = dir.join("sipp-listeners.log");
    let started = Instant::now();
    let listen_load =
        Load { scenario: "bench_listener.xml", target: &target, calls: a.listeners, rate: a.rate.min(50), hold_ms };
    let mut listeners = sipp(listen_load, &sink_keys, &listen_log);
    let main_load = Load { scenario: "uac_rfc4733.xml", target: &target, calls: a.calls, rate: a.rate, hold_ms };
    let mut main = sipp(main_load, &["-p".into(), "15080".into(), "-mp".into(), "16000".into()], &main_log);

    // Steady state: all calls up (after the ramp and the digits), measure for most of
    // the hold time.
    let settle = ramp + Duration::from_secs(5);
    std::thread::sleep(settle);
    measuring.store(true, Ordering::Relaxed);
    let window = Duration::from_secs(a.seconds.saturating_sub(10).max(5));
    let (t0, _) = proc_usage(pid);
    let w0 = Instant::now();
    std::thread::sleep(window);
    let (t1, rss_loaded) = proc_usage(pid);
    let elapsed = w0.elapsed().as_secs_f64();
    measuring.store(false, Ordering::Relaxed);
    let _ = main.wait();
    let _ = listeners.wait();
    stop.store(true, Ordering::Relaxed);
    let (packets, streams, mut deltas) = receiver.join().unwrap();
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = server.wait();

    let (ok_main, failed_main) = sipp_counts(&main_log);
    let (ok_listen, failed_listen) = sipp_counts(&listen_log);
    let total = (a.calls + a.listeners) as f64;
    let cpu_pct = (t1 - t0) as f64 / 100.0 / elapsed * 100.0;
    deltas.sort_unstable();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "ivrpay load benchmark: {} calls + {} listeners, hold {} s, rate {}/s, run {:.0} s",
        a.calls,
        a.listeners,
        a.seconds,
        a.rate,
        started.elapsed().as_secs_f64()
    );
    let _ = writeln!(
        out,
        "calls:        successful {} failed {} (listeners: successful {} failed {})",
        ok_main, failed_main, ok_listen, failed_listen
    );
    let _ = writeln!(
        out,
        "server CPU:   {:.1}% of one core over {:.0} s steady state = {:.4}% per call",
        cpu_pct,
        elapsed,
        cpu_pct / total
    );
    let _ = writeln!(
        out,
        "server RSS:   idle {} KiB, loaded {} KiB = {:.1} KiB per call",
        rss_idle,
        rss_loaded,
        (rss_loaded.saturating_sub(rss_idle)) as f64 / total
    );
    let _ = writeln!(
        out,
        "RTP spacing:  {} packets on {} listener streams, {} intervals; |delta - 20 ms| p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        packets,
        streams,
        deltas.len(),
        percentile(&deltas, 0.50),
        percentile(&deltas, 0.99),
        percentile(&deltas, 1.0)
    );
    let server_log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    // Each main call sends 1, 2, 5; listener calls send none.
    let expected = u64::from(a.calls) * 3;
    let received: u64 = server_log
        .lines()
        .filter(|l| l.contains("call ended"))
        .filter_map(|l| l.split_whitespace().find_map(|kv| kv.strip_prefix("digits=")))
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let lost = expected.saturating_sub(received);
    let _ = writeln!(
        out,
        "digits:       expected {expected} received {received} lost {lost}{}",
        if lost > 0 || received > expected { " (FAILURE)" } else { "" }
    );
    if let Some(line) = server_log.lines().find(|l| l.contains("pacer statistics")) {
        let _ = writeln!(out, "pacer:        {}", line.split("pacer statistics").nth(1).unwrap_or("").trim());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
