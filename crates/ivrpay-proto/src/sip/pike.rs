//! Per-source flood protection, in the manner of Kamailio's pike module: a token bucket
//! per source IP for every message, and a tighter one for new calls (INVITEs outside a
//! dialog). A source over either limit is ignored, not answered, for a cool-down (an
//! answer would only tell a flooder it is heard and cost us the reply); the first drop
//! of a period is reported so the driver logs it once, with the count of the previous
//! period. Trusted sources (a proxy in front, a carrier trunk) have limits of their own.
//!
//! The table is bounded: sources idle for longer than a cool-down are swept when it is
//! full, and while it is still full new sources share one overflow bucket, so spoofed
//! addresses cannot grow memory without bound. Sans-IO: the caller gives `now`.

use super::network::Network;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Rates for one kind of source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// Messages a second, sustained.
    pub messages_per_s: f64,
    /// Messages in a burst.
    pub message_burst: f64,
    /// New INVITEs a second, sustained.
    pub invites_per_s: f64,
    /// New INVITEs in a burst.
    pub invite_burst: f64,
}

/// The guard's settings.
#[derive(Clone, Debug)]
pub struct PikeConfig {
    /// Limits of a source not listed as trusted.
    pub default: Rates,
    /// Trusted networks and their limits, first match wins.
    pub trusted: Vec<(Network, Rates)>,
    /// How long a source over its limit is ignored.
    pub cooldown: Duration,
    /// Most sources tracked at once.
    pub max_sources: usize,
}

/// What a message costs its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any message, as it arrives (before it is parsed).
    Message,
    /// A new call (an INVITE outside any dialog), once parsed: the tighter bucket.
    NewCall,
}

