//! Outgoing audio for every call, paced by one shared 20 ms clock.
//!
//! Thousands of calls must not each run a sleeping loop: those drift and wake the
//! scheduler 50 times a second per call. Instead one thread ticks every 20 ms on an
//! absolute schedule (tick n is due at start + n*20 ms, so there is no drift however
//! long a call lasts), and on each tick sends one packet for every call that is
//! talking, in one batch, from buffers that live on the stack. Calls talk to the pacer
//! by commands; it answers with `PlaybackDone` through a callback.
//!
//! [`PacerCore`] is the sans-IO heart (tested on virtual time); [`spawn`] runs it.

use super::codec::{Codec, SAMPLES_PER_FRAME};
use super::rtp::{self, Header, MAX_PACKET};
use crate::ivr::prompts::Prompt;
use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Told to the call when its queued audio has been sent.
pub type Notify = Box<dyn Fn(u64) + Send>;

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
    /// Called with a Play's token when its last prompt has been sent.
    pub notify: Notify,
}

/// Commands from calls to the pacer.
pub enum Command {
    /// A call's media is up.
    Add(u64, StreamSpec),
    /// The call ended.
    Remove(u64),
    /// Queue prompts; notify `token` once they are all sent.
    Play(u64, Vec<Arc<Prompt>>, u64),
    /// Drop everything queued (barge-in).
    Stop(u64),
    /// Send to this address from now on (symmetric RTP latch, or re-INVITE).
    SetDest(u64, SocketAddr),
    /// Pause (hold: we must not send) or resume.
    SetSending(u64, bool),
}

struct Item {
    prompt: Arc<Prompt>,
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
        PacerCore { streams: HashMap::new(), buckets: vec![Vec::new(); slots.max(1)], stats: PacerStats::default() }
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
                    for (i, prompt) in prompts.into_iter().enumerate() {
                        s.queue.push_back(Item { prompt, offset: 0, token: (i + 1 == n).then_some(token) });
                    }
                    if n == 0 {
                        (s.spec.notify)(token);
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
                let src = &item.prompt.encoded(s.spec.codec)[item.offset..];
                let n = src.len().min(SAMPLES_PER_FRAME - filled);
                frame[filled..filled + n].copy_from_slice(&src[..n]);
                filled += n;
                item.offset += n;
                if item.offset >= item.prompt.encoded(s.spec.codec).len() {
                    if let Some(token) = item.token {
                        (s.spec.notify)(token);
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

/// Handle used by calls to reach the pacer threads. Streams are sharded by id over one
/// thread per core, so a large number of calls is paced in parallel.
#[derive(Clone)]
pub struct PacerHandle {
    shards: Vec<mpsc::Sender<Command>>,
    stats: Arc<std::sync::Mutex<Vec<PacerStats>>>,
}

impl PacerHandle {
    /// Sends a command to the shard owning the stream; a stopped pacer drops it.
    pub fn send(&self, cmd: Command) {
        let id = match &cmd {
            Command::Add(id, _)
            | Command::Remove(id)
            | Command::Play(id, _, _)
            | Command::Stop(id)
            | Command::SetDest(id, _)
            | Command::SetSending(id, _) => *id,
        };
        let _ = self.shards[(id % self.shards.len() as u64) as usize].send(cmd);
    }

    /// The latest counters, summed over shards.
    pub fn stats(&self) -> PacerStats {
        let all = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        all.iter().fold(PacerStats::default(), |a, s| PacerStats {
            packets: a.packets + s.packets,
            send_errors: a.send_errors + s.send_errors,
            ticks: a.ticks.max(s.ticks),
            late_ticks: a.late_ticks + s.late_ticks,
        })
    }
}

/// Starts `threads` pacer threads (0 means one per available core). They stop when
/// every handle is dropped.
pub fn spawn(threads: usize) -> PacerHandle {
    let n = if threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { threads };
    let stats = Arc::new(std::sync::Mutex::new(vec![PacerStats::default(); n]));
    let shards = (0..n)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<Command>();
            let shared = stats.clone();
            std::thread::Builder::new()
                .name(format!("rtp-pacer-{i}"))
                .spawn(move || {
                    realtime::raise_priority();
                    run(rx, shared, i)
                })
                .expect("spawning a pacer thread");
            tx
        })
        .collect();
    PacerHandle { shards, stats }
}

/// Sub-slots per 20 ms period (see [`PacerCore::tick_slot`]): 2 ms each, so a thread's
/// burst of sends stays around a millisecond at 2,000 calls on two cores.
const SLOTS: u32 = 10;

fn run(rx: mpsc::Receiver<Command>, shared: Arc<std::sync::Mutex<Vec<PacerStats>>>, shard: usize) {
    let mut core = PacerCore::with_slots(SLOTS as usize);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_entropy();
    let mut clock = super::clock::TickClock::new(Instant::now(), PTIME, SLOTS);
    let mut n: u64 = 0;
    loop {
        loop {
            match rx.try_recv() {
                Ok(cmd) => core.command(cmd, &mut rng),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        core.tick_slot(clock.slot());
        n += 1;
        let now = Instant::now();
        let next = clock.advance(now);
        let due = next.due;
        if next.late {
            core.stats.late_ticks += 1;
        }
        if n.is_multiple_of(50 * SLOTS as u64) {
            if let Some(slot) = shared.lock().unwrap_or_else(|e| e.into_inner()).get_mut(shard) {
                *slot = core.stats;
            }
        }
        if due > now {
            // While idle, block on the command channel instead of sleeping, so a new
            // call's first packet is not delayed.
            if core.is_empty() {
                match rx.recv_timeout(due - now) {
                    Ok(cmd) => core.command(cmd, &mut rng),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            } else {
                std::thread::sleep(due - now);
            }
        }
    }
}

/// Scheduling priority for the media clock. Media servers run their timing threads at
/// real-time priority so that a busy machine delays signalling, not audio.
pub mod realtime {
    /// Tries SCHED_FIFO (priority 10), else a nice value of -10; failure (no
    /// CAP_SYS_NICE) leaves the thread as it was, which only costs jitter.
    pub fn raise_priority() {
        // SAFETY: plain libc calls on the calling thread with a valid, initialised
        // sched_param; no memory is shared with the kernel beyond the call.
        unsafe {
            let param = libc::sched_param { sched_priority: 10 };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 {
                tracing::debug!("pacer thread running at real-time priority");
                return;
            }
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            if libc::setpriority(libc::PRIO_PROCESS, tid, -10) != 0 {
                tracing::debug!("pacer thread priority unchanged (not permitted)");
            }
        }
    }
}

#[cfg(test)]
#[path = "pacer_tests.rs"]
mod tests;
