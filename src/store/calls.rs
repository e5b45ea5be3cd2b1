//! Call records: every call to every service, with its timing, the steps of the flow
//! it went through and its outcome. Written when the call is admitted and completed
//! when it ends, so a crash leaves an unfinished record rather than none. Nothing a
//! caller typed is ever stored here.

use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A call as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Record id.
    pub id: String,
    /// SIP Call-ID.
    pub call_id: String,
    /// The caller's number (From user part).
    pub caller: String,
    /// The service number called (Request-URI user part).
    pub service: String,
    /// Flow name and version, when a dialplan answered.
    pub flow: Option<String>,
    /// Content hash of the dialplan file, so a record says which edit of the flow the call ran.
    pub flow_version: Option<String>,
    /// Language at the end of the call.
    pub language: Option<String>,
    /// UTC milliseconds.
    pub started_at: i64,
    /// When we answered; `None` if the call was never answered.
    pub answered_at: Option<i64>,
    /// When the call ended; `None` while in progress or after a crash.
    pub ended_at: Option<i64>,
    /// Why the SIP leg ended (caller BYE, our BYE, media timeout...).
    pub end_reason: Option<String>,
    /// Steps entered, in order.
    pub steps: Vec<String>,
    /// paid, refused, abandoned, invalid_invoice, platform_error or completed; none
    /// while in progress (or after a crash).
    pub outcome: Option<String>,
    /// Invoice the caller identified, if any; links the call to the payment attempt.
    pub invoice_id: Option<String>,
    /// Sips reference of the payment taken during the call, if one was sent.
    pub transaction_reference: Option<String>,
}

/// How a call ended, to complete its record.
#[derive(Clone, Debug, Default)]
pub struct CallEnd {
    /// When we answered (UTC ms); `None` if we never did.
    pub answered_at: Option<i64>,
    /// When the call ended (UTC ms).
    pub ended_at: i64,
    /// Why the SIP leg ended (caller BYE, our BYE, media timeout...).
    pub end_reason: String,
    /// Dialplan name and version, when one answered.
    pub flow: Option<(String, String)>,
    /// Language in use at the end of the call.
    pub language: String,
    /// Steps entered, in order; step names only, never what was typed.
    pub steps: Vec<String>,
    /// See [`CallRecord::outcome`].
    pub outcome: String,
    /// Invoice identified during the call, if any.
    pub invoice_id: Option<String>,
    /// Sips reference of the payment taken, if any.
    pub transaction_reference: Option<String>,
}

/// The start of a call's record, as it is admitted.
#[derive(Clone, Debug)]
pub struct CallStart {
    /// Record id ([`Store::new_call_id`]), so its end can be written separately.
    pub id: String,
    /// SIP Call-ID.
    pub call_id: String,
    /// The caller's number.
    pub caller: String,
    /// The service number called.
    pub service: String,
    /// UTC milliseconds.
    pub started_at: i64,
}

/// One write of the call records' writer: a record begun or completed.
#[derive(Clone, Debug)]
pub enum CallRecordOp {
    /// A call admitted.
    Start(CallStart),
    /// A call over.
    End {
        /// The record's id, as in its start.
        id: String,
        /// How it ended.
        end: CallEnd,
    },
}

/// Filters for listing calls.
#[derive(Clone, Debug, Default)]
pub struct CallFilter {
    /// Only calls with exactly this outcome.
    pub outcome: Option<String>,
    /// Only calls to this service number.
    pub service: Option<String>,
    /// Started at or after (UTC ms).
    pub from: Option<i64>,
    /// Started before (UTC ms).
    pub to: Option<i64>,
}

const COLUMNS: &str = "id, call_id, caller, service, flow, flow_version, language, started_at, answered_at, ended_at, end_reason, steps, outcome, invoice_id, transaction_reference";

fn from_row(r: &AnyRow) -> Result<CallRecord, StoreError> {
    let steps = get_str(r, "steps")?;
    Ok(CallRecord {
        id: get_str(r, "id")?,
        call_id: get_str(r, "call_id")?,
        caller: get_str(r, "caller")?,
        service: get_str(r, "service")?,
        flow: get_opt_str(r, "flow")?,
        flow_version: get_opt_str(r, "flow_version")?,
        language: get_opt_str(r, "language")?,
        started_at: get_i64(r, "started_at")?,
        answered_at: r.try_get::<Option<i64>, _>("answered_at")?,
        ended_at: r.try_get::<Option<i64>, _>("ended_at")?,
        end_reason: get_opt_str(r, "end_reason")?,
        steps: steps.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        outcome: get_opt_str(r, "outcome")?,
        invoice_id: get_opt_str(r, "invoice_id")?,
        transaction_reference: get_opt_str(r, "transaction_reference")?,
    })
}

