//! One tokio task per call: the thin driver around the sans-IO [`SipLeg`], the call's
//! application and its inbound media. It owns everything about the call; the
//! dispatcher, the pacer and the IO the application asks for reach it by messages.

use super::actions::{self, Origin};
use super::leg::{EndReason, LegOutput, Limits, LocalParty, SipLeg};
use super::live::LiveCall;
use super::record::Recorder;
use crate::ivr::app::{AppAction, AppInput, CallApp};
use crate::ivr::dialplan::Dialplan;
use crate::ivr::echo::EchoApp;
use crate::ivr::engine::Engine;
use crate::media::inbound::InboundMedia;
use crate::media::pacer::{Command, StreamSpec};
use crate::media::ports::PortPair;
use crate::server::ServerCtx;
use crate::sip::advertise::advertised_ip;
use crate::sip::message::{Request, SipMessage};
use crate::sip::sdp::{Direction, LocalMedia, Negotiated, SessionDescription};
use crate::sip::Flow;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Messages a call task receives.
pub enum CallInput {
    /// A SIP message with this call's Call-ID.
    Sip(Box<SipMessage>, Flow),
    /// The pacer finished a Play.
    PlaybackDone(u64),
    /// The answer to IO the application asked for (lookup, authorization).
    App(AppInput),
    /// The server is shutting down: hang up.
    Shutdown,
}

impl fmt::Debug for CallInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallInput::Sip(..) => f.write_str("Sip(..)"),
            CallInput::PlaybackDone(t) => write!(f, "PlaybackDone({t})"),
            CallInput::App(_) => f.write_str("App(..)"),
            CallInput::Shutdown => f.write_str("Shutdown"),
        }
    }
}

/// What answers a call, decided at admission from the Request-URI user.
#[derive(Clone, Debug)]
pub enum Service {
    /// The line test: greeting, then digits read back.
    Echo,
    /// The line test with the greeting repeated while idle.
    EchoLoop,
    /// A dialplan (the version in force when the call arrived, kept to its end).
    Flow(Arc<Dialplan>),
}

static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

/// Registers the call and starts its task.
pub fn spawn(
    ctx: Arc<ServerCtx>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    pair: PortPair,
    service: Service,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    ctx.calls.lock().unwrap_or_else(|e| e.into_inner()).insert(invite.core.call_id.clone(), tx.clone());
    let slot = ActiveSlot::take(ctx.clone(), |c: &Arc<ServerCtx>| &c.active);
    tokio::spawn(async move {
        let call_id = invite.core.call_id.clone();
        let span = tracing::info_span!("call", call_id = %call_id);
        let run = run(ctx.clone(), invite, offer, flow, pair, service, tx, rx, slot);
        if let Err(e) = tracing::Instrument::instrument(run, span).await {
            tracing::warn!(%call_id, error = %e, "call task failed");
        }
        ctx.calls.lock().unwrap_or_else(|e| e.into_inner()).remove(&call_id);
        ctx.live.remove(&call_id);
    });
}

/// One call's place in the server's count of calls in progress (which admission
/// compares with `max_calls`). Given back exactly once: when the call ends for the
/// caller, or when the task stops for any other reason (an error returned early, a
/// panic), so a failed call can never leave the server refusing calls with 503.
struct ActiveSlot<O> {
    owner: O,
    counter: fn(&O) -> &AtomicUsize,
    held: bool,
}

