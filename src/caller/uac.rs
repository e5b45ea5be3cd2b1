//! The caller's SIP side: INVITE with Timer A/B, ACK, INFO and BYE through the same
//! sans-IO client transactions the server uses, and the 20 ms media loop.

use super::media::{KeyPlan, Recorder, Sender};
use super::{CallError, CallOptions, CallSummary, DtmfMode, EndedBy};
use crate::media::rtp::MAX_PACKET;
use crate::sip::admission::ALLOW;
use crate::sip::dialog::{new_branch, new_tag};
use crate::sip::framing::StreamFramer;
use crate::sip::headers::{self, uri_of};
use crate::sip::message::{self, MessageBuilder, Method, Request, Response, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::sdp::{self, Direction, LocalMedia};
use crate::sip::transaction::{Backoff, ClientNonInvite, ClientOutput, Timers};
use crate::sip::Transport;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

enum Channel {
    Udp(UdpSocket),
    Tcp { stream: TcpStream, framer: StreamFramer, buf: Vec<u8> },
}

impl Channel {
    async fn open(transport: Transport, remote: SocketAddr) -> std::io::Result<Channel> {
        Ok(match transport {
            Transport::Udp => {
                let any: SocketAddr = if remote.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("literal");
                let s = UdpSocket::bind(any).await?;
                s.connect(remote).await?;
                Channel::Udp(s)
            }
            Transport::Tcp => {
                let stream = TcpStream::connect(remote).await?;
                stream.set_nodelay(true)?;
                Channel::Tcp { stream, framer: StreamFramer::new(65_535), buf: vec![0; 16 * 1024] }
            }
        })
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Channel::Udp(s) => s.local_addr(),
            Channel::Tcp { stream, .. } => stream.local_addr(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Channel::Udp(s) => s.send(bytes).await.map(|_| ()),
            Channel::Tcp { stream, .. } => stream.write_all(bytes).await,
        }
    }

    /// The next parsed message (unparsable ones are skipped).
    async fn recv(&mut self) -> std::io::Result<SipMessage> {
        loop {
            let raw = match self {
                Channel::Udp(s) => {
                    let mut buf = vec![0u8; 65_535];
                    let n = s.recv(&mut buf).await?;
                    buf.truncate(n);
                    buf
                }
                Channel::Tcp { stream, framer, buf } => loop {
                    match framer.next_message() {
                        Ok(Some(m)) => break m,
                        Ok(None) => {}
                        Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())),
                    }
                    let n = stream.read(buf).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::UnexpectedEof.into());
                    }
                    framer.push(&buf[..n]);
                },
            };
            let framing = if matches!(self, Channel::Udp(_)) { Framing::Datagram } else { Framing::Stream };
            if let Ok(m) = message::parse(&raw, framing) {
                return Ok(m);
            }
        }
    }
}

fn resolve(target: &str) -> Option<SocketAddr> {
    if !target.starts_with("sip:") {
        return None;
    }
    let (host, port) = headers::uri_host_port(target)?;
    let ip: IpAddr =
        if host.eq_ignore_ascii_case("localhost") { IpAddr::from([127, 0, 0, 1]) } else { host.parse().ok()? };
    Some(SocketAddr::new(ip, port.unwrap_or(5060)))
}

struct Dialog {
    call_id: String,
    from: String,
    to: String,
    target: String,
    routes: Vec<String>,
    via_base: String,
    contact: String,
    cseq: u32,
}

impl Dialog {
    fn request(&mut self, method: Method) -> (MessageBuilder, String) {
        self.cseq += 1;
        let branch = new_branch(&mut rand::thread_rng());
        let mut b = MessageBuilder::request(method.clone(), &self.target)
            .header("Via", &format!("{};branch={branch};rport", self.via_base))
            .header("Max-Forwards", "70");
        for r in &self.routes {
            b = b.header("Route", r);
        }
        let b = b
            .header("From", &self.from)
            .header("To", &self.to)
            .header("Call-ID", &self.call_id)
            .header("CSeq", &format!("{} {method}", self.cseq))
            .header("Contact", &self.contact);
        (b, branch)
    }
}

/// Like [`run`], owning its options so it can be spawned.
pub async fn run_owned(opts: CallOptions) -> Result<CallSummary, CallError> {
    run(&opts).await
}

