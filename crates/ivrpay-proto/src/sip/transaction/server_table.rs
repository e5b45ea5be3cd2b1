//! The non-INVITE server transactions of one dialog, found by branch and bounded.
//!
//! Each in-dialog request (INFO per key, OPTIONS, BYE) leaves a transaction for 64*T1
//! over UDP so a retransmission gets the same answer. A peer sending new branches as
//! fast as it can used to grow a list searched from the start for every request. Here
//! transactions are kept in a map by branch, at most `cap` of them: a new one over the
//! cap pushes out the oldest, which has long been answered and at worst lets a very
//! late retransmission be answered again instead of from the kept bytes. What was
//! pushed out is counted.

use super::server_non_invite::NonInviteServer;
use std::collections::{HashMap, VecDeque};
use std::time::Instant;

/// Transactions kept per dialog: a whole card typed key by key in SIP INFO within
/// 64*T1 (16 + 4 + 3 digits and the menus) fits with room to spare.
pub const MAX_DIALOG_TRANSACTIONS: usize = 64;

/// A dialog's non-INVITE server transactions, by branch.
#[derive(Debug)]
pub struct ServerTable {
    by_branch: HashMap<String, NonInviteServer>,
    /// Branches from oldest to newest, for pushing out.
    order: VecDeque<String>,
    cap: usize,
    evicted: u64,
}

impl Default for ServerTable {
    fn default() -> Self {
        ServerTable::with_cap(MAX_DIALOG_TRANSACTIONS)
    }
}

impl ServerTable {
    /// A table of at most `cap` transactions (at least 1).
    pub fn with_cap(cap: usize) -> Self {
        ServerTable { by_branch: HashMap::new(), order: VecDeque::new(), cap: cap.max(1), evicted: 0 }
    }

    /// The transaction of `branch`, if kept.
    pub fn get_mut(&mut self, branch: &str) -> Option<&mut NonInviteServer> {
        self.by_branch.get_mut(branch)
    }

    /// Keeps `tx` under `branch`, pushing out the oldest when full.
    pub fn insert(&mut self, branch: String, tx: NonInviteServer) {
        if let Some(kept) = self.by_branch.get_mut(&branch) {
            *kept = tx;
            return;
        }
        while self.order.len() >= self.cap {
            if let Some(old) = self.order.pop_front() {
                self.by_branch.remove(&old);
                self.evicted += 1;
            }
        }
        self.order.push_back(branch.clone());
        self.by_branch.insert(branch, tx);
    }

    /// Runs every transaction's timer and forgets those that ended.
    pub fn handle_timeout(&mut self, now: Instant) {
        for tx in self.by_branch.values_mut() {
            tx.handle_timeout(now);
        }
        let by_branch = &mut self.by_branch;
        by_branch.retain(|_, tx| !tx.is_terminated(now));
        self.order.retain(|b| by_branch.contains_key(b));
    }

    /// The earliest wake-up any transaction needs.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_branch.values().filter_map(|tx| tx.poll_timeout()).min()
    }

    /// True when every transaction has ended (or none is kept).
    pub fn all_terminated(&self, now: Instant) -> bool {
        self.by_branch.values().all(|tx| tx.is_terminated(now))
    }

    /// Transactions kept.
    pub fn len(&self) -> usize {
        self.by_branch.len()
    }

    /// True when none is kept.
    pub fn is_empty(&self) -> bool {
        self.by_branch.is_empty()
    }

    /// Transactions pushed out by newer ones since the dialog began.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::transaction::Timers;
    use std::time::Duration;

    fn answered(now: Instant) -> NonInviteServer {
        let mut tx = NonInviteServer::new(false, Timers::default());
        tx.respond(b"SIP/2.0 200 OK\r\n\r\n".to_vec(), now);
        tx
    }

    #[test]
    fn a_flood_of_new_branches_keeps_the_newest_within_the_cap() {
        let now = Instant::now();
        let mut t = ServerTable::with_cap(8);
        for i in 0..10_000 {
            t.insert(format!("z9hG4bK{i}"), answered(now));
        }
        assert_eq!(t.len(), 8);
        assert_eq!(t.evicted(), 10_000 - 8);
        assert!(t.get_mut("z9hG4bK9999").is_some(), "the newest is kept");
        assert!(t.get_mut("z9hG4bK0").is_none(), "the oldest was pushed out");
    }

    #[test]
    fn ended_transactions_are_forgotten_and_the_order_follows() {
        let now = Instant::now();
        let mut t = ServerTable::with_cap(4);
        t.insert("a".into(), answered(now));
        t.insert("b".into(), answered(now + Duration::from_secs(10)));
        assert_eq!(t.poll_timeout(), Some(now + Timers::default().timeout_64t1()));
        t.handle_timeout(now + Timers::default().timeout_64t1());
        assert_eq!(t.len(), 1, "a ended, b still kept");
        assert!(!t.all_terminated(now + Timers::default().timeout_64t1()));
        for i in 0..4 {
            t.insert(format!("n{i}"), answered(now));
        }
        assert_eq!(t.len(), 4);
        assert!(t.get_mut("b").is_none(), "b was the oldest left");
    }
}