/// What to do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Handle it.
    Pass,
    /// Ignore it (no answer).
    Drop,
    /// Ignore it, and say so once: the source just went over its limit; `dropped` is
    /// how many of its messages the previous block dropped.
    Blocked {
        /// Messages dropped in the source's previous block (0 the first time).
        dropped: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Bucket {
        Bucket { tokens: burst, at: now }
    }

    fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct Source {
    messages: Bucket,
    invites: Bucket,
    blocked_until: Option<Instant>,
    dropped: u64,
    last_dropped: u64,
    seen: Instant,
}

impl Source {
    fn new(r: &Rates, now: Instant) -> Source {
        Source {
            messages: Bucket::full(r.message_burst, now),
            invites: Bucket::full(r.invite_burst, now),
            blocked_until: None,
            dropped: 0,
            last_dropped: 0,
            seen: now,
        }
    }
}

/// The per-source state.
#[derive(Debug)]
pub struct SourceGuard {
    config: PikeConfig,
    sources: HashMap<IpAddr, Source>,
    overflow: Source,
}

impl SourceGuard {
    /// An empty guard.
    pub fn new(config: PikeConfig, now: Instant) -> SourceGuard {
        let overflow = Source::new(&config.default, now);
        SourceGuard { config, sources: HashMap::new(), overflow }
    }

    fn rates(&self, ip: IpAddr) -> Rates {
        self.config.trusted.iter().find(|(n, _)| n.contains(ip)).map(|(_, r)| *r).unwrap_or(self.config.default)
    }

    /// A message (or a new call) from `ip`.
    pub fn check(&mut self, ip: IpAddr, kind: Kind, now: Instant) -> Verdict {
        let rates = self.rates(ip);
        let cooldown = self.config.cooldown;
        let source = self.source(ip, &rates, now);
        source.seen = now;
        if source.blocked_until.is_some_and(|t| now < t) {
            source.dropped += 1;
            return Verdict::Drop;
        }
        let within = match kind {
            Kind::Message => source.messages.take(rates.messages_per_s, rates.message_burst, now),
            Kind::NewCall => source.invites.take(rates.invites_per_s, rates.invite_burst, now),
        };
        if within {
            return Verdict::Pass;
        }
        Self::block_source(source, now + cooldown)
    }

    /// Ignores `ip` for a cool-down whatever its rate (a scanner recognised by its
    /// User-Agent); `Blocked` when it was not blocked already.
    pub fn block(&mut self, ip: IpAddr, now: Instant) -> Verdict {
        let until = now + self.config.cooldown;
        let rates = self.rates(ip);
        let source = self.source(ip, &rates, now);
        if source.blocked_until.is_some_and(|t| now < t) {
            source.dropped += 1;
            return Verdict::Drop;
        }
        Self::block_source(source, until)
    }

    fn block_source(source: &mut Source, until: Instant) -> Verdict {
        source.blocked_until = Some(until);
        source.last_dropped = std::mem::take(&mut source.dropped);
        source.dropped = 1;
        Verdict::Blocked { dropped: source.last_dropped }
    }

    /// The source's state: its own while the table has room (swept when full), else
    /// the shared overflow bucket.
    fn source(&mut self, ip: IpAddr, rates: &Rates, now: Instant) -> &mut Source {
        if !self.sources.contains_key(&ip) && self.sources.len() >= self.config.max_sources {
            self.sweep(now);
        }
        if self.sources.contains_key(&ip) || self.sources.len() < self.config.max_sources {
            self.sources.entry(ip).or_insert_with(|| Source::new(rates, now))
        } else {
            &mut self.overflow
        }
    }

    /// Forgets sources idle for longer than a cool-down (and not blocked).
    fn sweep(&mut self, now: Instant) {
        let idle = self.config.cooldown;
        self.sources
            .retain(|_, s| now.saturating_duration_since(s.seen) < idle || s.blocked_until.is_some_and(|t| now < t));
    }

    /// Sources tracked now (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(messages: f64, invites: f64) -> Rates {
        Rates { messages_per_s: messages, message_burst: messages, invites_per_s: invites, invite_burst: invites }
    }

    fn guard(max_sources: usize) -> (SourceGuard, Instant) {
        let t0 = Instant::now();
        let config = PikeConfig {
            default: rates(20.0, 4.0),
            trusted: vec![("10.0.0.5".parse().unwrap(), rates(1000.0, 200.0))],
            cooldown: Duration::from_secs(10),
            max_sources,
        };
        (SourceGuard::new(config, t0), t0)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_flooding_source_is_ignored_for_the_cooldown_and_reported_once() {
        let (mut g, t0) = guard(100);
        let flood = ip("203.0.113.9");
        let verdicts: Vec<Verdict> = (0..10).map(|_| g.check(flood, Kind::NewCall, t0)).collect();
        assert_eq!(&verdicts[..4], [Verdict::Pass; 4], "the INVITE burst passes");
        assert_eq!(verdicts[4], Verdict::Blocked { dropped: 0 }, "then it is blocked, said once");
        assert!(verdicts[5..].iter().all(|v| *v == Verdict::Drop));
        // Another source is not affected.
        assert_eq!(g.check(ip("198.51.100.1"), Kind::NewCall, t0), Verdict::Pass);
        // Still ignored during the cool-down, even for in-dialog messages.
        assert_eq!(g.check(flood, Kind::Message, t0 + Duration::from_secs(9)), Verdict::Drop);
        // After it, heard again (the bucket refilled); a new block reports the old count.
        assert_eq!(g.check(flood, Kind::NewCall, t0 + Duration::from_secs(11)), Verdict::Pass);
        let next: Vec<Verdict> = (0..5).map(|_| g.check(flood, Kind::NewCall, t0 + Duration::from_secs(11))).collect();
        assert_eq!(next[3], Verdict::Blocked { dropped: 7 }, "{next:?}");
    }

    #[test]
    fn messages_and_new_calls_have_separate_rates() {
        let (mut g, t0) = guard(100);
        let s = ip("198.51.100.2");
        // 20 in-dialog messages a second pass; a 21st in the same instant does not.
        assert!((0..20).all(|_| g.check(s, Kind::Message, t0) == Verdict::Pass));
        assert_eq!(g.check(s, Kind::Message, t0), Verdict::Blocked { dropped: 0 });
        // Sustained rate: one INVITE every 250 ms forever passes (4 a second).
        let (mut g, t0) = guard(100);
        assert!((0..100).all(|i| g.check(s, Kind::NewCall, t0 + Duration::from_millis(250 * i)) == Verdict::Pass));
    }

    #[test]
    fn a_trusted_proxy_has_its_own_limits() {
        let (mut g, t0) = guard(100);
        assert!((0..150).all(|_| g.check(ip("10.0.0.5"), Kind::NewCall, t0) == Verdict::Pass));
        assert!((0..150).filter(|_| g.check(ip("10.0.0.6"), Kind::NewCall, t0) == Verdict::Pass).count() == 4);
    }

    #[test]
    fn the_table_stays_bounded_under_spoofed_sources() {
        let (mut g, t0) = guard(50);
        for i in 0..10_000u32 {
            let spoofed = IpAddr::from((0xc000_0000u32 + i).to_be_bytes());
            g.check(spoofed, Kind::NewCall, t0 + Duration::from_millis(i as u64));
        }
        assert!(g.tracked() <= 50, "{}", g.tracked());
        // Idle sources make room again.
        assert_eq!(g.check(ip("198.51.100.3"), Kind::NewCall, t0 + Duration::from_secs(60)), Verdict::Pass);
        assert!(g.tracked() <= 50);
    }
}
