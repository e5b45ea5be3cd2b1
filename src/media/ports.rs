//! RTP port allocation from a configured even range (RTP on the even port, RTCP on the
//! odd one above it, RFC 3550 11), round-robin so a port just freed is not reused at
//! once while late packets of the old call may still arrive.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Mutex;

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
    cursor: Mutex<u16>,
}

impl PortAllocator {
    /// An allocator over `[start, end]` on `ip`.
    pub fn new(ip: IpAddr, start: u16, end: u16) -> Result<Self, PortError> {
        if !start.is_multiple_of(2) || end <= start {
            return Err(PortError::BadRange { start, end });
        }
        Ok(PortAllocator { ip, start, end, cursor: Mutex::new(start) })
    }

    /// The highest RTP port handed out: `end` is the last RTP port (configured
    /// `rtp_port_max`), rounded down to even; its RTCP port is the odd one above.
    fn last_rtp_port(&self) -> u16 {
        self.end & !1
    }

    /// Binds the next free even/odd pair.
    pub fn allocate(&self) -> Result<PortPair, PortError> {
        let last = self.last_rtp_port();
        let pairs = (last - self.start) / 2 + 1;
        let mut cursor = self.cursor.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..pairs {
            let port = *cursor;
            *cursor = if port >= last { self.start } else { port + 2 };
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(self.ip, port)) else { continue };
            let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(self.ip, port + 1)) else { continue };
            if rtp.set_nonblocking(true).is_err() || rtcp.set_nonblocking(true).is_err() {
                continue;
            }
            return Ok(PortPair { rtp, rtcp });
        }
        Err(PortError::Exhausted { start: self.start, end: self.end })
    }
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
    fn the_last_configured_rtp_port_is_used_then_the_cursor_wraps() {
        // rtp_port_max is the last RTP port (RTCP on the odd port above it).
        let a = PortAllocator::new("127.0.0.1".parse().unwrap(), 41010, 41014).unwrap();
        let ports: Vec<u16> = (0..3).map(|_| a.allocate().unwrap()).map(|p| p.port()).collect();
        assert_eq!(ports, [41010, 41012, 41014]);
        assert_eq!(a.allocate().unwrap().port(), 41010, "wraps to the start after the top pair");
        // An odd maximum: the top pair is 41024/41025.
        let b = PortAllocator::new("127.0.0.1".parse().unwrap(), 41020, 41025).unwrap();
        let held: Vec<PortPair> = (0..3).map(|_| b.allocate().unwrap()).collect();
        assert_eq!(held.last().unwrap().port(), 41024);
        assert_eq!(held.last().unwrap().rtcp.local_addr().unwrap().port(), 41025);
        assert!(matches!(b.allocate(), Err(PortError::Exhausted { .. })), "every pair tried before giving up");
    }
}
