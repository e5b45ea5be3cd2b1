//! What each source address holds at once (calls in progress, TCP connections), under
//! a cap, each place given back when its guard is dropped: so one address cannot take
//! what all callers share, and a place can never leak. The table holds only sources
//! that hold something, so it is bounded by what the caps and the global limits allow.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Places held per source address.
#[derive(Clone, Debug, Default)]
pub struct PerSource {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One place held by a source; given back when dropped.
#[derive(Debug)]
pub struct SourcePlace {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerSource {
    /// A place for `ip` if it holds fewer than `cap`.
    pub fn take(&self, ip: IpAddr, cap: usize) -> Option<SourcePlace> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let held = counts.entry(ip).or_insert(0);
        if *held >= cap {
            if *held == 0 {
                counts.remove(&ip);
            }
            return None;
        }
        *held += 1;
        Some(SourcePlace { counts: self.counts.clone(), ip })
    }

    /// Places `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for SourcePlace {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_holds_up_to_its_cap_and_places_come_back_when_dropped() {
        let p = PerSource::default();
        let (a, b): (IpAddr, IpAddr) = ("203.0.113.1".parse().unwrap(), "203.0.113.2".parse().unwrap());
        let held: Vec<_> = (0..2).map(|_| p.take(a, 2).unwrap()).collect();
        assert!(p.take(a, 2).is_none());
        assert!(p.take(b, 2).is_some(), "another source is not affected");
        drop(held);
        assert_eq!(p.held(a), 0);
        assert!(p.take(a, 0).is_none() && p.counts.lock().unwrap().is_empty(), "nothing kept for a refused source");
    }
}
