//! The server's admission handle: one permit per call in progress (an owned semaphore
//! permit the call gives back when it ends for the caller, or when its task stops for
//! any other reason), the call's RTP ports, and the draining flag set by shutdown. It
//! must not know SIP parsing (`sip::admission` decides on a request) nor the call's
//! internals.

use crate::media::ports::{PortAllocator, PortError, PortPair};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Call permits, RTP ports and draining, shared by the dispatcher, call tasks and
/// shutdown.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    max: u32,
    ports: PortAllocator,
    draining: AtomicBool,
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
    /// A place was free but no RTP port pair could be bound; the place is given back.
    #[error("no RTP port: {0}")]
    NoMediaPort(#[from] PortError),
}

/// One call's place among the calls in progress: given back exactly once, when
/// dropped, so a failed call can never leave the server refusing calls with 503.
pub type CallPermit = OwnedSemaphorePermit;

impl Admission {
    /// Room for `max_calls` calls at once, each given a port pair from `ports`.
    pub fn new(max_calls: usize, ports: PortAllocator) -> Admission {
        let max = u32::try_from(max_calls).unwrap_or(u32::MAX).min(Semaphore::MAX_PERMITS as u32);
        Admission { permits: Arc::new(Semaphore::new(max as usize)), max, ports, draining: AtomicBool::new(false) }
    }

    /// A place and RTP ports for a new call, if there are both.
    pub fn admit(&self) -> Result<Admitted, Refusal> {
        let permit = self.try_admit().ok_or(Refusal::Full)?;
        Ok(Admitted { permit, ports: self.ports.allocate()? })
    }

    /// A place for a new call, if there is one.
    fn try_admit(&self) -> Option<CallPermit> {
        self.permits.clone().try_acquire_owned().ok()
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
        Admission::new(max_calls, PortAllocator::new("127.0.0.1".parse().unwrap(), 42100, 42140).unwrap())
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
        let permit = a.try_admit().unwrap();
        assert_eq!(a.active_calls(), 1);
        assert!(failing_call(permit).is_err());
        assert_eq!(a.active_calls(), 0, "no place leaked by the early return");
    }

    #[test]
    fn a_place_is_given_back_once_when_the_call_ends_then_the_task_stops() {
        let a = admission(10);
        let other = a.try_admit().unwrap();
        let mut slot = a.try_admit();
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
        let p = a.try_admit().unwrap();
        assert!(a.try_admit().is_none());
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

    #[test]
    fn an_admitted_call_has_a_place_and_ports_and_no_ports_gives_the_place_back() {
        // One port pair only: the second call finds a place but no ports.
        let a = Admission::new(5, PortAllocator::new("127.0.0.1".parse().unwrap(), 42150, 42151).unwrap());
        let first = a.admit().unwrap();
        assert_eq!((a.active_calls(), first.ports.port()), (1, 42150));
        assert!(matches!(a.admit(), Err(Refusal::NoMediaPort(_))));
        assert_eq!(a.active_calls(), 1, "the place taken for the refused call is back");
        drop(first);
        assert!(a.admit().is_ok(), "the ports are free again");
    }

    #[test]
    fn a_full_server_refuses_before_binding_ports() {
        let a = Admission::new(1, PortAllocator::new("127.0.0.1".parse().unwrap(), 42160, 42170).unwrap());
        let _held = a.admit().unwrap();
        assert!(matches!(a.admit(), Err(Refusal::Full)));
    }
}
