//! RTP port allocation from a configured even range (RTP on the even port, RTCP on the
//! odd one above it, RFC 3550 11). Each call's pair is drawn at random in the range (the
//! next free pair after a random one), so a call's port cannot be guessed from the
//! previous call's, and a port just freed is rarely reused at once while late packets
//! of the old call may still arrive. When the process runs out of descriptors the
//! search stops at once instead of trying every pair.

use rand::Rng;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Why no port pair could be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every pair in the range is in use (or could not be bound).
    #[error("no free RTP port pair in {start}-{end}")]
    Exhausted {
        /// First port of the configured range.
        start: u16,
        /// Last port of the configured range.
        end: u16,
    },
    /// The process (or the system) has no descriptor left for a socket.
    #[error("no file descriptor left for an RTP socket: {0}")]
    Descriptors(std::io::Error),
    /// The range is empty or odd-sized.
    #[error("invalid RTP port range {start}-{end}: need an even start and at least one pair")]
    BadRange {
        /// `rtp_port_min` as configured.
        start: u16,
        /// `rtp_port_max` as configured.
        end: u16,
    },
}

/// A bound RTP/RTCP socket pair. Dropping it frees the ports.
#[derive(Debug)]
pub struct PortPair {
    /// The RTP socket (non-blocking).
    pub rtp: UdpSocket,
    /// The RTCP socket (non-blocking); we read and discard what arrives.
    pub rtcp: UdpSocket,
}

impl PortPair {
    /// The RTP port.
    pub fn port(&self) -> u16 {
        self.rtp.local_addr().map(|a| a.port()).unwrap_or(0)
    }
}

/// Hands out port pairs.
#[derive(Debug)]
pub struct PortAllocator {
    ip: IpAddr,
    start: u16,
    end: u16,
}

impl PortAllocator {
    /// An allocator over `[start, end]` on `ip`.
    pub fn new(ip: IpAddr, start: u16, end: u16) -> Result<Self, PortError> {
        if !start.is_multiple_of(2) || end <= start {
            return Err(PortError::BadRange { start, end });
        }
        Ok(PortAllocator { ip, start, end })
    }

    /// The highest RTP port handed out: `end` is the last RTP port (configured
    /// `rtp_port_max`), rounded down to even; its RTCP port is the odd one above.
    fn last_rtp_port(&self) -> u16 {
        self.end & !1
    }

    /// Binds a free even/odd pair, searching from a random one.
    pub fn allocate(&self) -> Result<PortPair, PortError> {
        let pairs = (self.last_rtp_port() - self.start) / 2 + 1;
        let first = rand::thread_rng().gen_range(0..pairs);
        for i in 0..pairs {
            let port = self.start + ((first + i) % pairs) * 2;
            match self.bind_pair(port) {
                Ok(Some(pair)) => return Ok(pair),
                Ok(None) => continue,
                Err(e) => return Err(PortError::Descriptors(e)),
            }
        }
        Err(PortError::Exhausted { start: self.start, end: self.end })
    }

    /// The pair at `port`, None if either port is taken; an error when descriptors
    /// ran out (trying the other pairs would only fail the same way).
    fn bind_pair(&self, port: u16) -> std::io::Result<Option<PortPair>> {
        let bind = |p: u16| match UdpSocket::bind(SocketAddr::new(self.ip, p)) {
            Ok(s) => s.set_nonblocking(true).map(|_| Some(s)),
            Err(e) if out_of_descriptors(&e) => Err(e),
            Err(_) => Ok(None),
        };
        let Some(rtp) = bind(port)? else { return Ok(None) };
        let Some(rtcp) = bind(port + 1)? else { return Ok(None) };
        Ok(Some(PortPair { rtp, rtcp }))
    }
}

/// EMFILE (this process) or ENFILE (the system).
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24) | Some(23))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_even_pairs_and_reports_exhaustion() {
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41000, 41004).unwrap();
        let p1 = a.allocate().unwrap();
        let p2 = a.allocate().unwrap();
        let p3 = a.allocate().unwrap();
        assert_eq!(p1.port() % 2, 0);
        assert_ne!(p1.port(), p2.port());
        assert!(matches!(a.allocate(), Err(PortError::Exhausted { .. })));
        drop(p1);
        assert!(a.allocate().is_ok(), "a freed pair is reused");
        drop((p2, p3));
        assert!(PortAllocator::new("127.0.0.1".parse().unwrap(), 41001, 41010).is_err());
    }

    #[test]
    fn every_pair_up_to_the_last_configured_rtp_port_is_handed_out() {
        // rtp_port_max is the last RTP port (RTCP on the odd port above it).
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41010, 41014).unwrap();
        let held: Vec<PortPair> = (0..3).map(|_| a.allocate().unwrap()).collect();
        let mut ports: Vec<u16> = held.iter().map(|p| p.port()).collect();
        ports.sort();
        assert_eq!(ports, [41010, 41012, 41014]);
        // An odd maximum: the top pair is 41024/41025.
        let b = PortAllocator::new("127.0.0.1".parse().unwrap(), 41020, 41025).unwrap();
        let held: Vec<PortPair> = (0..3).map(|_| b.allocate().unwrap()).collect();
        let top = held.iter().find(|p| p.port() == 41024).expect("the top pair is used");
        assert_eq!(top.rtcp.local_addr().unwrap().port(), 41025);
        assert!(matches!(b.allocate(), Err(PortError::Exhausted { .. })), "every pair tried before giving up");
    }

    #[test]
    fn ports_are_drawn_at_random_not_in_sequence() {
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41100, 41298).unwrap();
        let ports: Vec<u16> = (0..20).map(|_| a.allocate().unwrap().port()).collect();
        let steps_of_two = ports.windows(2).filter(|w| w[1] == w[0] + 2).count();
        // In sequence all 19 steps would be +2; at random among 100 pairs, a handful.
        assert!(steps_of_two < 10, "{ports:?}");
        assert!(ports.iter().all(|p| p % 2 == 0 && (41100..=41298).contains(p)));
    }
}