impl<O> ActiveSlot<O> {
    fn take(owner: O, counter: fn(&O) -> &AtomicUsize) -> Self {
        counter(&owner).fetch_add(1, Ordering::Relaxed);
        ActiveSlot { owner, counter, held: true }
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            (self.counter)(&self.owner).fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<O> Drop for ActiveSlot<O> {
    fn drop(&mut self) {
        self.release();
    }
}

struct Media {
    id: u64,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    inbound: InboundMedia,
}

/// A call's end, kept until any authorization in flight has answered.
struct Ending {
    reason: EndReason,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    ctx: Arc<ServerCtx>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    pair: PortPair,
    service: Service,
    tx: mpsc::UnboundedSender<CallInput>,
    mut rx: mpsc::UnboundedReceiver<CallInput>,
    mut slot: ActiveSlot<Arc<ServerCtx>>,
) -> std::io::Result<()> {
    let cfg = &ctx.config;
    // Everything this call advertises (Contact, our requests' Via, SDP o= and c=) is an
    // address the caller can reach, even when listening on all interfaces.
    let ip = advertised_ip(ctx.public_ip, flow.local, flow.remote);
    let sip_addr = std::net::SocketAddr::new(ip, ctx.sip_addr.port());
    let local = LocalParty {
        via: format!("SIP/2.0/{} {}", flow.transport.via_token(), sip_addr),
        contact: format!(
            "<sip:ivrpay@{}{}>",
            sip_addr,
            if flow.transport.is_reliable() { ";transport=tcp" } else { "" }
        ),
        server: ctx.server_header.clone(),
        media: LocalMedia {
            address: ip,
            port: pair.port(),
            codecs: vec![crate::media::codec::Codec::Pcma, crate::media::codec::Codec::Pcmu],
            session_id: rand::random::<u32>() as u64,
            session_version: 1,
        },
    };
    let limits = Limits {
        media_inactivity: ctx.config.inactivity(),
        max_duration: Duration::from_secs(cfg.media.max_call_duration_s),
        answer_delay: Duration::from_millis(cfg.sip.answer_delay_ms),
        timers: ctx.timers,
    };
    let caller = invite
        .headers
        .get("From")
        .map(crate::sip::headers::uri_of)
        .and_then(crate::sip::headers::uri_user)
        .unwrap_or("")
        .to_string();
    let number = invite.uri_user.clone().unwrap_or_default();
    let call_id = invite.core.call_id.clone();
    tracing::info!(%caller, service = %number, peer = %flow.remote, transport = ?flow.transport, "incoming call");
    let recorder = Recorder::start(&ctx.store, &call_id, &caller, &number);
    ctx.live.insert(LiveCall {
        call_id: call_id.clone(),
        caller: caller.clone(),
        service: number.clone(),
        started_at: crate::store::now_ms(),
        step: String::new(),
    });
    let prompts = ctx.prompts.current();
    let lang = prompts.default_language().to_string();
    let mut app: Box<dyn CallApp> = match service {
        Service::EchoLoop => Box::new(EchoApp::looping(prompts, &lang)),
        Service::Echo => Box::new(EchoApp::new(prompts, &lang)),
        Service::Flow(plan) => Box::new(Engine::new(plan, prompts, chrono::Utc::now().date_naive())),
    };
    let mut leg = SipLeg::new(invite, offer, flow, local, limits, Instant::now());
    let mut pacer_sink: Option<Arc<std::net::UdpSocket>> = Some(Arc::new(pair.rtp.try_clone()?));
    let rtp_rx = UdpSocket::from_std(pair.rtp)?;
    let rtcp_rx = UdpSocket::from_std(pair.rtcp)?;
    let mut sockets = Some((rtp_rx, rtcp_rx));
    let mut media: Option<Media> = None;
    let mut ending: Option<Ending> = None;
    let mut recorder = Some(recorder);
    let mut answered_at = None;
    let mut authorizations_in_flight = 0u32;
    let mut digits = 0u32;
    let mut actions = Vec::new();
    let mut buf = [0u8; 2048];
    let mut rtcp_buf = [0u8; 1500];
    loop {
        let now = Instant::now();
        // Leg outputs feed the application and its actions may hang up the leg: settle
        // both before waiting again.
        loop {
            while let Some(out) = leg.poll_output() {
                match out {
                    LegOutput::Send(f, bytes) => ctx.outbound.send(f, bytes),
                    LegOutput::MediaStart(neg) => {
                        if let (Some((rtp, rtcp)), Some(sink)) = (sockets.take(), pacer_sink.as_ref()) {
                            answered_at = Some(crate::store::now_ms());
                            media = Some(start_media(&ctx, &tx, sink, rtp, rtcp, &neg));
                            feed_app(app.as_mut(), AppInput::Started, now, &mut actions);
                        }
                    }
                    LegOutput::MediaUpdate(neg) => {
                        if let Some(m) = media.as_mut() {
                            m.inbound.update(neg.codec, neg.payload_type, neg.telephone_event, neg.remote_rtp);
                            ctx.pacer.send(Command::SetDest(m.id, neg.remote_rtp));
                            set_sending(&ctx, m.id, &neg);
                            tracing::debug!(direction = ?neg.direction, remote = %neg.remote_rtp, "media updated by re-INVITE");
                        }
                    }
                    LegOutput::Digit(d) => {
                        ctx.digits_received.fetch_add(1, Ordering::Relaxed);
                        digits += 1;
                        feed_app(app.as_mut(), AppInput::Digit(d), now, &mut actions);
                    }
                    LegOutput::Ended(reason) => {
                        ending = Some(Ending { reason });
                        slot.release();
                        if let Some(m) = media.take() {
                            ctx.pacer.send(Command::Remove(m.id));
                        }
                        // The leg may linger for its transactions: free the RTP ports now.
                        sockets = None;
                        pacer_sink = None;
                        // A count only: digit values are never logged.
                        tracing::info!(reason = reason.as_str(), digits, "call ended");
                    }
                }
            }
            for action in actions.drain(..) {
                match action {
                    AppAction::Play { prompts, token } => match media.as_ref() {
                        Some(m) => ctx.pacer.send(Command::Play(m.id, prompts, token)),
                        None => {
                            let _ = tx.send(CallInput::PlaybackDone(token));
                        }
                    },
                    AppAction::StopPlayback => {
                        if let Some(m) = media.as_ref() {
                            ctx.pacer.send(Command::Stop(m.id));
                        }
                    }
                    AppAction::Hangup => leg.hangup(EndReason::LocalHangup, now),
                    AppAction::LookupInvoice { code } => actions::lookup(ctx.clone(), code, tx.clone()),
                    AppAction::Authorize(order) => {
                        authorizations_in_flight += 1;
                        let origin = Origin { call_id: call_id.clone(), caller: caller.clone() };
                        actions::authorize(ctx.clone(), order, origin, tx.clone());
                    }
                }
            }
            if actions.is_empty() && !leg.has_output() {
                break;
            }
        }
        ctx.live.set_step(&call_id, app.current_step());
        if let Some(end) = ending.as_ref().filter(|_| authorizations_in_flight == 0) {
            if let Some(r) = recorder.take() {
                r.finish(answered_at, end.reason.as_str(), app.outcome(), app.report());
                // Ended for the caller and recorded: no longer "in progress" for the
                // operator, although the SIP leg may linger for its transaction timers.
                ctx.live.remove(&call_id);
            }
            if leg.is_finished(now) {
                return Ok(());
            }
        }
        let wake = [leg.poll_timeout(), app.poll_timeout()].into_iter().flatten().min();
        let sleep = tokio::time::sleep_until(
            wake.map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)),
        );
        tokio::select! {
            input = rx.recv() => match input {
                Some(CallInput::Sip(m, f)) => match *m {
                    SipMessage::Request(r) => leg.on_request(r, f, Instant::now()),
                    SipMessage::Response(r) => leg.on_response(r, Instant::now()),
                },
                Some(CallInput::PlaybackDone(t)) => feed_app(app.as_mut(), AppInput::PlaybackDone(t), Instant::now(), &mut actions),
                Some(CallInput::App(input)) => {
                    if matches!(input, AppInput::Authorized(_)) {
                        authorizations_in_flight = authorizations_in_flight.saturating_sub(1);
                    }
                    feed_app(app.as_mut(), input, Instant::now(), &mut actions);
                }
                Some(CallInput::Shutdown) => leg.hangup(EndReason::Shutdown, Instant::now()),
                None => return Ok(()),
            },
            r = recv(&media, &mut buf) => {
                if let (Ok((n, from)), Some(m)) = (r, media.as_mut()) {
                    let res = m.inbound.on_packet(&buf[..n], from);
                    let now = Instant::now();
                    if res.valid {
                        leg.media_activity(now);
                    }
                    if let Some(addr) = res.latch {
                        tracing::debug!(%addr, "latched RTP to the caller's real address");
                        ctx.pacer.send(Command::SetDest(m.id, addr));
                    }
                    for d in res.digits {
                        ctx.digits_received.fetch_add(1, Ordering::Relaxed);
                        digits += 1;
                        feed_app(app.as_mut(), AppInput::Digit(d), now, &mut actions);
                    }
                }
            },
            _ = recv_rtcp(&media, &mut rtcp_buf) => {},
            _ = sleep => {
                let now = Instant::now();
                leg.handle_timeout(now);
                if app.poll_timeout().is_some_and(|t| now >= t) {
                    feed_app(app.as_mut(), AppInput::Timeout, now, &mut actions);
                }
            }
        }
    }
}

