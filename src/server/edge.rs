//! The edge's per-source protections, built from `[sip]`: the flood guard's rates and
//! trusted networks (`sip::pike`), the per-source call caps (`call::admission`), and
//! the User-Agents of known SIP scanners, whose requests are dropped unanswered.

use crate::call::admission::SourceCaps;
use crate::config::SipConfig;
use crate::sip::network::{Network, NetworkError};
use crate::sip::pike::{PikeConfig, Rates};
use std::time::Duration;

/// How many sources the flood guard tracks at once (about 100 bytes each).
const MAX_SOURCES: usize = 65_536;

/// User-Agent fragments of scanning tools (sipvicious' "friendly-scanner" and its
/// kin), compared without case. A scanner can lie, so this only spares the noise of
/// the honest ones; the rates catch the rest.
const SCANNERS: &[&str] = &[
    "friendly-scanner",
    "sipvicious",
    "sip-scan",
    "sipscan",
    "sipcli",
    "sundayddr",
    "iwar",
    "vaxsipuseragent",
    "pplsip",
];

/// True when `user_agent` names a known scanner.
pub fn is_scanner(user_agent: &str) -> bool {
    let ua = user_agent.to_ascii_lowercase();
    SCANNERS.iter().any(|s| ua.contains(s))
}

fn trusted(sip: &SipConfig) -> Result<Vec<(Network, &crate::config::TrustedSource)>, NetworkError> {
    sip.trusted_sources.iter().map(|t| Ok((t.network.parse()?, t))).collect()
}

/// The flood guard's settings.
pub fn pike_config(sip: &SipConfig) -> Result<PikeConfig, NetworkError> {
    let rates = |messages: u32, burst: u32, invites: u32, invite_burst: u32| Rates {
        messages_per_s: messages as f64,
        message_burst: burst as f64,
        invites_per_s: invites as f64,
        invite_burst: invite_burst as f64,
    };
    let default = rates(sip.messages_per_s, sip.message_burst, sip.invites_per_s, sip.invite_burst);
    let trusted = trusted(sip)?
        .into_iter()
        .map(|(n, t)| (n, rates(t.messages_per_s, t.messages_per_s * 2, t.invites_per_s, t.invites_per_s * 2)))
        .collect();
    Ok(PikeConfig { default, trusted, cooldown: Duration::from_secs(sip.flood_cooldown_s), max_sources: MAX_SOURCES })
}

/// The per-source call caps.
pub fn source_caps(sip: &SipConfig) -> Result<SourceCaps, NetworkError> {
    let trusted = trusted(sip)?.into_iter().map(|(n, t)| (n, t.max_calls)).collect();
    Ok(SourceCaps { default: sip.max_calls_per_source, trusted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanners_are_known_by_their_user_agent() {
        assert!(is_scanner("friendly-scanner"));
        assert!(is_scanner("SIPVicious 0.3.4"));
        assert!(!is_scanner("baresip v3.10.1 (x86_64/linux)") && !is_scanner("ivrpay-caller"));
    }

    #[test]
    fn loopback_is_trusted_by_default_and_others_get_the_tight_rates() {
        let sip = SipConfig::default();
        let p = pike_config(&sip).unwrap();
        assert_eq!(p.default.invites_per_s, 5.0);
        assert!(p.trusted.iter().any(|(n, r)| n.contains("127.0.0.1".parse().unwrap()) && r.invites_per_s >= 1000.0));
        assert!(
            !p.trusted.iter().any(|(n, _)| n.contains("127.0.0.2".parse().unwrap())),
            "other loopback hosts are not"
        );
        let caps = source_caps(&sip).unwrap();
        assert_eq!(caps.default, 20);
    }
}
