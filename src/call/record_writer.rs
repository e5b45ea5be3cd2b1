//! The call records' writer: one task, one connection of its own, a bounded queue.
//!
//! Every call writes two records (its start, its end). Written one by one from the
//! calls' tasks, at a few thousand set-ups a second they took every connection of the
//! pool the payments use, timed out ("pool timed out") and were lost. Here calls hand
//! their records to a bounded queue and one task writes them in batches, each batch in
//! one database transaction, through a pool of its own ([`Store::sibling`]): payments
//! never wait behind records.
//!
//! No record is dropped silently. A call is admitted only with room reserved in the
//! queue for both its records ([`RecordWriter::reserve`]), so a call that was answered
//! always has room for its end; when there is no room the dispatcher refuses the call
//! at the door (503 with Retry-After) and counts it. A batch the database refuses is
//! tried again, then record by record; what still fails is counted as lost and logged.

use crate::store::calls::CallRecordOp;
use crate::store::Store;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::watch;

/// Records written at once, in one database transaction.
const BATCH: usize = 256;
/// Pauses before trying a refused batch again.
const RETRIES: [Duration; 3] = [Duration::from_millis(100), Duration::from_millis(500), Duration::from_secs(2)];
/// How long shutdown waits for the queue to be written.
const DRAIN: Duration = Duration::from_secs(5);

/// What the writer did, for logs (and, later, metrics). Counts since start.
#[derive(Debug, Default)]
pub struct RecordStats {
    /// Records written (starts and ends).
    pub written: AtomicU64,
    /// Database transactions used to write them.
    pub batches: AtomicU64,
    /// Records the database would not take after every retry, and ends whose start
    /// was lost: the loss, never silent.
    pub lost: AtomicU64,
    /// Calls refused at the door because the queue had no room for their records.
    pub shed: AtomicU64,
}

/// The handle calls and the dispatcher use; cheap to clone.
#[derive(Clone, Debug)]
pub struct RecordWriter {
    tx: mpsc::Sender<CallRecordOp>,
    stats: Arc<RecordStats>,
    clock: Store,
}

/// Room in the queue for one call's two records, reserved when it is admitted.
/// Dropped unused, the room is given back.
#[derive(Debug)]
pub struct RecordSlots {
    /// For the record's start, sent at once.
    pub start: OwnedPermit<CallRecordOp>,
    /// For its end, held until the call is over.
    pub end: OwnedPermit<CallRecordOp>,
}

impl RecordWriter {
    /// Starts the writer on `store` (a pool of its own), with room for `capacity`
    /// records (queued or reserved); it stops once `shutdown` is set and the queue
    /// is written (or after a few seconds).
    pub fn spawn(
        store: Store,
        capacity: usize,
        shutdown: watch::Receiver<bool>,
    ) -> (RecordWriter, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity.max(2));
        let stats = Arc::new(RecordStats::default());
        let task = tokio::spawn(run(store.clone(), rx, stats.clone(), shutdown));
        (RecordWriter { tx, stats, clock: store }, task)
    }

    /// Room for a new call's records, or None when the queue is full: the call must
    /// then be refused (and is counted as shed).
    pub fn reserve(&self) -> Option<RecordSlots> {
        let reserved = self.tx.clone().try_reserve_owned().ok().and_then(|start| {
            let end = self.tx.clone().try_reserve_owned().ok()?;
            Some(RecordSlots { start, end })
        });
        if reserved.is_none() {
            self.stats.shed.fetch_add(1, Ordering::Relaxed);
        }
        reserved
    }

    /// What the writer has done so far.
    pub fn stats(&self) -> &RecordStats {
        &self.stats
    }

    /// Now, by the store's clock (the instants written in records).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

async fn run(
    store: Store,
    mut rx: mpsc::Receiver<CallRecordOp>,
    stats: Arc<RecordStats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                write(&store, &mut batch, &stats).await;
            }
            _ = shutdown.changed() => {
                rx.close();
                let drain = async {
                    while rx.recv_many(&mut batch, BATCH).await > 0 {
                        write(&store, &mut batch, &stats).await;
                    }
                };
                if tokio::time::timeout(DRAIN, drain).await.is_err() {
                    tracing::warn!(queued = rx.len(), "call records still queued at shutdown");
                }
                break;
            }
        }
    }
    tracing::info!(
        written = stats.written.load(Ordering::Relaxed),
        batches = stats.batches.load(Ordering::Relaxed),
        lost = stats.lost.load(Ordering::Relaxed),
        shed = stats.shed.load(Ordering::Relaxed),
        "call records writer stopped"
    );
}

/// Writes and empties `batch`: at once, then after each pause of [`RETRIES`], then
/// record by record, counting what is still refused.
async fn write(store: &Store, batch: &mut Vec<CallRecordOp>, stats: &RecordStats) {
    let mut result = store.write_call_records(batch).await;
    for pause in RETRIES {
        let Err(e) = &result else { break };
        tracing::warn!(error = %e, records = batch.len(), "call records not written; trying again");
        tokio::time::sleep(pause).await;
        result = store.write_call_records(batch).await;
    }
    let (written, lost) = match result {
        Ok(orphans) => (batch.len() as u64, orphans),
        Err(_) => one_by_one(store, batch).await,
    };
    stats.batches.fetch_add(1, Ordering::Relaxed);
    stats.written.fetch_add(written - lost.min(written), Ordering::Relaxed);
    if lost > 0 {
        let total = stats.lost.fetch_add(lost, Ordering::Relaxed) + lost;
        tracing::error!(lost, lost_total = total, "call records lost");
    }
    batch.clear();
}

/// Each record of a refused batch on its own: (written, lost).
async fn one_by_one(store: &Store, batch: &[CallRecordOp]) -> (u64, u64) {
    let mut lost = 0;
    for op in batch {
        match store.write_call_records(std::slice::from_ref(op)).await {
            Ok(orphans) => lost += orphans,
            Err(e) => {
                tracing::error!(error = %e, "call record refused by the database");
                lost += 1;
            }
        }
    }
    (batch.len() as u64, lost)
}
