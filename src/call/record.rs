//! Writing a call's record: the start when it is admitted, the end once the leg is
//! over and any authorization in flight has answered. Both go to the records' writer
//! (`call::record_writer`) through the room reserved for them at admission, so a slow
//! database never delays the caller and an answered call always has room for its end.

use super::record_writer::{RecordSlots, RecordWriter};
use crate::ivr::app::{AppReport, CallOutcome};
use crate::store::calls::{CallEnd, CallRecordOp, CallStart};
use crate::store::Store;
use tokio::sync::mpsc::OwnedPermit;

/// The record of one call.
pub struct Recorder {
    id: String,
    end: OwnedPermit<CallRecordOp>,
    writer: RecordWriter,
}

/// Who called what, for the start of a record.
pub struct Parties<'a> {
    /// SIP Call-ID.
    pub call_id: &'a str,
    /// The caller's number.
    pub caller: &'a str,
    /// The service number called.
    pub service: &'a str,
}

impl Recorder {
    /// Queues the start of a call's record (at `started_at`, UTC ms), keeping the room
    /// for its end.
    pub fn start(writer: &RecordWriter, slots: RecordSlots, parties: Parties<'_>, started_at: i64) -> Recorder {
        let id = Store::new_call_id();
        slots.start.send(CallRecordOp::Start(CallStart {
            id: id.clone(),
            call_id: parties.call_id.to_string(),
            caller: parties.caller.to_string(),
            service: parties.service.to_string(),
            started_at,
        }));
        Recorder { id, end: slots.end, writer: writer.clone() }
    }

    /// Queues the end of the record.
    pub fn finish(self, answered_at: Option<i64>, end_reason: &str, outcome: CallOutcome, report: AppReport) {
        let end = CallEnd {
            answered_at,
            ended_at: self.writer.now_ms(),
            end_reason: end_reason.to_string(),
            flow: report.flow,
            language: report.language,
            steps: report.steps,
            outcome: outcome.as_str().to_string(),
            invoice_id: report.invoice_id,
            transaction_reference: report.transaction_reference,
        };
        self.end.send(CallRecordOp::End { id: self.id, end });
    }
}
