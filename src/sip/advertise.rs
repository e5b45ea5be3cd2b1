//! Which of our addresses a call advertises (Contact, Via of our requests, SDP `o=` and
//! `c=`) when the server listens on all interfaces and no `public_ip` is configured.
//!
//! A wildcard listen address says nothing a peer can use, and a fixed fallback such as
//! 127.0.0.1 only works for a caller on the same machine: a softphone elsewhere would
//! send its ACK, BYE and RTP to its own loopback. The right address is the one the
//! caller's packets reach us on, which is the one the kernel picks to route back to it:
//! the TCP connection's local address, or for UDP the source address of a route lookup
//! towards the caller (connecting a throwaway UDP socket sends nothing).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

/// The source address the kernel would use to reach `remote` (no packet is sent).
pub fn route_source(remote: SocketAddr) -> std::io::Result<IpAddr> {
    let any: SocketAddr = match remote {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let probe = UdpSocket::bind(any)?;
    probe.connect(remote)?;
    Ok(probe.local_addr()?.ip())
}

/// The address one call advertises: the configured one when there is one, else the
/// local address of the connection the INVITE came on (TCP), else the route lookup
/// towards the caller. Loopback only when nothing better can be known (no route).
pub fn advertised_ip(configured: Option<IpAddr>, connection_local: Option<IpAddr>, remote: SocketAddr) -> IpAddr {
    if let Some(ip) = configured {
        return ip;
    }
    if let Some(ip) = connection_local.filter(|ip| !ip.is_unspecified()) {
        return ip;
    }
    match route_source(remote) {
        Ok(ip) if !ip.is_unspecified() => ip,
        _ if remote.is_ipv6() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_address_always_wins() {
        let public: IpAddr = "192.0.2.10".parse().unwrap();
        let remote: SocketAddr = "127.0.0.1:5070".parse().unwrap();
        assert_eq!(advertised_ip(Some(public), Some("10.1.2.3".parse().unwrap()), remote), public);
    }

    #[test]
    fn a_tcp_connection_advertises_its_own_local_address() {
        let local: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(advertised_ip(None, Some(local), "127.0.0.1:5070".parse().unwrap()), local);
        // A wildcard is never advertised: fall back to the route lookup.
        let any = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(advertised_ip(None, any, "127.0.0.1:5070".parse().unwrap()), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn a_loopback_caller_gets_loopback() {
        assert_eq!(advertised_ip(None, None, "127.0.0.1:5070".parse().unwrap()), IpAddr::V4(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn a_caller_elsewhere_gets_the_address_that_routes_to_it_not_loopback() {
        // This host's own non-loopback address, as the kernel routes to a documentation
        // address; the check below then uses it as the caller (a peer on this host's
        // network reaches us on exactly that address).
        let Ok(own) = route_source("198.51.100.7:5060".parse().unwrap()) else {
            eprintln!("no IPv4 route on this machine: only loopback can be checked");
            return;
        };
        assert!(!own.is_loopback() && !own.is_unspecified(), "{own}");
        let chosen = advertised_ip(None, None, SocketAddr::new(own, 5060));
        assert_eq!(chosen, own, "a caller reaching us on {own} must be told {own}");
        let far = advertised_ip(None, None, "198.51.100.7:5060".parse().unwrap());
        assert_eq!(far, own);
        assert!(!far.is_loopback(), "a remote caller is never told 127.0.0.1");
    }
}