/// Places the call described by `opts` and returns its summary.
pub async fn run(opts: &CallOptions) -> Result<CallSummary, CallError> {
    let started = Instant::now();
    let remote = resolve(&opts.target).ok_or_else(|| CallError::BadTarget(opts.target.clone()))?;
    let mut keys = KeyPlan::new(
        &opts.dtmf,
        opts.wait.as_millis() as u64,
        opts.digit.as_millis() as u64,
        opts.gap.as_millis() as u64,
    )
    .map_err(CallError::BadDigit)?;
    let mut chan = Channel::open(opts.transport, remote).await?;
    let local = chan.local_addr()?;
    let rtp = UdpSocket::bind(SocketAddr::new(local.ip(), 0)).await?;
    let media_local = LocalMedia {
        address: local.ip(),
        port: rtp.local_addr()?.port(),
        codecs: vec![crate::media::codec::Codec::Pcmu, crate::media::codec::Codec::Pcma],
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
    };
    let tcp = opts.transport == Transport::Tcp;
    let call_id = format!("{:016x}@ivrpay-caller", rand::random::<u64>());
    let mut dialog = Dialog {
        from: format!("<sip:{}@{}>;tag={}", opts.from_user, local.ip(), new_tag(&mut rand::thread_rng())),
        to: format!("<{}>", opts.target),
        target: opts.target.clone(),
        routes: Vec::new(),
        via_base: format!("SIP/2.0/{} {local}", opts.transport.via_token()),
        contact: format!("<sip:{}@{local}{}>", opts.from_user, if tcp { ";transport=tcp" } else { "" }),
        call_id: call_id.clone(),
        cseq: 0,
    };
    let (invite, invite_branch) = dialog.request(Method::Invite);
    let invite = invite
        .header("Allow", ALLOW)
        .header("User-Agent", "ivrpay-caller")
        .body("application/sdp", sdp::offer(&media_local, Direction::SendRecv).into_bytes())
        .build();
    let mut summary = CallSummary {
        call_id,
        status: 0,
        codec: None,
        digits_sent: 0,
        rtp_received: 0,
        talkspurts: 0,
        rtp_sent: 0,
        heard_ms: 0,
        ended_by: EndedBy::NotAnswered,
        bye_status: 0,
        duration_ms: 0,
    };
    let timers = opts.timers;
    let resp = invite_transaction(&mut chan, &invite, &invite_branch, tcp, timers, remote, opts.max_duration).await?;
    summary.status = resp.status;
    if resp.status >= 300 {
        // ACK for a non-2xx reuses the INVITE's branch and the response's To.
        let ack = MessageBuilder::request(Method::Ack, &opts.target)
            .header("Via", &format!("{};branch={invite_branch};rport", dialog.via_base))
            .header("Max-Forwards", "70")
            .header("From", &dialog.from)
            .header("To", resp.headers.get("To").unwrap_or_default())
            .header("Call-ID", &dialog.call_id)
            .header("CSeq", &format!("{} ACK", resp.core.cseq))
            .build();
        chan.send(&ack).await?;
        summary.duration_ms = started.elapsed().as_millis() as u64;
        return Ok(summary);
    }
    dialog.to = resp.headers.get("To").unwrap_or_default().to_string();
    if let Some(c) = resp.headers.get("Contact") {
        dialog.target = uri_of(c).to_string();
    }
    dialog.routes = resp.headers.get_all("Record-Route").into_iter().rev().map(str::to_string).collect();
    let answer = std::str::from_utf8(&resp.body)
        .ok()
        .and_then(|t| sdp::parse(t).ok())
        .ok_or_else(|| CallError::BadAnswer("no SDP in 200 OK".into()))?;
    let neg = sdp::negotiate_from_answer(&answer, &media_local).map_err(|e| CallError::BadAnswer(e.to_string()))?;
    summary.codec = Some(neg.codec);
    let ack = build_ack(&mut dialog, resp.core.cseq);
    chan.send(&ack).await?;

    // Media and DTMF until one side hangs up.
    let mut sender = Sender::new(neg.codec, neg.payload_type, neg.telephone_event);
    let mut recorder = Recorder::default();
    let mut pkt = [0u8; MAX_PACKET];
    let mut rbuf = [0u8; 2048];
    let mut last_audio: Option<Instant> = None;
    let deadline = started + opts.max_duration;
    let mut bye: Option<(String, ClientNonInvite)> = None;
    let mut infos: Vec<(String, ClientNonInvite)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now();
                if let Some(k) = keys.due(sender.frame(), now, last_audio, opts.silence) {
                    summary.digits_sent += 1;
                    let ms = (k.frames * 20) as u32;
                    match opts.mode {
                        DtmfMode::Rfc4733 if sender.can_send_events() => sender.press(k.digit, ms, false),
                        DtmfMode::Rfc4733 | DtmfMode::Inband => sender.press(k.digit, ms, true),
                        DtmfMode::Info => {
                            let (b, branch) = dialog.request(Method::Info);
                            let body = format!("Signal={}\r\nDuration={}\r\n", k.digit, ms);
                            let bytes = b.body("application/dtmf-relay", body.into_bytes()).build();
                            chan.send(&bytes).await?;
                            infos.push((branch, ClientNonInvite::new(bytes, tcp, timers, now)));
                        }
                    }
                }
                if bye.is_none() && opts.send_audio {
                    if let Some(n) = sender.next_packet(&mut pkt) {
                        let _ = rtp.send_to(&pkt[..n], neg.remote_rtp).await;
                    }
                }
                let end_frame = keys.done().map(|f| f + opts.hangup_after.as_millis() as u64 / 20);
                let over = now >= deadline || (!opts.wait_for_bye && end_frame.is_some_and(|f| sender.frame() >= f));
                if over && bye.is_none() {
                    if opts.wait_for_bye {
                        summary.ended_by = EndedBy::Timeout;
                    } else {
                        summary.ended_by = EndedBy::Caller;
                    }
                    let (b, branch) = dialog.request(Method::Bye);
                    let bytes = b.build();
                    chan.send(&bytes).await?;
                    bye = Some((branch, ClientNonInvite::new(bytes, tcp, timers, now)));
                }
                for (_, tx) in infos.iter_mut().chain(bye.iter_mut()) {
                    tx.handle_timeout(now);
                    // The first transmission was sent above; only resends go out here.
                    while let Some(o) = tx.poll_output() {
                        if let ClientOutput::Retransmit(b) = o {
                            chan.send(&b).await?;
                        }
                    }
                }
                if let Some((_, tx)) = &bye {
                    if tx.is_terminated(now) {
                        break; // Timer F: no answer to our BYE
                    }
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                if let Ok((n, _)) = r {
                    last_audio = Some(Instant::now());
                    recorder.on_packet(&rbuf[..n], neg.codec, neg.payload_type);
                }
            }
            m = chan.recv() => match m? {
                SipMessage::Request(req) => {
                    if handle_request(&mut chan, &req).await? {
                        summary.ended_by = EndedBy::Server;
                        break;
                    }
                }
                SipMessage::Response(r) => {
                    let now = Instant::now();
                    if r.core.cseq_method == Method::Invite && r.status < 300 && r.status >= 200 {
                        chan.send(&ack).await?; // our ACK was lost: the 200 came again
                    } else if let Some((branch, tx)) = bye.as_mut() {
                        if *branch == r.core.branch {
                            tx.on_response(r.status, now);
                            let answered = std::iter::from_fn(|| tx.poll_output())
                                .find_map(|o| if let ClientOutput::Answered(s) = o { Some(s) } else { None });
                            if let Some(status) = answered {
                                summary.bye_status = status;
                                break;
                            }
                        }
                    }
                    for (branch, tx) in infos.iter_mut() {
                        if *branch == r.core.branch {
                            tx.on_response(r.status, now);
                        }
                    }
                }
            }
        }
    }
    summary.rtp_received = recorder.packets;
    summary.talkspurts = recorder.talkspurts;
    summary.rtp_sent = sender.packets;
    summary.heard_ms = recorder.duration_ms();
    summary.duration_ms = started.elapsed().as_millis() as u64;
    if let Some(path) = &opts.record {
        recorder.write_wav(path).map_err(|e| CallError::Record { path: path.clone(), reason: e.to_string() })?;
    }
    Ok(summary)
}

