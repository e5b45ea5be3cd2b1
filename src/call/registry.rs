//! The calls in progress by Call-ID, as the dispatcher routes to them: each entry is the
//! sending half of one call task's channel. A call task adds itself when spawned and
//! removes itself when it stops; shutdown reads every entry to hang the calls up.

use super::core::CallInput;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Call-ID to call task, shared by the dispatcher, the call tasks and shutdown.
#[derive(Debug, Default)]
pub struct CallRegistry {
    calls: Mutex<HashMap<String, UnboundedSender<CallInput>>>,
}

impl CallRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UnboundedSender<CallInput>>> {
        // A panicked holder leaves a map that is still consistent (single inserts/removes).
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Routes the messages of `call_id` to `tx` from now on.
    pub fn insert(&self, call_id: &str, tx: UnboundedSender<CallInput>) {
        self.lock().insert(call_id.to_string(), tx);
    }

    /// Forgets the call (its task stopped).
    pub fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// The task that owns `call_id`, if one does.
    pub fn get(&self, call_id: &str) -> Option<UnboundedSender<CallInput>> {
        self.lock().get(call_id).cloned()
    }

    /// Every call task, for shutdown.
    pub fn all(&self) -> Vec<UnboundedSender<CallInput>> {
        self.lock().values().cloned().collect()
    }
}
