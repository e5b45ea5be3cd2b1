//! One tokio task per call: the thin driver of the sans-IO call core (its leg, its
//! application and its inbound media). It waits on the call's channel, its RTP and
//! RTCP sockets and the core's timer, feeds what comes, and hands each output to
//! `call::execute`. The dispatcher, the pacer and the answers of lookups and
//! authorizations reach it by messages.

use super::admission::CallPermit;
use super::answering::Service;
use super::env::CallEnv;
use super::execute::Io;
use super::media_io::CallMedia;
use super::record_writer::RecordSlots;
use super::registry::{CallHandle, CallRegistry};
use super::setup::{begin, Begun};
use crate::media::ports::PortPair;
use crate::sip::message::Request;
use crate::sip::sdp::SessionDescription;
use crate::sip::Flow;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub use super::core::CallInput;

/// What an admitted call holds for its life: its place among the calls in progress,
/// its RTP ports and the room for its two records.
#[derive(Debug)]
pub struct Place {
    /// Its place (and its source's count).
    pub permit: CallPermit,
    /// Its RTP and RTCP sockets, bound.
    pub ports: PortPair,
    /// Room in the records' queue for its start and end.
    pub records: RecordSlots,
}

/// The call's two ways in: the bounded queue the dispatcher fills from the network,
/// and its own unbounded one (answers of its lookups, the pacer's events, shutdown).
struct Inbox {
    own_tx: mpsc::UnboundedSender<CallInput>,
    own: mpsc::UnboundedReceiver<CallInput>,
    net: mpsc::Receiver<CallInput>,
}

/// Registers the call and starts its task.
pub fn spawn(
    env: Arc<CallEnv>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    service: Service,
    place: Place,
) {
    let (own_tx, own) = mpsc::unbounded_channel();
    let (net_tx, net) = CallRegistry::net_queue();
    env.calls.insert(&invite.core.call_id, CallHandle { net: net_tx, own: own_tx.clone() });
    tokio::spawn(async move {
        let call_id = invite.core.call_id.clone();
        let span = tracing::info_span!("call", call_id = %call_id);
        let run = run(env.clone(), invite, offer, flow, service, Inbox { own_tx, own, net }, place);
        if let Err(e) = tracing::Instrument::instrument(run, span).await {
            tracing::warn!(%call_id, error = %e, "call task failed");
        }
        env.calls.remove(&call_id);
        env.live.remove(&call_id);
    });
}

async fn run(
    env: Arc<CallEnv>,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    service: Service,
    inbox: Inbox,
    place: Place,
) -> std::io::Result<()> {
    let Place { permit, ports, records } = place;
    let Begun { mut call, call_id, caller, payment_key, recorder } =
        begin(&env, invite, offer, flow, &ports, service, records);
    let media = CallMedia::bind(ports)?;
    let (recorder, permit) = (Some(recorder), Some(permit));
    let Inbox { own_tx: tx, mut own, mut net } = inbox;
    let mut io = Io { media, env, tx, call_id, caller, payment_key, recorder, permit, linger: None, ended: false };
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
            input = own.recv() => match input {
                Some(input) => call.handle_input(input, Instant::now()),
                None => return Ok(()),
            },
            Some(input) = net.recv() => call.handle_input(input, Instant::now()),
            r = io.media.recv(&mut buf) => {
                if let Ok((n, from)) = r {
                    call.handle_rtp(&buf[..n], from, Instant::now());
                    // An RFC 4733 event (or in-band audio) is a key typed: not kept.
                    zeroize::Zeroize::zeroize(&mut buf[..n]);
                }
            },
            _ = io.media.recv_rtcp(&mut rtcp_buf) => {},
            _ = sleep => call.handle_timeout(Instant::now()),
        }
    }
}
