//! The caller's IO around the sans-IO caller leg (`ivrpay_proto::call::caller_leg`):
//! the SIP socket (UDP or TCP), the RTP socket and the 20 ms media loop. The leg owns
//! the SIP side (INVITE and its Timers A/B, the ACK, INFO, BYE, the server's requests);
//! this file sends what it says, feeds it what arrives and wakes it when it asks.

use super::media::{KeyPlan, Recorder, Sender};
use super::{CallError, CallOptions, CallSummary, DtmfMode, EndedBy};
use crate::media::rtp::MAX_PACKET;
use crate::sip::framing::StreamFramer;
use crate::sip::headers;
use crate::sip::message::{self, SipMessage};
use crate::sip::normalise::Framing;
use crate::sip::sdp::{LocalMedia, Negotiated};
use crate::sip::Transport;
use ivrpay_proto::call::caller_leg::{CallerConfig, CallerEnd, CallerLeg, CallerOutput};
use rand::rngs::StdRng;
use rand::SeedableRng;
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

/// Our side of the call as the caller leg sees it, from the sockets' addresses.
fn leg_config(opts: &CallOptions, local: SocketAddr, media: LocalMedia) -> CallerConfig {
    let tcp = opts.transport == Transport::Tcp;
    CallerConfig {
        target: opts.target.clone(),
        from_uri: format!("sip:{}@{}", opts.from_user, local.ip()),
        via: format!("SIP/2.0/{} {local}", opts.transport.via_token()),
        contact: format!("<sip:{}@{local}{}>", opts.from_user, if tcp { ";transport=tcp" } else { "" }),
        media,
        reliable: tcp,
        timers: opts.timers,
        call_id: opts.call_id.clone(),
    }
}

/// Like [`run`], owning its options so it can be spawned.
pub async fn run_owned(opts: CallOptions) -> Result<CallSummary, CallError> {
    run(&opts).await
}

/// Media of an answered call: what we send, and where.
struct Media {
    sender: Sender,
    neg: Negotiated,
}

/// The IO around the sans-IO caller leg: sockets, the 20 ms media clock, the keys.
struct Driver<'a> {
    opts: &'a CallOptions,
    chan: Channel,
    rtp: UdpSocket,
    leg: CallerLeg,
    keys: KeyPlan,
    recorder: Recorder,
    media: Option<Media>,
    last_audio: Option<Instant>,
    proceeding: bool,
    hanging_up: bool,
    started: Instant,
    remote: SocketAddr,
    summary: CallSummary,
}

