//! The server's admission handle: one permit per call in progress (an owned semaphore
//! permit the call gives back when it ends for the caller, or when its task stops for
//! any other reason), a cap on the calls of one source (so one address cannot take
//! every place), the call's RTP ports, and the draining flag set by shutdown. It must
//! not know SIP parsing (`sip::admission` decides on a request) nor the call's
//! internals.

use crate::media::ports::{PortAllocator, PortError, PortPair};
use crate::sip::network::Network;
use crate::sip::per_source::{PerSource, SourcePlace};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many calls one source may have in progress.
#[derive(Clone, Debug)]
pub struct SourceCaps {
    /// Any source not listed below.
    pub default: usize,
    /// Listed networks (trusted proxies, trunks) and their caps; 0: no cap of its own.
    pub trusted: Vec<(Network, usize)>,
}

impl SourceCaps {
    /// No cap below `max_calls` (for tests of other things).
    pub fn none() -> SourceCaps {
        SourceCaps { default: usize::MAX, trusted: Vec::new() }
    }

    fn of(&self, ip: IpAddr) -> usize {
        match self.trusted.iter().find(|(n, _)| n.contains(ip)) {
            Some((_, 0)) => usize::MAX,
            Some((_, cap)) => *cap,
            None => self.default,
        }
    }
}

/// Call permits, RTP ports and draining, shared by the dispatcher, call tasks and
/// shutdown.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    max: u32,
    ports: PortAllocator,
    caps: SourceCaps,
    per_source: PerSource,
    draining: AtomicBool,
}

/// One call's place among the calls in progress: given back exactly once, when
/// dropped (with its source's count), so a failed call can never leave the server
/// refusing calls with 503.
#[derive(Debug)]
pub struct CallPermit {
    _place: OwnedSemaphorePermit,
    _source: SourcePlace,
}

/// What an admitted call is given: its place and its RTP/RTCP sockets.
#[derive(Debug)]
pub struct Admitted {
    /// Its place among the calls in progress.
    pub permit: CallPermit,
    /// Its RTP and RTCP sockets, bound.
    pub ports: PortPair,
}

/// Why a call was not admitted (both answered 503 with `Retry-After`).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Every place is taken (`max_calls`).
    #[error("call limit reached")]
    Full,
    /// The source already has as many calls as it may (`max_calls_per_source`).
    #[error("call limit reached for {0}")]
    SourceFull(IpAddr),
    /// A place was free but no RTP port pair could be bound; the place is given back.
    #[error("no RTP port: {0}")]
    NoMediaPort(#[from] PortError),
}

impl Admission {
    /// Room for `max_calls` calls at once (and `caps` from one source), each given a
    /// port pair from `ports`.
    pub fn new(max_calls: usize, caps: SourceCaps, ports: PortAllocator) -> Admission {
        let max = u32::try_from(max_calls).unwrap_or(u32::MAX).min(Semaphore::MAX_PERMITS as u32);
        let permits = Arc::new(Semaphore::new(max as usize));
        Admission { permits, max, ports, caps, per_source: PerSource::default(), draining: AtomicBool::new(false) }
    }

    /// A place and RTP ports for a new call from `source`, if there are both and the
    /// source is within its cap.
    pub fn admit(&self, source: IpAddr) -> Result<Admitted, Refusal> {
        let permit = self.try_admit(source)?;
        Ok(Admitted { permit, ports: self.ports.allocate()? })
    }

    /// A place for a new call from `source`, if there is one.
    fn try_admit(&self, source: IpAddr) -> Result<CallPermit, Refusal> {
        let held = self.per_source.take(source, self.caps.of(source)).ok_or(Refusal::SourceFull(source))?;
        let place = self.permits.clone().try_acquire_owned().map_err(|_| Refusal::Full)?;
        Ok(CallPermit { _place: place, _source: held })
    }

    /// How many calls may hold a place at once.
    pub fn max_calls(&self) -> usize {
        self.max as usize
    }

    /// Number of calls holding a place.
    pub fn active_calls(&self) -> usize {
        self.max as usize - self.permits.available_permits()
    }

