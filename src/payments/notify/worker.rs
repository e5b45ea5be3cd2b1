//! The delivery loop the running server starts: each merchant with notices due gets a
//! worker of its own, so one slow or dead endpoint never delays another merchant's.

use super::deliver::{deliver_merchant, MERCHANTS_PER_PASS};
use crate::payments::ledger::Ledger;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How the loop runs (from `[payments]`).
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// How often due notices are looked for.
    pub every: Duration,
    /// Each POST's time-out, connection included.
    pub timeout: Duration,
    /// Merchants served at once; the others wait for a free worker.
    pub concurrency: usize,
}

/// Merchants whose worker is running: their notices are not claimed again meanwhile.
type Busy = Arc<Mutex<HashSet<String>>>;

/// Delivers due notices until shutdown: every `every`, each merchant with notices due
/// and no worker yet gets one (up to `concurrency` at once), which sends that
/// merchant's batch and ends. At shutdown the workers are stopped: a notice being sent
/// keeps its claim, lapses and is sent again later (merchants discard repeats by id).
pub async fn run<L>(ledger: L, delivery: Delivery, mut shutdown: watch::Receiver<bool>)
where
    L: Ledger + Clone + Send + Sync + 'static,
{
    let busy: Busy = Arc::default();
    let mut workers = JoinSet::new();
    let mut tick = tokio::time::interval(delivery.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                while workers.try_join_next().is_some() {}
                start_workers(&ledger, delivery, &busy, &mut workers).await;
            }
            _ = shutdown.changed() => {
                workers.abort_all();
                return;
            }
        }
    }
}

async fn start_workers<L>(ledger: &L, delivery: Delivery, busy: &Busy, workers: &mut JoinSet<()>)
where
    L: Ledger + Clone + Send + Sync + 'static,
{
    let free = delivery.concurrency.saturating_sub(lock(busy).len());
    if free == 0 {
        return;
    }
    let now = ledger.now_ms();
    let due = match ledger.due_notification_merchants(now, MERCHANTS_PER_PASS).await {
        Ok(due) => due,
        Err(e) => return tracing::error!(error = %e, "notification delivery failed"),
    };
    for merchant in due {
        if lock(busy).len() >= delivery.concurrency || !lock(busy).insert(merchant.clone()) {
            continue;
        }
        let (ledger, busy) = (ledger.clone(), busy.clone());
        workers.spawn(async move {
            let _free = Release(busy, merchant.clone());
            if let Err(e) = deliver_merchant(&ledger, &merchant, ledger.now_ms(), delivery.timeout).await {
                tracing::error!(error = %e, %merchant, "notification delivery failed");
            }
        });
    }
}

/// Frees the merchant's place when its worker ends, however it ends.
struct Release(Busy, String);

impl Drop for Release {
    fn drop(&mut self) {
        lock(&self.0).remove(&self.1);
    }
}

fn lock(busy: &Busy) -> std::sync::MutexGuard<'_, HashSet<String>> {
    busy.lock().unwrap_or_else(|e| e.into_inner())
}
