//! Outgoing audio for every call, paced by one shared 20 ms clock.
//!
//! Thousands of calls must not each run a sleeping loop: those drift and wake the
//! scheduler 50 times a second per call. Instead one thread ticks every 20 ms on an
//! absolute schedule (tick n is due at start + n*20 ms, so there is no drift however
//! long a call lasts), and on each tick sends one packet for every call that is
//! talking, in one batch, from buffers that live on the stack. Calls talk to the pacer
//! by commands; finished playbacks come out of [`PacerCore::poll_event`].
//!
//! [`PacerCore`] is the sans-IO heart (tested on virtual time): it reads no clock, takes
//! its randomness from the driver and calls no callback. The threads that run it, sleep
//! and tell the calls live in [`super::pacer_thread`]. It plays media [`Clip`]s and
//! knows nothing of the IVR's prompts.

use super::clip::Clip;
use super::codec::{Codec, SAMPLES_PER_FRAME};
use super::rtp::{self, Header, MAX_PACKET};
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

/// The packet interval.
pub const PTIME: Duration = Duration::from_millis(20);

/// Where packets go out; a UDP socket in production, a recorder in tests.
pub trait PacketSink: Send + Sync {
    /// Sends one datagram; errors are counted, not fatal (the peer may be gone).
    fn send_to(&self, buf: &[u8], dest: SocketAddr) -> std::io::Result<usize>;
}

impl PacketSink for UdpSocket {
    fn send_to(&self, buf: &[u8], dest: SocketAddr) -> std::io::Result<usize> {
        UdpSocket::send_to(self, buf, dest)
    }
}

/// Parameters of one call's outgoing stream.
pub struct StreamSpec {
    /// The socket (sending from the port we advertised keeps RTP symmetric).
    pub sink: Arc<dyn PacketSink>,
    /// Initial destination (from SDP; replaced when we latch onto the real source).
    pub dest: SocketAddr,
    /// Negotiated codec and its payload type.
    pub codec: Codec,
    /// Payload type to send.
    pub payload_type: u8,
}

/// What the pacer core tells its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacerEvent {
    /// The last clip of a Play has been sent (or the Play was empty).
    PlaybackDone {
        /// The stream that played it.
        stream: u64,
        /// The Play's token.
        token: u64,
    },
}

/// Commands from calls to the pacer.
pub enum Command {
    /// A call's media is up.
    Add(u64, StreamSpec),
    /// The call ended.
    Remove(u64),
    /// Queue clips; report `token` done once they are all sent.
    Play(u64, Vec<Arc<Clip>>, u64),
    /// Drop everything queued (barge-in).
    Stop(u64),
    /// Send to this address from now on (symmetric RTP latch, or re-INVITE).
    SetDest(u64, SocketAddr),
    /// Pause (hold: we must not send) or resume.
    SetSending(u64, bool),
}

struct Item {
    clip: Arc<Clip>,
    offset: usize,
    token: Option<u64>,
}

struct Stream {
    spec: StreamSpec,
    ssrc: u32,
    seq: u16,
    ts: u32,
    talking: bool,
    sending: bool,
    queue: VecDeque<Item>,
}

/// Counters for benchmarks and the operator page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacerStats {
    /// Packets sent.
    pub packets: u64,
    /// Send errors (peer gone, buffer full).
    pub send_errors: u64,
    /// Ticks run.
    pub ticks: u64,
    /// Ticks that ran late by more than one period (the machine was overloaded).
    pub late_ticks: u64,
}

/// The sans-IO pacer: streams and their queues, advanced one frame per tick.
pub struct PacerCore {
    streams: HashMap<u64, Stream>,
    /// Stream ids by sub-slot (id modulo the number of sub-slots).
    buckets: Vec<Vec<u64>>,
    /// Finished playbacks, until the driver polls them.
    events: VecDeque<PacerEvent>,
    /// Counters.
    pub stats: PacerStats,
}

impl Default for PacerCore {
    fn default() -> Self {
        PacerCore::with_slots(1)
    }
}

impl PacerCore {
    /// A pacer whose 20 ms period is split in `slots` sub-slots.
    pub fn with_slots(slots: usize) -> Self {
        PacerCore {
            streams: HashMap::new(),
            buckets: vec![Vec::new(); slots.max(1)],
            events: VecDeque::new(),
            stats: PacerStats::default(),
        }
    }

