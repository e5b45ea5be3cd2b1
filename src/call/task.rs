//! One tokio task per call: the thin driver around the sans-IO [`SipLeg`], the call's
//! application and its inbound media. It owns everything about the call; the
//! dispatcher, the pacer and the IO the application asks for reach it by messages.

use super::admission::CallPermit;
use super::answering::Service;
use super::core::CallOutput;
use super::env::CallEnv;
use super::media_io::CallMedia;
use super::record::Recorder;
use super::services::Origin;
use super::setup::{begin, Begun};
use crate::ivr::app::AppInput;
use crate::media::pacer::Command;
use crate::media::ports::PortPair;
use crate::sip::message::Request;
use crate::sip::sdp::SessionDescription;
use crate::sip::Flow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use super::core::CallInput;

/// Registers the call and starts its task.
pub fn spawn(
    env: Arc<CallEnv>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    pair: PortPair,
    service: Service,
    permit: CallPermit,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    env.calls.insert(&invite.core.call_id, tx.clone());
    tokio::spawn(async move {
        let call_id = invite.core.call_id.clone();
        let span = tracing::info_span!("call", call_id = %call_id);
        let run = run(env.clone(), invite, offer, flow, pair, service, tx, rx, permit);
        if let Err(e) = tracing::Instrument::instrument(run, span).await {
            tracing::warn!(%call_id, error = %e, "call task failed");
        }
        env.calls.remove(&call_id);
        env.live.remove(&call_id);
    });
}

/// The call's IO: its RTP sockets (until media starts, then in `media`), the socket the
/// pacer sends from, and its record until written.
struct Io {
    env: Arc<CallEnv>,
    tx: mpsc::UnboundedSender<CallInput>,
    call_id: String,
    caller: String,
    media: CallMedia,
    recorder: Option<Recorder>,
    /// The call's place among the calls in progress, given back when it ends.
    permit: Option<CallPermit>,
}

#[allow(clippy::too_many_arguments)]
async fn run(
    env: Arc<CallEnv>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    pair: PortPair,
    service: Service,
    tx: mpsc::UnboundedSender<CallInput>,
    mut rx: mpsc::UnboundedReceiver<CallInput>,
    permit: CallPermit,
) -> std::io::Result<()> {
    let Begun { mut call, call_id, caller, recorder } = begin(&env, invite, offer, flow, &pair, service);
    let mut io =
        Io { media: CallMedia::bind(pair)?, env, tx, call_id, caller, recorder: Some(recorder), permit: Some(permit) };
    let (mut buf, mut rtcp_buf) = ([0u8; 2048], [0u8; 1500]);
    loop {
        while let Some(out) = call.poll_output() {
            if io.execute(out) {
                return Ok(());
            }
        }
        let wake = call.poll_timeout().map(tokio::time::Instant::from_std);
        let sleep =
            tokio::time::sleep_until(wake.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600)));
        tokio::select! {
            input = rx.recv() => match input {
                Some(input) => call.handle_input(input, Instant::now()),
                None => return Ok(()),
            },
            r = io.media.recv(&mut buf) => {
                if let Ok((n, from)) = r {
                    call.handle_rtp(&buf[..n], from, Instant::now());
                }
            },
            _ = io.media.recv_rtcp(&mut rtcp_buf) => {},
            _ = sleep => call.handle_timeout(Instant::now()),
        }
    }
}

impl Io {
    /// Does what the core asks; true once the call is finished.
    fn execute(&mut self, out: CallOutput) -> bool {
        let env = &self.env;
        let stream = self.media.stream();
        match out {
            CallOutput::Send(f, bytes) => env.outbound.send(f, bytes),
            CallOutput::StartMedia(neg) => self.media.start(env, &self.tx, &neg),
            CallOutput::SetSending(on) => stream.into_iter().for_each(|id| env.pacer.send(Command::SetSending(id, on))),
            CallOutput::SetDest(addr) => stream.into_iter().for_each(|id| env.pacer.send(Command::SetDest(id, addr))),
            CallOutput::Play(prompts, token) => {
                if let Some(id) = stream {
                    env.pacer.send(Command::Play(id, prompts.iter().map(|p| p.clip().clone()).collect(), token));
                }
            }
            CallOutput::Requeue(token) => {
                let _ = self.tx.send(CallInput::PlaybackDone(token));
            }
            CallOutput::StopPlayback => stream.into_iter().for_each(|id| env.pacer.send(Command::Stop(id))),
            CallOutput::Ended(_) => {
                self.permit = None;
                // The leg may linger for its transactions: free the RTP ports now.
                self.media.close(env);
            }
            CallOutput::DigitReceived => {
                env.digits_received.fetch_add(1, Ordering::Relaxed);
            }
            CallOutput::LookupInvoice(code) => {
                let (answer, tx) = (env.services.lookup(code), self.tx.clone());
                tokio::spawn(async move { tx.send(CallInput::App(AppInput::Invoice(answer.await))) });
            }
            CallOutput::Authorize(order) => {
                let origin = Origin { call_id: self.call_id.clone(), caller: self.caller.clone() };
                let (answer, tx) = (env.services.authorize(order, origin), self.tx.clone());
                tokio::spawn(async move { tx.send(CallInput::App(AppInput::Authorized(answer.await))) });
            }
            CallOutput::LiveStep(step) => env.live.set_step(&self.call_id, &step),
            CallOutput::Record(r) => {
                if let Some(rec) = self.recorder.take() {
                    rec.finish(r.answered_at, r.end_reason.as_str(), r.outcome, r.report);
                }
                // Ended for the caller and recorded: no longer "in progress" for the
                // operator, although the SIP leg may linger for its transaction timers.
                env.live.remove(&self.call_id);
            }
            CallOutput::Finished(_) => return true,
        }
        false
    }
}