impl Store {
    /// A fresh record id, chosen by the call so its start and end can be written by
    /// independent tasks.
    pub fn new_call_id() -> String {
        new_id("call")
    }

    /// Records a call as it is admitted.
    pub async fn call_started(
        &self,
        id: &str,
        call_id: &str,
        caller: &str,
        service: &str,
        started_at: i64,
    ) -> Result<(), StoreError> {
        let start = CallStart {
            id: id.to_string(),
            call_id: call_id.to_string(),
            caller: caller.to_string(),
            service: service.to_string(),
            started_at,
        };
        let mut conn = self.pool().acquire().await?;
        insert_start(&mut conn, &start).await
    }

    /// Completes a call's record.
    pub async fn call_ended(&self, id: &str, end: &CallEnd) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        update_end(&mut conn, id, end).await.map(|_| ())
    }

    /// Writes `ops` in order in one database transaction (one commit, one fsync, for a
    /// whole batch of records). Returns how many ends found no start to complete (a
    /// start that was lost), which the writer counts.
    pub async fn write_call_records(&self, ops: &[CallRecordOp]) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let mut orphans = 0;
        for op in ops {
            match op {
                CallRecordOp::Start(start) => insert_start(&mut tx, start).await?,
                CallRecordOp::End { id, end } => {
                    if update_end(&mut tx, id, end).await? == 0 {
                        orphans += 1;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(orphans)
    }

    /// Calls with this SIP Call-ID (normally one).
    pub async fn calls_by_call_id(&self, call_id: &str) -> Result<Vec<CallRecord>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM calls WHERE call_id = $1 ORDER BY started_at"))
            .bind(call_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The most recent calls matching `filter`, newest first.
    pub async fn list_calls(&self, filter: &CallFilter, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM calls WHERE 1 = 1");
        let mut n = 0;
        let mut arg = |sql: &mut String, cond: &str| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        if filter.outcome.is_some() {
            arg(&mut sql, "outcome =");
        }
        if filter.service.is_some() {
            arg(&mut sql, "service =");
        }
        if filter.from.is_some() {
            arg(&mut sql, "started_at >=");
        }
        if filter.to.is_some() {
            arg(&mut sql, "started_at <");
        }
        sql.push_str(&format!(" ORDER BY started_at DESC LIMIT {}", limit.clamp(1, 1000)));
        let mut q = sqlx::query(&sql);
        if let Some(o) = &filter.outcome {
            q = q.bind(o);
        }
        if let Some(s) = &filter.service {
            q = q.bind(s);
        }
        if let Some(f) = filter.from {
            q = q.bind(f);
        }
        if let Some(t) = filter.to {
            q = q.bind(t);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }
}

async fn insert_start(conn: &mut sqlx::AnyConnection, start: &CallStart) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO calls (id, call_id, caller, service, started_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&start.id)
        .bind(&start.call_id)
        .bind(&start.caller)
        .bind(&start.service)
        .bind(start.started_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Completes record `id`; how many rows it changed (0: no such record).
async fn update_end(conn: &mut sqlx::AnyConnection, id: &str, end: &CallEnd) -> Result<u64, StoreError> {
    let (flow, version) = end.flow.clone().unzip();
    let done = sqlx::query(
        "UPDATE calls SET answered_at = $1, ended_at = $2, end_reason = $3, flow = $4, flow_version = $5, \
         language = $6, steps = $7, outcome = $8, invoice_id = $9, transaction_reference = $10 WHERE id = $11",
    )
    .bind(end.answered_at)
    .bind(end.ended_at)
    .bind(&end.end_reason)
    .bind(flow)
    .bind(version)
    .bind(&end.language)
    .bind(end.steps.join(","))
    .bind(&end.outcome)
    .bind(&end.invoice_id)
    .bind(&end.transaction_reference)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
