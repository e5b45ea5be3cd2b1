//! Server configuration: a TOML file, every key optional, with defaults that run a
//! complete server on one machine (SQLite file, built-in payment simulator, shipped
//! prompts and dialplans).

use crate::sip::network::{Network, NetworkError, LOCAL_AND_PRIVATE};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The configuration file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// TOML syntax or a wrong type; the message carries the line.
    #[error("{path}: {message}")]
    Syntax {
        /// The configuration file.
        path: PathBuf,
        /// The TOML parser's message, with its line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The configuration file.
        path: PathBuf,
        /// The key at fault, as `section.key`.
        key: &'static str,
        /// What is wrong and what is accepted.
        message: String,
    },
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// SIP signalling.
    pub sip: SipConfig,
    /// RTP and call guards.
    pub media: MediaConfig,
    /// Service numbers.
    pub services: ServicesConfig,
    /// Prompt recordings.
    pub prompts: PromptsConfig,
    /// Database.
    pub storage: StorageConfig,
    /// Extranet HTTP server.
    pub http: HttpConfig,
    /// Payment platform.
    pub payments: PaymentsConfig,
    /// Call flows.
    pub dialplans: DialplansConfig,
}

/// `[dialplans]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialplansConfig {
    /// Directory of the flow files (`*.toml`), one per service.
    pub dir: PathBuf,
}

impl Default for DialplansConfig {
    fn default() -> Self {
        DialplansConfig { dir: PathBuf::from("dialplans") }
    }
}

/// `[payments]` (its `Debug` never shows the Sips secret key).
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// `simulator` (built in, the default) or `sips` (Office JSON connector).
    pub gateway: String,
    /// Sips base URL: the platform's `https://` address, or a local `ivrpay simulator`.
    pub sips_base_url: String,
    /// PEM file of extra CA certificates trusted for `https://` calls (the Sips platform,
    /// merchants' notification URLs) beside the built-in Mozilla roots: a test
    /// platform's or an egress proxy's private CA.
    pub tls_ca_file: Option<PathBuf>,
    /// Sips merchant id.
    pub sips_merchant_id: String,
    /// Sips secret key.
    pub sips_secret_key: String,
    /// Sips key version.
    pub sips_key_version: String,
    /// Sips `orderChannel` for phone payments (MOTO is accepted everywhere).
    pub order_channel: String,
    /// Simulated platform latency.
    pub simulator_latency_ms: u64,
    /// How long to wait for the platform before resolving by lookup.
    pub timeout_ms: u64,
    /// How often the capture run and invoice expiry run.
    pub capture_interval_s: u64,
    /// How often due merchant notifications are sent.
    pub notify_interval_ms: u64,
    /// Each notification POST's time-out, connection included.
    pub notify_timeout_ms: u64,
    /// Merchants whose notifications are sent at once (each merchant's in order).
    pub notify_concurrency: usize,
}

impl std::fmt::Debug for PaymentsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentsConfig")
            .field("gateway", &self.gateway)
            .field("sips_base_url", &self.sips_base_url)
            .field("sips_merchant_id", &self.sips_merchant_id)
            .field("sips_secret_key", &"<redacted>")
            .field("sips_key_version", &self.sips_key_version)
            .field("order_channel", &self.order_channel)
            .field("simulator_latency_ms", &self.simulator_latency_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("capture_interval_s", &self.capture_interval_s)
            .field("notify_interval_ms", &self.notify_interval_ms)
            .field("notify_timeout_ms", &self.notify_timeout_ms)
            .field("notify_concurrency", &self.notify_concurrency)
            .finish()
    }
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            gateway: "simulator".into(),
            sips_base_url: "http://127.0.0.1:7070".into(),
            tls_ca_file: None,
            sips_merchant_id: String::new(),
            sips_secret_key: String::new(),
            sips_key_version: "1".into(),
            order_channel: "MOTO".into(),
            simulator_latency_ms: 300,
            timeout_ms: 10_000,
            capture_interval_s: 60,
            notify_interval_ms: 1000,
            notify_timeout_ms: 10_000,
            notify_concurrency: 16,
        }
    }
}