/// Places the call described by `opts` and returns its summary.
pub async fn run(opts: &CallOptions) -> Result<CallSummary, CallError> {
    let started = Instant::now();
    let remote = resolve(&opts.target).ok_or_else(|| CallError::BadTarget(opts.target.clone()))?;
    let keys = KeyPlan::new(
        &opts.dtmf,
        opts.wait.as_millis() as u64,
        opts.digit.as_millis() as u64,
        opts.gap.as_millis() as u64,
    )
    .map_err(CallError::BadDigit)?;
    let chan = Channel::open(opts.transport, remote).await?;
    let local = chan.local_addr()?;
    let rtp = UdpSocket::bind(SocketAddr::new(local.ip(), 0)).await?;
    let media_local = LocalMedia {
        address: local.ip(),
        port: rtp.local_addr()?.port(),
        codecs: vec![crate::media::codec::Codec::Pcmu, crate::media::codec::Codec::Pcma],
        session_id: rand::random::<u32>() as u64,
        session_version: 1,
    };
    let mut rng = StdRng::seed_from_u64(rand::random());
    let leg = CallerLeg::new(leg_config(opts, local, media_local), &mut rng, started)
        .map_err(|e| CallError::BadAnswer(e.to_string()))?;
    let summary = CallSummary {
        call_id: leg.call_id().to_string(),
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
    let mut d = Driver {
        opts,
        chan,
        rtp,
        leg,
        keys,
        recorder: Recorder::default(),
        media: None,
        last_audio: None,
        proceeding: false,
        hanging_up: false,
        started,
        remote,
        summary,
    };
    d.run().await?;
    d.finish()
}

impl Driver<'_> {
    /// Carries out the leg's outputs and wakes it (timers, messages, the media tick)
    /// until the call is over.
    async fn run(&mut self) -> Result<(), CallError> {
        let mut pkt = [0u8; MAX_PACKET];
        let mut rbuf = [0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let deadline = self.started + self.opts.max_duration;
        loop {
            if self.flush().await? {
                return Ok(());
            }
            let answered = self.media.is_some();
            // Before the answer, the caller's own limit bounds the wait once it rang.
            let wake = self.leg.poll_timeout().into_iter().chain((!answered).then_some(deadline)).min();
            let wake = wake.unwrap_or(deadline + Duration::from_secs(3600));
            tokio::select! {
                _ = tick.tick(), if answered => self.media_tick(&mut pkt, deadline).await,
                _ = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if !answered && now >= deadline {
                        return Err(if self.proceeding {
                            CallError::NoFinalAnswer(self.remote.to_string())
                        } else {
                            CallError::NoResponse(self.remote.to_string())
                        });
                    }
                    self.leg.handle_timeout(now);
                }
                r = self.rtp.recv_from(&mut rbuf), if answered => {
                    if let (Ok((n, _)), Some(m)) = (r, self.media.as_ref()) {
                        self.last_audio = Some(Instant::now());
                        self.recorder.on_packet(&rbuf[..n], m.neg.codec, m.neg.payload_type);
                    }
                }
                m = self.chan.recv() => self.leg.handle_message(m?, Instant::now()),
            }
        }
    }

    /// Sends what the leg queued and acts on what it reports; true once the call ended.
    async fn flush(&mut self) -> Result<bool, CallError> {
        while let Some(o) = self.leg.poll_output() {
            match o {
                CallerOutput::Transmit(b) => self.chan.send(&b).await?,
                CallerOutput::Provisional(_) => self.proceeding = true,
                CallerOutput::Answered(status, neg) => {
                    self.summary.status = status;
                    self.summary.codec = Some(neg.codec);
                    let sender = Sender::new(neg.codec, neg.payload_type, neg.telephone_event);
                    self.media = Some(Media { sender, neg });
                }
                CallerOutput::MediaUpdate(neg) => {
                    if let Some(m) = self.media.as_mut() {
                        m.neg.remote_rtp = neg.remote_rtp;
                    }
                }
                CallerOutput::ReInviteRefused(_) => {}
                CallerOutput::Ended(end) => return self.ended(end).await,
            }
        }
        Ok(false)
    }

    /// The leg's end: the summary says who ended the call; an unusable answer is an
    /// error (its BYE already left, sent by the leg).
    async fn ended(&mut self, end: CallerEnd) -> Result<bool, CallError> {
        while let Some(o) = self.leg.poll_output() {
            if let CallerOutput::Transmit(b) = o {
                self.chan.send(&b).await?;
            }
        }
        match end {
            CallerEnd::Rejected(status) => self.summary.status = status,
            CallerEnd::NoResponse => return Err(CallError::NoResponse(self.remote.to_string())),
            CallerEnd::BadAnswer(reason) => return Err(CallError::BadAnswer(reason)),
            CallerEnd::RemoteBye => self.summary.ended_by = EndedBy::Server,
            CallerEnd::Hangup(status) => self.summary.bye_status = status.unwrap_or(0),
        }
        Ok(true)
    }

    /// One 20 ms frame: the key due, the audio packet, and the hang-up when it is time.
    async fn media_tick(&mut self, pkt: &mut [u8; MAX_PACKET], deadline: Instant) {
        let now = Instant::now();
        let opts = self.opts;
        let Some(m) = self.media.as_mut() else { return };
        if let Some(k) = self.keys.due(m.sender.frame(), now, self.last_audio, opts.silence) {
            self.summary.digits_sent += 1;
            let ms = (k.frames * 20) as u32;
            match opts.mode {
                DtmfMode::Rfc4733 if m.sender.can_send_events() => m.sender.press(k.digit, ms, false),
                DtmfMode::Rfc4733 | DtmfMode::Inband => m.sender.press(k.digit, ms, true),
                DtmfMode::Info => self.leg.send_info_digit(k.digit, ms, now),
            }
        }
        if !self.hanging_up && opts.send_audio {
            if let Some(n) = m.sender.next_packet(pkt) {
                let _ = self.rtp.send_to(&pkt[..n], m.neg.remote_rtp).await;
            }
        }
        let end_frame = self.keys.done().map(|f| f + opts.hangup_after.as_millis() as u64 / 20);
        let frame = m.sender.frame();
        let over = now >= deadline || (!opts.wait_for_bye && end_frame.is_some_and(|f| frame >= f));
        if over && !self.hanging_up {
            self.hanging_up = true;
            self.summary.ended_by = if opts.wait_for_bye { EndedBy::Timeout } else { EndedBy::Caller };
            self.leg.hang_up(now);
        }
    }

    /// The summary, once the call is over (and the recording written).
    fn finish(mut self) -> Result<CallSummary, CallError> {
        if let Some(m) = &self.media {
            self.summary.rtp_sent = m.sender.packets;
        }
        self.summary.rtp_received = self.recorder.packets;
        self.summary.talkspurts = self.recorder.talkspurts;
        self.summary.heard_ms = self.recorder.duration_ms();
        self.summary.duration_ms = self.started.elapsed().as_millis() as u64;
        if let Some(path) = &self.opts.record {
            let write = self.recorder.write_wav(path);
            write.map_err(|e| CallError::Record { path: path.clone(), reason: e.to_string() })?;
        }
        Ok(self.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;
    use crate::sip::transaction::Timers;

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
