//! IP networks in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address for one
//! host), for the decisions the edge takes by source: which callers may reach the
//! diagnostic services, and later which sources are trusted. Written here because the
//! notation is tiny and fully specified (RFC 4632), and both families are one type.

use std::net::IpAddr;
use std::str::FromStr;

/// An address block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

/// Why a network was not understood (the text is in the message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    /// Not an IPv4 or IPv6 address before the `/`.
    #[error("{0:?} is not an IP address")]
    Address(String),
    /// The prefix length is not a number within the family's width.
    #[error("{0:?}: the prefix length must be 0-32 for IPv4, 0-128 for IPv6")]
    Prefix(String),
    /// Bits are set beyond the prefix (`10.1.0.0/8`): probably a typo, refused.
    #[error("{0:?} has host bits set beyond its prefix")]
    HostBits(String),
}

impl Network {
    /// True when `ip` is inside the block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(u32::from(ip).into(), 32, self.prefix) == u32::from(net).into(),
            (IpAddr::V6(net), IpAddr::V6(ip)) => masked(u128::from(ip), 128, self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

/// Loopback and the private ranges (RFC 1918, RFC 4193): who may reach the line-test
/// services by default.
pub const LOCAL_AND_PRIVATE: &[&str] =
    &["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let mask = (u128::MAX << (width - prefix)) & (u128::MAX >> (128 - width));
    bits & mask
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(s: &str) -> Result<Network, NetworkError> {
        let (addr, prefix) = s.trim().split_once('/').map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr.parse().map_err(|_| NetworkError::Address(s.to_string()))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= width).ok_or_else(|| NetworkError::Prefix(s.to_string()))?
            }
        };
        let net = Network { addr, prefix };
        let bits = match addr {
            IpAddr::V4(v4) => u32::from(v4).into(),
            IpAddr::V6(v6) => u128::from(v6),
        };
        if masked(bits, width, prefix) != bits {
            return Err(NetworkError::HostBits(s.to_string()));
        }
        Ok(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let n: Network = "172.16.0.0/12".parse().unwrap();
        assert!(n.contains(ip("172.31.255.255")) && n.contains(ip("172.16.0.1")));
        assert!(!n.contains(ip("172.32.0.0")) && !n.contains(ip("::1")));
        let one: Network = "198.51.100.7".parse().unwrap();
        assert!(one.contains(ip("198.51.100.7")) && !one.contains(ip("198.51.100.8")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")));
        let v6: Network = "fc00::/7".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!("127.0.0.0/8".parse::<Network>().unwrap().contains(ip("::ffff:127.0.0.2")), "v4-mapped");
    }

    #[test]
    fn bad_networks_are_named() {
        assert_eq!("10.0.0.0/33".parse::<Network>(), Err(NetworkError::Prefix("10.0.0.0/33".into())));
        assert_eq!("10.1.0.0/8".parse::<Network>(), Err(NetworkError::HostBits("10.1.0.0/8".into())));
        assert_eq!("lan".parse::<Network>(), Err(NetworkError::Address("lan".into())));
        assert!("::/129".parse::<Network>().is_err());
    }

    #[test]
    fn the_default_diagnostic_sources_are_loopback_and_private() {
        let nets: Vec<Network> = LOCAL_AND_PRIVATE.iter().map(|n| n.parse().unwrap()).collect();
        for inside in ["127.0.0.2", "10.9.8.7", "192.168.1.1", "::1", "fd00::5"] {
            assert!(nets.iter().any(|n| n.contains(ip(inside))), "{inside}");
        }
        for outside in ["8.8.8.8", "172.32.0.1", "2001:db8::1"] {
            assert!(!nets.iter().any(|n| n.contains(ip(outside))), "{outside}");
        }
    }
}
