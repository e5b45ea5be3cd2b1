//! One call's environment: the handles a call task may use, and nothing of the server
//! beyond them. The server builds one [`CallEnv`] at start and every call shares it; a
//! call cannot reach the dispatcher, admission, the port range or the configuration.

use super::leg::{Limits, LocalParty};
use super::live::LiveCalls;
use super::record_writer::RecordWriter;
use super::registry::CallRegistry;
use super::services::CallServices;
use crate::ivr::prompt_store::PromptStore;
use crate::media::pacer_thread::PacerHandle;
use crate::media::ports::PortPair;
use crate::sip::advertise::advertised_ip;
use crate::sip::sdp::LocalMedia;
use crate::sip::transport::Outbound;
use crate::sip::Flow;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// What every call task is given.
pub struct CallEnv {
    /// Sends SIP.
    pub outbound: Outbound,
    /// The shared RTP clock that plays prompts.
    pub pacer: PacerHandle,
    /// The operator's view of calls in progress, kept up to date by each call.
    pub live: Arc<LiveCalls>,
    /// Where call records go (the records' writer and its queue).
    pub records: RecordWriter,
    /// Invoice lookups and authorizations.
    pub services: Arc<dyn CallServices>,
    /// Call-ID to call task: a call adds itself and removes itself.
    pub calls: Arc<CallRegistry>,
    /// Prompts in force (each call keeps the version it started with).
    pub prompts: Arc<PromptStore>,
    /// DTMF digits received on all calls (a count only: values are never kept here).
    pub digits_received: AtomicU64,
    /// Places for legs that linger after their calls end (64*T1 for the transactions
    /// of a UDP call): bounded, so a churn of calls cannot pile up tasks without end.
    pub lingering: Arc<Semaphore>,
    /// Legs stopped at once because every lingering place was taken.
    pub linger_cut: AtomicU64,
    /// How calls are set up and guarded.
    pub settings: CallSettings,
}

/// The configuration a call reads, fixed at start.
#[derive(Clone, Debug)]
pub struct CallSettings {
    /// Guard timers and SIP timers.
    pub limits: Limits,
    /// Whether to listen for in-band (audio) DTMF as well.
    pub inband_dtmf: bool,
    /// The address every call advertises; None when each call picks the address its
    /// caller reached (listening on all interfaces without `public_ip`).
    pub public_ip: Option<IpAddr>,
    /// The bound SIP port.
    pub sip_port: u16,
    /// Server header value.
    pub server_header: String,
}

impl CallSettings {
    /// Everything a call advertises (Contact, our requests' Via, SDP o= and c=): an
    /// address the caller can reach, even when listening on all interfaces.
    pub fn local_party(&self, flow: &Flow, pair: &PortPair, session_id: u64) -> LocalParty {
        let ip = advertised_ip(self.public_ip, flow.local, flow.remote);
        let sip_addr = SocketAddr::new(ip, self.sip_port);
        LocalParty {
            via: format!("SIP/2.0/{} {}", flow.transport.via_token(), sip_addr),
            contact: format!(
                "<sip:ivrpay@{}{}>",
                sip_addr,
                if flow.transport.is_reliable() { ";transport=tcp" } else { "" }
            ),
            server: self.server_header.clone(),
            media: LocalMedia {
                address: ip,
                port: pair.port(),
                codecs: vec![crate::media::codec::Codec::Pcma, crate::media::codec::Codec::Pcmu],
                session_id,
                session_version: 1,
            },
        }
    }
}