/// `[storage]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `sqlite://FILE` or a bare file path (embedded default) or `postgres://USER@HOST/DB`
    /// (shared by nodes).
    pub database: String,
    /// Call records waiting for the records' writer, counting the room each call in
    /// progress keeps for its end: when it is full new calls are refused (503) rather
    /// than answered and not recorded. Below twice `max_calls` it lowers the calls that
    /// can be in progress; at least 2.
    pub record_queue: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { database: "sqlite://ivrpay.db".to_string(), record_queue: 8192 }
    }
}

/// `[http]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the extranet (API and pages).
    pub listen: SocketAddr,
    /// Mark session cookies `Secure` (sent over HTTPS only; browsers make an exception
    /// for loopback). Leave on in production, behind a TLS proxy; turn off only to use
    /// the pages over plain HTTP at a non-loopback address.
    pub secure_cookies: bool,
    /// Connections at once, from everyone; more are closed at once.
    pub max_connections: usize,
    /// Connections at once from one address.
    pub max_connections_per_source: usize,
    /// A request's head must arrive within this (slowloris), idle keep-alive included.
    pub header_timeout_s: u64,
    /// A connection lasts at most this long, whatever it carries (a body trickled in).
    pub connection_max_s: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".parse().expect("literal"),
            secure_cookies: true,
            max_connections: 512,
            max_connections_per_source: 64,
            header_timeout_s: 10,
            connection_max_s: 300,
        }
    }
}

/// `[sip]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipConfig {
    /// Address and port for UDP and TCP.
    pub listen: SocketAddr,
    /// Accept SIP over TCP as well as UDP.
    pub tcp: bool,
    /// Address put in Contact, Via and SDP (behind NAT: the public one); defaults to
    /// the listen address, or when listening on all interfaces to the address each
    /// caller reached us on.
    pub public_ip: Option<IpAddr>,
    /// Concurrent calls before new ones get 503.
    pub max_calls: usize,
    /// Concurrent TCP connections.
    pub max_tcp_connections: usize,
    /// Concurrent TCP connections from one address.
    pub max_tcp_connections_per_source: usize,
    /// A TCP connection with no complete message for this long is closed (keep-alive
    /// CRLFs do not count).
    pub tcp_idle_timeout_s: u64,
    /// A SIP message begun on TCP must be complete within this.
    pub tcp_message_timeout_s: u64,
    /// A write the peer does not take within this closes the connection.
    pub tcp_write_timeout_s: u64,
    /// Ring (180) this long before answering.
    pub answer_delay_ms: u64,
    /// Transaction timer T1.
    pub t1_ms: u64,
    /// The Server header: no version unless configured, so a scanner learns nothing.
    pub server_header: String,
    /// Per-source limits (Kamailio's pike, built in): messages a second from one source
    /// before it is ignored for `flood_cooldown_s`...
    pub messages_per_s: u32,
    /// ...with bursts of this many...
    pub message_burst: u32,
    /// ...and new calls (INVITEs outside a dialog) a second...
    pub invites_per_s: u32,
    /// ...with bursts of this many.
    pub invite_burst: u32,
    /// How long a source over its limits (or a known scanner) is ignored.
    pub flood_cooldown_s: u64,
    /// Calls in progress from one source before its next INVITE gets 503.
    pub max_calls_per_source: usize,
    /// Legs kept after their calls end, for their transactions' timers (64*T1 over
    /// UDP, so retransmissions get the same answers); beyond this a leg stops as soon as
    /// its call is recorded. Bounds what a churn of short calls can pile up.
    pub max_lingering_calls: usize,
    /// Sources with limits of their own (a proxy in front, a carrier trunk). Default:
    /// this host's loopback addresses (local tests, a proxy on the same machine).
    pub trusted_sources: Vec<TrustedSource>,
}

/// `[[sip.trusted_sources]]`: a network and its limits.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedSource {
    /// CIDR, or one address.
    pub network: String,
    /// Messages a second (bursts of twice that).
    #[serde(default = "TrustedSource::default_messages")]
    pub messages_per_s: u32,
    /// New calls a second (bursts of twice that).
    #[serde(default = "TrustedSource::default_invites")]
    pub invites_per_s: u32,
    /// Calls in progress from it; 0: only `max_calls` applies.
    #[serde(default)]
    pub max_calls: usize,
}

impl TrustedSource {
    fn default_messages() -> u32 {
        100_000
    }

    fn default_invites() -> u32 {
        10_000
    }

