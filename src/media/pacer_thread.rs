//! The pacer's thread layer: one OS thread per shard runs a [`PacerCore`] on the
//! absolute 20 ms schedule of a [`TickClock`], sleeps between sub-slots (at real-time
//! priority when allowed), owns the shard's random generator, and tells each call when
//! its playback is done by calling that call's [`Notify`]. The core knows none of this.

use super::clock::TickClock;
use super::pacer::{Command, PacerCore, PacerEvent, PacerStats, StreamSpec, PTIME};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

/// Told to the call when its queued audio has been sent.
pub type Notify = Box<dyn Fn(u64) + Send>;

/// What a shard thread receives: a command for its core, or the way to tell a new
/// stream's call about finished playbacks (sent just before its `Add`).
enum ShardMsg {
    Command(Command),
    Notify(u64, Notify),
}

/// Handle used by calls to reach the pacer threads. Streams are sharded by id over one
/// thread per core, so a large number of calls is paced in parallel.
#[derive(Clone)]
pub struct PacerHandle {
    shards: Vec<mpsc::Sender<ShardMsg>>,
    stats: Arc<std::sync::Mutex<Vec<PacerStats>>>,
}

impl PacerHandle {
    /// Starts a call's stream; `notify` is called with each Play's token when it is done.
    pub fn add(&self, id: u64, spec: StreamSpec, notify: Notify) {
        let shard = &self.shards[(id % self.shards.len() as u64) as usize];
        let _ = shard.send(ShardMsg::Notify(id, notify));
        let _ = shard.send(ShardMsg::Command(Command::Add(id, spec)));
    }

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
        let _ = self.shards[(id % self.shards.len() as u64) as usize].send(ShardMsg::Command(cmd));
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
            let (tx, rx) = mpsc::channel::<ShardMsg>();
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

/// One shard's core plus what only the thread layer holds: the calls' notifiers and
/// the random generator.
struct Shard {
    core: PacerCore,
    notify: HashMap<u64, Notify>,
    rng: StdRng,
}

impl Shard {
    fn apply(&mut self, msg: ShardMsg) {
        match msg {
            ShardMsg::Notify(id, n) => {
                self.notify.insert(id, n);
            }
            ShardMsg::Command(cmd) => {
                let removed = match &cmd {
                    Command::Remove(id) => Some(*id),
                    _ => None,
                };
                self.core.command(cmd, &mut self.rng);
                self.post_events();
                if let Some(id) = removed {
                    self.notify.remove(&id);
                }
            }
        }
    }

    /// Tells the calls about the playbacks the core finished.
    fn post_events(&mut self) {
        while let Some(PacerEvent::PlaybackDone { stream, token }) = self.core.poll_event() {
            if let Some(n) = self.notify.get(&stream) {
                n(token);
            }
        }
    }
}

fn run(rx: mpsc::Receiver<ShardMsg>, shared: Arc<std::sync::Mutex<Vec<PacerStats>>>, shard: usize) {
    let mut sh =
        Shard { core: PacerCore::with_slots(SLOTS as usize), notify: HashMap::new(), rng: StdRng::from_entropy() };
    let mut clock = TickClock::new(Instant::now(), PTIME, SLOTS);
    let mut n: u64 = 0;
    loop {
        loop {
            match rx.try_recv() {
                Ok(msg) => sh.apply(msg),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        sh.core.tick_slot(clock.slot());
        sh.post_events();
        n += 1;
        let now = Instant::now();
        let next = clock.advance(now);
        let due = next.due;
        if next.late {
            sh.core.stats.late_ticks += 1;
        }
        if n.is_multiple_of(50 * SLOTS as u64) {
            if let Some(slot) = shared.lock().unwrap_or_else(|e| e.into_inner()).get_mut(shard) {
                *slot = sh.core.stats;
            }
        }
        if due > now {
            // While idle, block on the command channel instead of sleeping, so a new
            // call's first packet is not delayed.
            if sh.core.is_empty() {
                match rx.recv_timeout(due - now) {
                    Ok(msg) => sh.apply(msg),
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