fn build_ack(dialog: &mut Dialog, invite_cseq: u32) -> Vec<u8> {
    // The ACK of a 2xx is its own transaction: new branch, the INVITE's CSeq number.
    let saved = dialog.cseq;
    dialog.cseq = invite_cseq - 1;
    let (b, _) = dialog.request(Method::Ack);
    dialog.cseq = saved;
    b.build()
}

/// Answers a request from the server; true when it was a BYE (the call is over).
async fn handle_request(chan: &mut Channel, req: &Request) -> std::io::Result<bool> {
    if req.method == Method::Ack {
        return Ok(false);
    }
    let status = if matches!(req.method, Method::Bye | Method::Options | Method::Info) { 200 } else { 405 };
    let b =
        req.reply(status, if status == 200 { "OK" } else { "Method Not Allowed" }, None).header("Allow", ALLOW).build();
    chan.send(&b).await?;
    Ok(req.method == Method::Bye)
}

/// Sends the INVITE and waits for its final response, retransmitting over UDP (Timer A)
/// and giving up after 64*T1 without any answer (Timer B). A provisional answer stops
/// both (RFC 3261 17.1.1.2: the callee may ring for long); then only `max_wait`, the
/// caller's limit on the whole call, bounds the wait.
async fn invite_transaction(
    chan: &mut Channel,
    invite: &[u8],
    branch: &str,
    tcp: bool,
    timers: Timers,
    remote: SocketAddr,
    max_wait: Duration,
) -> Result<Response, CallError> {
    let start = Instant::now();
    chan.send(invite).await?;
    let mut backoff = (!tcp).then(|| Backoff::start(start, timers.t1, Duration::from_secs(3600)));
    let mut give_up = start + timers.timeout_64t1();
    let mut proceeding = false;
    loop {
        let wake = backoff.map(|b| b.next()).unwrap_or(give_up).min(give_up);
        tokio::select! {
            m = chan.recv() => match m? {
                SipMessage::Response(r) if r.core.branch == branch && r.core.cseq_method == Method::Invite => {
                    if r.status >= 200 {
                        return Ok(r);
                    }
                    backoff = None; // a provisional answer stops Timer A...
                    if !proceeding {
                        proceeding = true;
                        give_up = start + max_wait; // ...and Timer B
                    }
                }
                SipMessage::Request(req) => {
                    handle_request(chan, &req).await?;
                }
                _ => {}
            },
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if now >= give_up {
                    return Err(if proceeding {
                        CallError::NoFinalAnswer(remote.to_string())
                    } else {
                        CallError::NoResponse(remote.to_string())
                    });
                }
                if let Some(b) = backoff.as_mut() {
                    if b.fire(now) {
                        chan.send(invite).await?;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A callee that rings for longer than 64*T1 before refusing: once it has rung,
    /// Timer B no longer applies, so the caller must get the final answer.
    #[tokio::test]
    async fn a_ringing_callee_is_waited_for_past_timer_b() {
        let uas = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let target = format!("sip:busy@{}", uas.local_addr().unwrap());
        let timers = Timers { t1: Duration::from_millis(5), ..Timers::default() };
        let callee = tokio::spawn(async move {
            let mut buf = vec![0u8; 65_535];
            let (n, from) = uas.recv_from(&mut buf).await.unwrap();
            let invite = match message::parse(&buf[..n], Framing::Datagram).unwrap() {
                SipMessage::Request(r) => r,
                other => panic!("{other:?}"),
            };
            uas.send_to(&invite.reply(180, "Ringing", Some("uas")).build(), from).await.unwrap();
            // Ring for five times 64*T1, then refuse.
            tokio::time::sleep(timers.timeout_64t1() * 5).await;
            uas.send_to(&invite.reply(486, "Busy Here", Some("uas")).build(), from).await.unwrap();
            loop {
                let (n, _) = uas.recv_from(&mut buf).await.unwrap();
                if let Ok(SipMessage::Request(r)) = message::parse(&buf[..n], Framing::Datagram) {
                    if r.method == Method::Ack {
                        return;
                    }
                }
            }
        });
        let opts = CallOptions { target, timers, max_duration: Duration::from_secs(20), ..CallOptions::default() };
        let summary = run(&opts).await.expect("the final answer arrives after the ringing");
        assert_eq!(summary.status, 486, "{summary}");
        tokio::time::timeout(Duration::from_secs(5), callee).await.expect("the 486 is acknowledged").unwrap();
    }
}
