//! Writing a call's record: the start when it is admitted, the end once the leg is
//! over and any authorization in flight has answered. The writes run in their own
//! tasks so a slow database never delays the caller, and a database that is down costs
//! the record, never the call.

use crate::ivr::app::{AppReport, CallOutcome};
use crate::store::calls::CallEnd;
use crate::store::Store;
use tokio::task::JoinHandle;

/// The record of one call.
pub struct Recorder {
    id: String,
    start: Option<JoinHandle<()>>,
    store: Store,
}

impl Recorder {
    /// Writes the start of a call.
    pub fn start(store: &Store, call_id: &str, caller: &str, service: &str) -> Recorder {
        let id = Store::new_call_id();
        let (s, i, c, caller, service) =
            (store.clone(), id.clone(), call_id.to_string(), caller.to_string(), service.to_string());
        let start = tokio::spawn(async move {
            if let Err(e) = s.call_started(&i, &c, &caller, &service, s.now_ms()).await {
                tracing::error!(error = %e, "call record not written");
            }
        });
        Recorder { id, start: Some(start), store: store.clone() }
    }

    /// Writes the end (after the start has been written).
    pub fn finish(mut self, answered_at: Option<i64>, end_reason: &str, outcome: CallOutcome, report: AppReport) {
        let end = CallEnd {
            answered_at,
            ended_at: self.store.now_ms(),
            end_reason: end_reason.to_string(),
            flow: report.flow,
            language: report.language,
            steps: report.steps,
            outcome: outcome.as_str().to_string(),
            invoice_id: report.invoice_id,
            transaction_reference: report.transaction_reference,
        };
        let start = self.start.take();
        let (store, id) = (self.store.clone(), self.id.clone());
        tokio::spawn(async move {
            if let Some(s) = start {
                let _ = s.await;
            }
            if let Err(e) = store.call_ended(&id, &end).await {
                tracing::error!(error = %e, "call record not completed");
            }
        });
    }
}
