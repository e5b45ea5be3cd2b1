//! SIP signalling without IO: the message facade over rsip, SDP, RFC 3261 transactions
//! and dialogs, framing of stream transports, and admission of new calls. It turns bytes
//! and instants into bytes to send and instants to wake at; the sockets that carry them
//! (`ivrpay::sip::transport`) live in the root package.

pub mod admission;
pub mod dialog;
pub mod framing;
pub mod headers;
pub mod message;
pub mod network;
pub mod normalise;
pub mod per_source;
pub mod pike;
pub mod redact;
pub mod sdp;
pub mod transaction;
pub mod via;

#[cfg(test)]
mod conformance_layers_tests;
#[cfg(test)]
mod conformance_tests;

use std::net::{IpAddr, SocketAddr};

/// The transport a message came over, which decides retransmission rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Datagrams: we retransmit.
    Udp,
    /// A stream: reliable, framed by Content-Length.
    Tcp,
}

impl Transport {
    /// True for transports that do not lose messages (no retransmission needed).
    pub fn is_reliable(self) -> bool {
        matches!(self, Transport::Tcp)
    }

    /// The token used in Via headers.
    pub fn via_token(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Where a message came from, so answers and in-dialog requests go back the same way
/// (RFC 3261 18.2.2 for UDP with rport semantics, the same connection for TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// Transport of the flow.
    pub transport: Transport,
    /// The peer's address as seen on the socket.
    pub remote: SocketAddr,
    /// Connection id for TCP (0 for UDP).
    pub conn: u64,
    /// Our address on a TCP connection (where the peer reached us), so a call can
    /// advertise it; None for UDP, whose wildcard socket cannot tell.
    pub local: Option<IpAddr>,
}
