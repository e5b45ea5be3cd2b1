//! When a call may send audio. ivrpay's RTP goes out only once the caller is known to
//! be where it says it is: after the ACK of our 2xx (the caller saw our tag, so its
//! signalling address is not forged) or its first RTP packet from an address it may
//! use (see `media::inbound`); never to a loopback, multicast, broadcast or unspecified
//! address unless the caller itself signals from loopback (a local test), until the
//! stream latches to a real source; and only in a direction the SDP allows. Without
//! this, one forged INVITE naming someone else's address would make the server send
//! them 80 kbit/s for the whole call.

use crate::sip::sdp::{Direction, Negotiated};
use std::net::IpAddr;

/// The conditions for sending, and what the pacer was last told.
#[derive(Debug)]
pub struct MediaGate {
    local_caller: bool,
    confirmed: bool,
    started: bool,
    destination_ok: bool,
    direction_ok: bool,
    told: Option<bool>,
}

impl MediaGate {
    /// A gate for a caller signalling from `signalling`.
    pub fn new(signalling: IpAddr) -> MediaGate {
        MediaGate {
            local_caller: signalling.is_loopback(),
            confirmed: false,
            started: false,
            destination_ok: false,
            direction_ok: false,
            told: None,
        }
    }

    /// The caller acknowledged our 2xx.
    pub fn confirm(&mut self) {
        self.confirmed = true;
    }

    /// A packet of the caller's was heard (its stream is latched to where it comes
    /// from): the caller is there, and so is where we now send.
    pub fn heard(&mut self) {
        self.confirmed = true;
        self.destination_ok = true;
    }

    /// True once the caller proved it is where it signalled from.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }

    /// Media was agreed (answer or late-offer ACK), or changed by a re-INVITE: a new
    /// address must be one we may send to, or wait for the caller's packets.
    pub fn agreed(&mut self, neg: &Negotiated) {
        self.started = true;
        self.direction_ok = matches!(neg.direction, Direction::SendRecv | Direction::SendOnly) && !neg.hold;
        self.destination_ok = self.local_caller || routable(neg.remote_rtp.ip());
    }

    /// Whether audio may be sent now.
    pub fn open(&self) -> bool {
        self.started && self.confirmed && self.destination_ok && self.direction_ok
    }

    /// The sending state to tell the pacer, when it changed (always once media started).
    pub fn poll_change(&mut self) -> Option<bool> {
        if !self.started {
            return None;
        }
        let now = self.open();
        (self.told != Some(now)).then(|| {
            self.told = Some(now);
            now
        })
    }
}

/// An address a caller elsewhere could really be at.
fn routable(ip: IpAddr) -> bool {
    let broadcast = matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    !(ip.is_loopback() || ip.is_multicast() || ip.is_unspecified() || broadcast)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::Codec;

    fn neg(remote: &str, direction: Direction) -> Negotiated {
        Negotiated {
            codec: Codec::Pcmu,
            payload_type: 0,
            telephone_event: Some(101),
            remote_rtp: remote.parse().unwrap(),
            direction,
            ptime: 20,
            hold: false,
        }
    }

    #[test]
    fn nothing_is_sent_before_the_ack_or_the_callers_first_packet() {
        let mut g = MediaGate::new("198.51.100.7".parse().unwrap());
        assert_eq!(g.poll_change(), None, "no media yet");
        g.agreed(&neg("198.51.100.7:4000", Direction::SendRecv));
        assert_eq!(g.poll_change(), Some(false), "answered, not acknowledged");
        g.confirm();
        assert_eq!((g.poll_change(), g.poll_change()), (Some(true), None));
        let mut g = MediaGate::new("198.51.100.7".parse().unwrap());
        g.agreed(&neg("198.51.100.7:4000", Direction::SendRecv));
        g.heard();
        assert!(g.open(), "the caller's first packet also proves it is there");
    }

    #[test]
    fn a_remote_caller_naming_loopback_multicast_or_nothing_waits_for_its_packets() {
        for bad in ["127.0.0.1:4000", "224.0.0.5:4000", "0.0.0.0:4000", "255.255.255.255:4000", "[::1]:4000"] {
            let mut g = MediaGate::new("198.51.100.7".parse().unwrap());
            g.agreed(&neg(bad, Direction::SendRecv));
            g.confirm();
            assert!(!g.open(), "{bad}");
            g.heard();
            assert!(g.open(), "{bad}: latched to where its packets come from");
        }
        let mut local = MediaGate::new("127.0.0.1".parse().unwrap());
        local.agreed(&neg("127.0.0.1:4000", Direction::SendRecv));
        local.confirm();
        assert!(local.open(), "a caller on loopback may be sent to on loopback");
    }

    #[test]
    fn direction_and_hold_close_the_gate() {
        let mut g = MediaGate::new("198.51.100.7".parse().unwrap());
        g.agreed(&neg("198.51.100.7:4000", Direction::RecvOnly));
        g.confirm();
        assert_eq!(g.poll_change(), Some(false));
        g.agreed(&neg("198.51.100.7:4000", Direction::SendRecv));
        assert_eq!(g.poll_change(), Some(true));
    }
}
