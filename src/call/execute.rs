//! Executing what a call's core asks (its [`CallOutput`]s) in the world: SIP sent,
//! media started on the pacer, playback commands, lookups and authorizations run as
//! tasks whose answers come back as inputs, the live view and the record told, the
//! call's permit and RTP ports given back when it ends. The loop that feeds the core is
//! `call::task`; nothing here decides anything.

use super::admission::CallPermit;
use super::core::{CallInput, CallOutput};
use super::env::CallEnv;
use super::media_io::CallMedia;
use super::record::Recorder;
use super::services::Origin;
use crate::ivr::app::AppInput;
use crate::media::pacer::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// The call's IO: its RTP sockets (until media starts, then in `media`), the socket the
/// pacer sends from, and its record until written.
pub(super) struct Io {
    pub(super) env: Arc<CallEnv>,
    pub(super) tx: mpsc::UnboundedSender<CallInput>,
    pub(super) call_id: String,
    pub(super) caller: String,
    /// The call's random payment key (see [`Origin::payment_key`]).
    pub(super) payment_key: String,
    pub(super) media: CallMedia,
    pub(super) recorder: Option<Recorder>,
    /// The call's place among the calls in progress, given back when it ends.
    pub(super) permit: Option<CallPermit>,
    /// Its place among the legs lingering after their calls (for their transactions'
    /// timers), taken when the call ends; None: not lingering (yet, or no place left).
    pub(super) linger: Option<OwnedSemaphorePermit>,
    /// The call has ended for the caller.
    pub(super) ended: bool,
}

impl Io {
    /// Does what the core asks; true once the call is finished.
    pub(super) fn execute(&mut self, out: CallOutput) -> bool {
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
                self.ended = true;
                self.linger = env.lingering.clone().try_acquire_owned().ok();
            }
            CallOutput::DigitReceived => {
                env.digits_received.fetch_add(1, Ordering::Relaxed);
            }
            CallOutput::LookupInvoice(code) => {
                let (answer, tx) = (env.services.lookup(code), self.tx.clone());
                tokio::spawn(async move { tx.send(CallInput::App(AppInput::Invoice(answer.await))) });
            }
            CallOutput::Authorize(order) => {
                let origin = Origin {
                    call_id: self.call_id.clone(),
                    caller: self.caller.clone(),
                    payment_key: self.payment_key.clone(),
                };
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
                if self.ended && self.linger.is_none() {
                    // Every lingering place is taken (a churn of thousands of calls a
                    // second): this leg stops now; a late retransmission of the
                    // caller's BYE then gets a stateless 481.
                    env.linger_cut.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
            }
            CallOutput::Finished(_) => return true,
        }
        false
    }
}