    fn bucket(&mut self, id: u64) -> &mut Vec<u64> {
        let n = self.buckets.len() as u64;
        &mut self.buckets[(id % n) as usize]
    }

    /// Applies a command. A new stream's SSRC, first sequence number and first
    /// timestamp are drawn from `rng` (RFC 3550 5.1), owned by the driver.
    pub fn command(&mut self, cmd: Command, rng: &mut dyn rand::RngCore) {
        match cmd {
            Command::Add(id, spec) => {
                let stream = Stream {
                    spec,
                    ssrc: rng.next_u32(),
                    seq: rng.next_u32() as u16,
                    ts: rng.next_u32(),
                    talking: false,
                    sending: true,
                    queue: VecDeque::new(),
                };
                if self.streams.insert(id, stream).is_none() {
                    self.bucket(id).push(id);
                }
            }
            Command::Remove(id) => {
                if self.streams.remove(&id).is_some() {
                    self.bucket(id).retain(|x| *x != id);
                }
            }
            Command::Play(id, prompts, token) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    let n = prompts.len();
                    for (i, clip) in prompts.into_iter().enumerate() {
                        s.queue.push_back(Item { clip, offset: 0, token: (i + 1 == n).then_some(token) });
                    }
                    if n == 0 {
                        self.events.push_back(PacerEvent::PlaybackDone { stream: id, token });
                    }
                }
            }
            Command::Stop(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.queue.clear();
                }
            }
            Command::SetDest(id, addr) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.spec.dest = addr;
                }
            }
            Command::SetSending(id, on) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.sending = on;
                }
            }
        }
    }

    /// The next finished playback to report.
    pub fn poll_event(&mut self) -> Option<PacerEvent> {
        self.events.pop_front()
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    /// True when no call has media.
    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// One 20 ms frame for every stream: talking streams send a packet; all streams'
    /// timestamps advance so a new talkspurt carries the true elapsed time.
    pub fn tick(&mut self) {
        for slot in 0..self.buckets.len() {
            self.tick_slot(slot);
        }
    }

    /// One 20 ms frame for the streams of sub-slot `slot` (stream id modulo the number
    /// of sub-slots). The driver runs the sub-slots at fixed offsets within each 20 ms
    /// period so each burst of sends is that many times shorter: a stream's packet
    /// leaves at the same offset every period, give or take the variation of a short
    /// burst.
    pub fn tick_slot(&mut self, slot: usize) {
        if slot == 0 {
            self.stats.ticks += 1;
        }
        let mut buf = [0u8; MAX_PACKET];
        let mut frame = [0u8; SAMPLES_PER_FRAME];
        let Some(ids) = self.buckets.get(slot) else { return };
        for id in ids {
            let Some(s) = self.streams.get_mut(id) else { continue };
            let ts = s.ts;
            s.ts = s.ts.wrapping_add(SAMPLES_PER_FRAME as u32);
            if !s.sending || s.queue.is_empty() {
                s.talking = false;
                continue;
            }
            let silence = g711_silence(s.spec.codec);
            let mut filled = 0;
            while filled < SAMPLES_PER_FRAME {
                let Some(item) = s.queue.front_mut() else { break };
                let src = &item.clip.encoded(s.spec.codec)[item.offset..];
                let n = src.len().min(SAMPLES_PER_FRAME - filled);
                frame[filled..filled + n].copy_from_slice(&src[..n]);
                filled += n;
                item.offset += n;
                if item.offset >= item.clip.encoded(s.spec.codec).len() {
                    if let Some(token) = item.token {
                        self.events.push_back(PacerEvent::PlaybackDone { stream: *id, token });
                    }
                    s.queue.pop_front();
                }
            }
            frame[filled..].fill(silence);
            let header = Header {
                payload_type: s.spec.payload_type,
                marker: !s.talking,
                sequence: s.seq,
                timestamp: ts,
                ssrc: s.ssrc,
            };
            s.talking = true;
            s.seq = s.seq.wrapping_add(1);
            if let Some(n) = rtp::write(&mut buf, header, &frame) {
                match s.spec.sink.send_to(&buf[..n], s.spec.dest) {
                    Ok(_) => self.stats.packets += 1,
                    Err(_) => self.stats.send_errors += 1,
                }
            }
        }
    }
}

/// The G.711 code for silence, used to pad the last frame of a prompt.
pub fn g711_silence(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => 0xFF,
        Codec::Pcma => 0xD5,
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
