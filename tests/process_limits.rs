//! The process against its limits, through the real `ivrpay serve` binary: started
//! under a descriptor limit too low for its `max_calls`, it lowers them to what fits
//! and says so, refuses the call beyond them with 503 while the admitted ones are
//! answered, and serves again once they end; and it can never dump core.

mod common;

use common::raw_sip::{ack, bye, invite};
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::UdpSocket;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ivrpay serve` under `ulimit -n {nofile}` with room for 1,000 calls configured;
/// returns the process, its SIP address and the log lines read so far.
fn serve_with_nofile(nofile: u32) -> (Killed, SocketAddr, Vec<String>) {
    let rtp = 47000 + (std::process::id() % 500) as u16 * 4;
    let dir = std::env::temp_dir().join(format!("ivrpay-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = common::root();
    let config = dir.join("ivrpay.toml");
    let text = format!(
        "[sip]\nlisten = \"127.0.0.1:0\"\nmax_calls = 1000\n[media]\nrtp_port_min = {rtp}\nrtp_port_max = {}\n\
         [prompts]\ndir = \"{}\"\n[dialplans]\ndir = \"{}\"\n[storage]\ndatabase = \"sqlite://{}\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
        rtp + 40,
        root.join("prompts").display(),
        root.join("dialplans").display(),
        dir.join("ivrpay.db").display()
    );
    std::fs::write(&config, text).unwrap();
    let script = format!("ulimit -n {nofile} && exec \"$0\" --log info serve -c \"$1\"");
    let mut child = Command::new("sh")
        .args(["-c", &script, env!("CARGO_BIN_EXE_ivrpay")])
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
            let _ = tx.send(line);
        }
    });
    let child = Killed(child);
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else { continue };
        let sip = line.split_whitespace().find_map(|w| w.strip_prefix("sip=")).and_then(|a| a.parse().ok());
        lines.push(line);
        if let Some(sip) = sip {
            return (child, sip, lines);
        }
    }
    panic!("ivrpay serve did not listen within 60 s: {lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_low_descriptor_limit_calls_are_lowered_to_what_fits_and_refused_beyond() {
    // 262 descriptors: the server's own 256, and room for 2 calls of 3.
    let (server, sip, log) = serve_with_nofile(262);
    let lowered =
        log.iter().find(|l| l.contains("lowering sip.max_calls")).expect("the log says max_calls was lowered");
    assert!(lowered.contains("lowered_to=2") && lowered.contains("configured=1000"), "{lowered}");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.0.id())).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    assert_eq!(core.split_whitespace().skip(4).take(2).collect::<Vec<_>>(), ["0", "0"], "{core}");

    let mut held = Vec::new();
    for i in 0..2 {
        let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (caller, answer, _) = invite(sip, "127.0.0.1", "echo", rtp.local_addr().unwrap()).await;
        assert!(answer.starts_with("SIP/2.0 200"), "call {i}: {answer}");
        ack(&caller, "echo").await;
        held.push((caller, rtp));
    }
    let rtp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (_, answer, _) = invite(sip, "127.0.0.1", "echo", rtp.local_addr().unwrap()).await;
    assert!(answer.starts_with("SIP/2.0 503"), "the third call: {answer}");
    assert!(answer.contains("Retry-After:"), "{answer}");
    for (caller, _) in &held {
        bye(caller, "echo").await;
    }
    // Places come back as calls end for the caller.
    let mut answered = String::new();
    for _ in 0..50 {
        let (caller, answer, _) = invite(sip, "127.0.0.1", "echo", rtp.local_addr().unwrap()).await;
        if answer.starts_with("SIP/2.0 200") {
            ack(&caller, "echo").await;
            bye(&caller, "echo").await;
            answered = answer;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered.starts_with("SIP/2.0 200"), "a call after the first two ended");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_server_cannot_dump_core() {
    let _server = common::start(common::config()).await;
    // SAFETY: PR_GET_DUMPABLE takes no pointer.
    assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE) }, 0, "the process is not dumpable");
}