    fn loopback(network: &str) -> TrustedSource {
        let (messages_per_s, invites_per_s) = (Self::default_messages(), Self::default_invites());
        TrustedSource { network: network.to_string(), messages_per_s, invites_per_s, max_calls: 0 }
    }
}

/// `[media]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// First RTP port (even).
    pub rtp_port_min: u16,
    /// Last RTP port.
    pub rtp_port_max: u16,
    /// Hang up after this many seconds without RTP from the caller.
    pub inactivity_timeout_s: u64,
    /// Hang up a call on hold or inactive (a=inactive, recvonly, sendonly, c=0.0.0.0)
    /// after this many seconds of hold, counted from the hold: silence is expected
    /// then, but a parked call must not hold its place for ever.
    pub hold_timeout_s: u64,
    /// Hang up any call after this many seconds.
    pub max_call_duration_s: u64,
    /// Detect DTMF tones in the audio (for phones that send neither RFC 4733 nor INFO).
    pub inband_dtmf: bool,
}

/// `[services]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServicesConfig {
    /// Request-URI users answered by the diagnostic echo service.
    pub echo: Vec<String>,
    /// Users answered by the looping echo (greeting repeated while idle): one-way audio
    /// checks and load tests.
    pub echo_loop: Vec<String>,
    /// Source networks (CIDR, or one address) that may reach the echo services; others
    /// get 404 as for an unknown number. Default: loopback and the private ranges, so
    /// a public line is no free audio reflector.
    pub diagnostic_sources: Vec<String>,
}

impl ServicesConfig {
    /// The diagnostic source networks, parsed.
    pub fn diagnostic_networks(&self) -> Result<Vec<Network>, NetworkError> {
        self.diagnostic_sources.iter().map(|n| n.parse()).collect()
    }
}

/// `[prompts]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptsConfig {
    /// Directory holding `<lang>/<name>.wav`.
    pub dir: PathBuf,
    /// Language used before the caller chooses, and as the fallback.
    pub default_language: String,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: "0.0.0.0:5060".parse().expect("literal"),
            tcp: true,
            public_ip: None,
            max_calls: 2000,
            max_tcp_connections: 1024,
            max_tcp_connections_per_source: 32,
            tcp_idle_timeout_s: 600,
            tcp_message_timeout_s: 10,
            tcp_write_timeout_s: 10,
            answer_delay_ms: 0,
            t1_ms: 500,
            server_header: "ivrpay".to_string(),
            messages_per_s: 100,
            message_burst: 200,
            invites_per_s: 5,
            invite_burst: 10,
            flood_cooldown_s: 60,
            max_calls_per_source: 20,
            max_lingering_calls: 8192,
            trusted_sources: vec![TrustedSource::loopback("127.0.0.1/32"), TrustedSource::loopback("::1/128")],
        }
    }
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            rtp_port_min: 20000,
            rtp_port_max: 39998,
            inactivity_timeout_s: 30,
            hold_timeout_s: 60,
            max_call_duration_s: 1800,
            inband_dtmf: true,
        }
    }
}

impl Default for ServicesConfig {
    fn default() -> Self {
        ServicesConfig {
            echo: vec!["echo".to_string()],
            echo_loop: vec!["echo-loop".to_string()],
            diagnostic_sources: LOCAL_AND_PRIVATE.iter().map(|n| n.to_string()).collect(),
        }
    }
}

impl Default for PromptsConfig {
    fn default() -> Self {
        PromptsConfig { dir: PathBuf::from("prompts"), default_language: "fr".to_string() }
    }
}

impl ServicesConfig {
    /// True when `user` is any configured service number.
    pub fn is_service(&self, user: &str) -> bool {
        self.echo.iter().chain(&self.echo_loop).any(|s| s == user)
    }
}