    /// Shutdown began: new calls are refused.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// True once shutdown began.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Waits until every place is given back or `deadline` passes; true if all were.
    pub async fn wait_idle(&self, deadline: tokio::time::Instant) -> bool {
        matches!(tokio::time::timeout_at(deadline, self.permits.acquire_many(self.max)).await, Ok(Ok(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_calls: usize) -> Admission {
        let ports = PortAllocator::new("127.0.0.1".parse().unwrap(), 42100, 42140).unwrap();
        Admission::new(max_calls, SourceCaps::none(), ports)
    }

    fn me() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    /// Stands for a call task that fails before its call ends (the `?` on a socket).
    fn failing_call(permit: CallPermit) -> std::io::Result<()> {
        let _permit = permit;
        Err(std::io::Error::other("socket gone"))?;
        unreachable!()
    }

    #[test]
    fn a_call_that_fails_early_gives_its_place_back() {
        let a = admission(10);
        let permit = a.try_admit(me()).ok().unwrap();
        assert_eq!(a.active_calls(), 1);
        assert!(failing_call(permit).is_err());
        assert_eq!(a.active_calls(), 0, "no place leaked by the early return");
    }

    #[test]
    fn a_place_is_given_back_once_when_the_call_ends_then_the_task_stops() {
        let a = admission(10);
        let other = a.try_admit(me()).ok().unwrap();
        let mut slot = a.try_admit(me()).ok();
        slot.take();
        assert_eq!(a.active_calls(), 1);
        slot.take();
        drop(slot);
        assert_eq!(a.active_calls(), 1, "ended then dropped counts once");
        drop(other);
        assert_eq!(a.active_calls(), 0);
    }

    #[test]
    fn no_place_beyond_the_limit_and_idle_once_all_are_back() {
        let a = admission(1);
        let p = a.try_admit(me()).ok().unwrap();
        assert!(a.try_admit(me()).ok().is_none());
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(10);
        assert!(!rt.block_on(a.wait_idle(soon)), "a call still holds its place");
        drop(p);
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(10);
        assert!(rt.block_on(a.wait_idle(soon)));
    }
}

#[cfg(test)]
mod admit_tests {
    use super::*;

    fn me() -> IpAddr {
        "127.0.0.1".parse().unwrap()
    }

    #[test]
    fn one_source_holds_its_cap_while_another_is_admitted_and_trusted_ones_have_their_own() {
        let ports = PortAllocator::new("127.0.0.1".parse().unwrap(), 42180, 42220).unwrap();
        let caps = SourceCaps { default: 2, trusted: vec![("10.0.0.5".parse().unwrap(), 0)] };
        let a = Admission::new(10, caps, ports);
        let (greedy, other, proxy): (IpAddr, IpAddr, IpAddr) =
            ("203.0.113.9".parse().unwrap(), "198.51.100.1".parse().unwrap(), "10.0.0.5".parse().unwrap());
        let held: Vec<_> = (0..2).map(|_| a.admit(greedy).unwrap()).collect();
        assert!(matches!(a.admit(greedy), Err(Refusal::SourceFull(ip)) if ip == greedy));
        let _other = a.admit(other).unwrap();
        let through_proxy: Vec<_> = (0..5).map(|_| a.admit(proxy).unwrap()).collect();
        assert_eq!(a.active_calls(), 8);
        drop(held);
        assert!(a.admit(greedy).is_ok(), "its places came back with its calls");
        drop(through_proxy);
    }

    #[test]
    fn an_admitted_call_has_a_place_and_ports_and_no_ports_gives_the_place_back() {
        // One port pair only: the second call finds a place but no ports.
        let a = Admission::new(
            5,
            SourceCaps::none(),
            PortAllocator::new("127.0.0.1".parse().unwrap(), 42150, 42151).unwrap(),
        );
        let first = a.admit(me()).unwrap();
        assert_eq!((a.active_calls(), first.ports.port()), (1, 42150));
        assert!(matches!(a.admit(me()), Err(Refusal::NoMediaPort(_))));
        assert_eq!(a.active_calls(), 1, "the place taken for the refused call is back");
        drop(first);
        assert!(a.admit(me()).is_ok(), "the ports are free again");
    }

    #[test]
    fn a_full_server_refuses_before_binding_ports() {
        let a = Admission::new(
            1,
            SourceCaps::none(),
            PortAllocator::new("127.0.0.1".parse().unwrap(), 42160, 42170).unwrap(),
        );
        let _held = a.admit(me()).unwrap();
        assert!(matches!(a.admit(me()), Err(Refusal::Full)));
    }
}
