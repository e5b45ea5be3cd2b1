//! The calls in progress, as the operator sees them: who called which service, since
//! when, and the step they are in. Each call task keeps its own entry up to date; the
//! operator API and pages read a snapshot.

use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// One call in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveCall {
    /// SIP Call-ID.
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// The service number called.
    pub service: String,
    /// UTC milliseconds.
    pub started_at: i64,
    /// The flow step the caller is in (empty before media starts).
    pub step: String,
}

/// All calls in progress on this node.
#[derive(Debug, Default)]
pub struct LiveCalls {
    calls: Mutex<HashMap<String, LiveCall>>,
}

impl LiveCalls {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LiveCall>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A call was admitted.
    pub fn insert(&self, call: LiveCall) {
        self.lock().insert(call.call_id.clone(), call);
    }

    /// The call moved to another step.
    pub fn set_step(&self, call_id: &str, step: &str) {
        if let Some(c) = self.lock().get_mut(call_id) {
            if c.step != step {
                c.step = step.to_string();
            }
        }
    }

    /// The call ended.
    pub fn remove(&self, call_id: &str) {
        self.lock().remove(call_id);
    }

    /// The calls now, oldest first.
    pub fn snapshot(&self) -> Vec<LiveCall> {
        let mut v: Vec<LiveCall> = self.lock().values().cloned().collect();
        v.sort_by(|a, b| a.started_at.cmp(&b.started_at).then_with(|| a.call_id.cmp(&b.call_id)));
        v
    }
}