impl Config {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_path_buf(), source })?;
        let cfg: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string() })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| {
            Err(ConfigError::Invalid { path: path.to_path_buf(), key, message: message.to_string() })
        };
        if !self.media.rtp_port_min.is_multiple_of(2) || self.media.rtp_port_max <= self.media.rtp_port_min {
            return invalid("media.rtp_port_min", "must be even and below rtp_port_max");
        }
        if !matches!(self.payments.gateway.as_str(), "simulator" | "sips") {
            return invalid("payments.gateway", "use \"simulator\" or \"sips\"");
        }
        if self.payments.gateway == "sips"
            && (self.payments.sips_merchant_id.is_empty() || self.payments.sips_secret_key.is_empty())
        {
            return invalid("payments.sips_merchant_id", "the sips gateway needs sips_merchant_id and sips_secret_key");
        }
        if self.payments.notify_interval_ms == 0 || self.payments.notify_timeout_ms == 0 {
            return invalid("payments.notify_interval_ms", "the interval and notify_timeout_ms must be above 0");
        }
        if self.payments.notify_concurrency == 0 {
            return invalid("payments.notify_concurrency", "must be at least 1");
        }
        if self.storage.record_queue < 2 {
            return invalid("storage.record_queue", "must be at least 2 (a call's start and end)");
        }
        if self.sip.max_calls == 0 {
            return invalid("sip.max_calls", "must be at least 1");
        }
        if self.sip.t1_ms == 0 {
            return invalid("sip.t1_ms", "must be at least 1");
        }
        if self.media.inactivity_timeout_s == 0 || self.media.max_call_duration_s == 0 {
            return invalid("media.inactivity_timeout_s", "timeouts must be at least 1 second");
        }
        for t in &self.sip.trusted_sources {
            if let Err(e) = t.network.parse::<Network>() {
                return invalid("sip.trusted_sources.network", &e.to_string());
            }
        }
        if [self.sip.tcp_idle_timeout_s, self.sip.tcp_message_timeout_s, self.sip.tcp_write_timeout_s].contains(&0)
            || self.sip.max_tcp_connections_per_source == 0
        {
            return invalid("sip.tcp_idle_timeout_s", "TCP timeouts and caps must be at least 1");
        }
        if [self.http.header_timeout_s, self.http.connection_max_s].contains(&0)
            || self.http.max_connections == 0
            || self.http.max_connections_per_source == 0
        {
            return invalid("http.header_timeout_s", "HTTP timeouts and caps must be at least 1");
        }
        if self.sip.messages_per_s == 0 || self.sip.invites_per_s == 0 || self.sip.max_calls_per_source == 0 {
            return invalid("sip.messages_per_s", "per-source limits must be at least 1");
        }
        if let Err(e) = self.services.diagnostic_networks() {
            return invalid("services.diagnostic_sources", &e.to_string());
        }
        if self.media.hold_timeout_s == 0 {
            return invalid("media.hold_timeout_s", "must be at least 1 second");
        }
        Ok(())
    }

    /// The address every call advertises, when one address fits all callers: the
    /// configured `public_ip`, else a specific listen address. None when listening on
    /// all interfaces without `public_ip`: each call then advertises the address its
    /// caller reached us on (see [`crate::sip::advertise`]), so that a softphone on
    /// another machine is not told 127.0.0.1.
    pub fn public_ip(&self) -> Option<IpAddr> {
        self.sip.public_ip.or_else(|| Some(self.sip.listen.ip()).filter(|ip| !ip.is_unspecified()))
    }

    /// The inactivity timeout.
    pub fn inactivity(&self) -> Duration {
        Duration::from_secs(self.media.inactivity_timeout_s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors_name_the_file_and_key() {
        let c = Config::default();
        assert_eq!(c.sip.listen.port(), 5060);
        assert_eq!(c.public_ip(), None, "0.0.0.0 without public_ip: chosen per call");
        let mut c2 = Config::default();
        c2.sip.listen = "10.0.0.5:5060".parse().unwrap();
        assert_eq!(c2.public_ip(), Some("10.0.0.5".parse().unwrap()));
        c2.sip.public_ip = Some("192.0.2.10".parse().unwrap());
        assert_eq!(c2.public_ip(), Some("192.0.2.10".parse().unwrap()));
        let dir = std::env::temp_dir().join(format!("ivrpay-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("bad.toml");
        std::fs::write(&p, "[sip]\nlisten = \"127.0.0.1:5070\"\nbogus = 1\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("bogus") && e.contains("line 3"), "{e}");
        std::fs::write(&p, "[media]\nrtp_port_min = 20001\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("media.rtp_port_min"), "{e}");
        std::fs::write(&p, "[sip]\nlisten = \"127.0.0.1:5070\"\n[services]\necho = [\"echo\", \"100\"]\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.services.echo.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