/// Hands an input to the application and collects the actions it decided.
fn feed_app(app: &mut dyn CallApp, input: AppInput, now: Instant, actions: &mut Vec<AppAction>) {
    app.handle(input, now);
    actions.extend(std::iter::from_fn(|| app.poll_action()));
}

fn start_media(
    ctx: &Arc<ServerCtx>,
    tx: &mpsc::UnboundedSender<CallInput>,
    sink: &Arc<std::net::UdpSocket>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    neg: &Negotiated,
) -> Media {
    let id = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
    let notify_tx = tx.clone();
    ctx.pacer.send(Command::Add(
        id,
        StreamSpec {
            sink: sink.clone(),
            dest: neg.remote_rtp,
            codec: neg.codec,
            payload_type: neg.payload_type,
            notify: Box::new(move |t| {
                let _ = notify_tx.send(CallInput::PlaybackDone(t));
            }),
        },
    ));
    set_sending(ctx, id, neg);
    let inbound = InboundMedia::new(
        neg.codec,
        neg.payload_type,
        neg.telephone_event,
        neg.remote_rtp,
        ctx.config.media.inband_dtmf,
    );
    tracing::debug!(codec = ?neg.codec, remote = %neg.remote_rtp, "media started");
    Media { id, rtp, rtcp, inbound }
}

