//! What a call begins with, before its task's loop: the caller and the number dialled,
//! read from the INVITE; the call record started and the live view told; the
//! application for the number; and the sans-IO [`Call`] built around a new SIP leg.
//! The reads of the world the core is given (the clock, today's date, randomness for
//! tags and branches) happen here, once, so the core itself reads none.

use super::answering::Service;
use super::core::{Call, WallEpoch};
use super::env::CallEnv;
use super::leg::SipLeg;
use super::live::LiveCall;
use super::record::{Parties, Recorder};
use super::record_writer::RecordSlots;
use crate::media::ports::PortPair;
use crate::sip::message::Request;
use crate::sip::sdp::SessionDescription;
use crate::sip::Flow;
use std::time::Instant;

/// A call set up and ready to drive.
pub(super) struct Begun {
    /// Its sans-IO core.
    pub call: Call,
    /// Its Call-ID, the key of the registry, the live view and the record.
    pub call_id: String,
    /// The calling number (the From URI's user part), for the record and payments.
    pub caller: String,
    /// 128 random bits naming this call's payments (their idempotency keys).
    pub payment_key: String,
    /// Its record, written when the core says the call is over.
    pub recorder: Recorder,
}

/// Sets a new call up for the driver.
pub(super) fn begin(
    env: &CallEnv,
    invite: Request,
    offer: Option<SessionDescription>,
    flow: Flow,
    pair: &PortPair,
    service: Service,
    slots: RecordSlots,
) -> Begun {
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
    let started_at = env.records.now_ms();
    let parties = Parties { call_id: &call_id, caller: &caller, service: &number };
    let recorder = Recorder::start(&env.records, slots, parties, started_at);
    env.live.insert(LiveCall {
        call_id: call_id.clone(),
        caller: caller.clone(),
        service: number,
        started_at,
        step: String::new(),
    });
    let app = service.app(env.prompts.current(), chrono::Utc::now().date_naive());
    let now = Instant::now();
    let settings = &env.settings;
    let party = settings.local_party(&flow, pair, rand::random::<u32>() as u64);
    let leg = SipLeg::new(invite, offer, flow, party, settings.limits, &mut rand::thread_rng(), now);
    let epoch = WallEpoch { at: now, utc_ms: started_at };
    let call = Call::new(leg, app, settings.inband_dtmf, epoch, now);
    let payment_key = format!("{:032x}", rand::random::<u128>());
    Begun { call, call_id, caller, payment_key, recorder }
}
