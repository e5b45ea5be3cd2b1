//! The calls in progress by Call-ID, as the dispatcher routes to them. Each entry holds
//! the two ways into one call task: a bounded queue for what the network sends it (a
//! peer flooding one Call-ID fills that call's queue, and what does not fit is dropped
//! and counted, never buffered without end) and an unbounded one for the server's own
//! events (shutdown), which are few by construction. A call task adds itself when
//! spawned and removes itself when it stops.

use super::core::CallInput;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::mpsc::{self, error::TrySendError, Sender, UnboundedSender};

/// SIP messages waiting for one call task; a call consumes them in microseconds, so
/// only a flood fills this.
pub const CALL_QUEUE: usize = 64;

/// The ways into one call task.
#[derive(Clone, Debug)]
pub struct CallHandle {
    /// What the network sends the call (bounded: [`CALL_QUEUE`]).
    pub net: Sender<CallInput>,
    /// The server's own events for the call (shutdown).
    pub own: UnboundedSender<CallInput>,
}

/// What became of a message for a call.
#[derive(Debug)]
pub enum Delivery {
    /// Queued for the call.
    Delivered,
    /// The call's queue was full: dropped and counted.
    Overflow,
    /// No call has this Call-ID (or it just stopped).
    NoCall,
}

/// Call-ID to call task, shared by the dispatcher, the call tasks and shutdown.
#[derive(Debug, Default)]
pub struct CallRegistry {
    calls: Mutex<HashMap<String, CallHandle>>,
    overflow: AtomicU64,
}

impl CallRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CallHandle>> {
        // A panicked holder leaves a map that is still consistent (single inserts/removes).
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A queue for the network's messages to a new call: its sending half goes in the
    /// [`CallHandle`], the receiving half to the call task.
    pub fn net_queue() -> (Sender<CallInput>, mpsc::Receiver<CallInput>) {
        mpsc::channel(CALL_QUEUE)
    }

    /// Routes the messages of `call_id` to `handle` from now on.
    pub fn insert(&self, call_id: &str, handle: CallHandle) {
        self.lock().insert(call_id.to_string(), handle);
    }

    /// Forgets the call (its task stopped).
    pub fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// True while a call task owns `call_id`.
    pub fn contains(&self, call_id: &str) -> bool {
        self.lock().contains_key(call_id)
    }

    /// Queues a network message for the call that owns `call_id`, without waiting.
    pub fn deliver(&self, call_id: &str, input: CallInput) -> Delivery {
        let Some(net) = self.lock().get(call_id).map(|h| h.net.clone()) else { return Delivery::NoCall };
        match net.try_send(input) {
            Ok(()) => Delivery::Delivered,
            Err(TrySendError::Closed(_)) => Delivery::NoCall,
            Err(TrySendError::Full(_)) => {
                let n = self.overflow.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    // At 1, 2, 4, 8... drops: seen in the log without a line per message.
                    tracing::warn!(%call_id, dropped_total = n, "a call's SIP queue is full: message dropped");
                }
                Delivery::Overflow
            }
        }
    }

    /// Messages dropped because their call's queue was full, since start.
    pub fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Every call task, for shutdown.
    pub fn all(&self) -> Vec<CallHandle> {
        self.lock().values().cloned().collect()
    }
}