fn set_sending(ctx: &ServerCtx, id: u64, neg: &Negotiated) {
    let send = matches!(neg.direction, Direction::SendRecv | Direction::SendOnly) && !neg.hold;
    ctx.pacer.send(Command::SetSending(id, send));
}

async fn recv(media: &Option<Media>, buf: &mut [u8]) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match media {
        Some(m) => m.rtp.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

async fn recv_rtcp(media: &Option<Media>, buf: &mut [u8]) -> std::io::Result<(usize, std::net::SocketAddr)> {
    match media {
        Some(m) => m.rtcp.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::ActiveSlot;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn count(a: &Arc<AtomicUsize>) -> usize {
        a.load(Ordering::Relaxed)
    }

    /// Stands for a call task that fails before its call ends (the `?` on a socket).
    fn failing_call(slot: ActiveSlot<Arc<AtomicUsize>>) -> std::io::Result<()> {
        let _slot = slot;
        Err(std::io::Error::other("socket gone"))?;
        unreachable!()
    }

    #[test]
    fn a_call_that_fails_early_gives_its_place_back() {
        let active = Arc::new(AtomicUsize::new(0));
        let slot = ActiveSlot::take(active.clone(), |a| a);
        assert_eq!(count(&active), 1);
        assert!(failing_call(slot).is_err());
        assert_eq!(count(&active), 0, "no place leaked by the early return");
    }

    #[test]
    fn a_place_is_given_back_once_when_the_call_ends_then_the_task_stops() {
        let active = Arc::new(AtomicUsize::new(0));
        let other = ActiveSlot::take(active.clone(), |a| a);
        let mut slot = ActiveSlot::take(active.clone(), |a| a);
        slot.release();
        assert_eq!(count(&active), 1);
        slot.release();
        drop(slot);
        assert_eq!(count(&active), 1, "ended then dropped counts once");
        drop(other);
        assert_eq!(count(&active), 0);
    }
}
