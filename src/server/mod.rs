//! The running server, split by concern: `lifecycle` binds the sockets, loads prompts and
//! flows, starts the pacer, the transports, the extranet and the payment jobs, and shuts
//! down gracefully (new calls refused, calls in progress hung up with a BYE, then exit);
//! `dispatch` routes each SIP message to its call or through admission; `routing` maps
//! numbers to services; `gateway` builds the payment platform from the configuration;
//! `limits` fits `max_calls` to the descriptor limit and forbids core dumps; `edge`
//! builds the per-source protections (flood guard, call caps, scanners).
//! The background jobs themselves are the payments' (`payments::jobs`). Calls are given
//! their own narrow environment (`call::env`) and never see [`ServerCtx`].

mod dispatch;
pub mod edge;
mod gateway;
mod lifecycle;
pub mod limits;
pub mod routing;

use crate::call::admission::Admission;
use crate::call::env::CallEnv;
use crate::config::Config;
use crate::ivr::dialplan::registry::DialplanRegistry;
use crate::ivr::dialplan::DialplanError;
use crate::ivr::prompt_store::PromptStore;
use crate::ivr::prompts::PromptError;
use crate::media::ports::PortError;
use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::payments::jobs::recovery_min_age;
pub use lifecycle::{Server, StartWith};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said (in use, not permitted, ...).
        source: std::io::Error,
    },
    /// Prompts failed to load.
    #[error(transparent)]
    Prompts(#[from] PromptError),
    /// A dialplan was refused.
    #[error(transparent)]
    Dialplan(#[from] DialplanError),
    /// RTP port range unusable.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Not even one call fits in the process's file descriptor limit.
    #[error("RLIMIT_NOFILE is {limit}; a server with one call needs {need} descriptors (raise ulimit -n)")]
    Descriptors {
        /// The soft limit in force, after trying to raise it.
        limit: u64,
        /// What one call and the server's own needs take.
        need: u64,
    },
    /// A configured source network is not understood.
    #[error("services.diagnostic_sources: {0}")]
    Network(#[from] crate::sip::network::NetworkError),
    /// Recovery of pending payments at start failed in the ledger.
    #[error("recovery of pending payments: {0}")]
    Ledger(#[from] crate::payments::ledger::LedgerError),
    /// `[payments] tls_ca_file` could not be used.
    #[error("payments.tls_ca_file: {0}")]
    Tls(#[from] crate::payments::tls::TlsError),
}

/// What the running server holds, for the command line (reload on SIGHUP) and tests.
/// The dispatcher and the calls get narrower handles of their own.
pub struct ServerCtx {
    /// Configuration in force.
    pub config: Config,
    /// What every call is given (outbound SIP, pacer, live view, records, services).
    pub env: Arc<CallEnv>,
    /// Call permits (calls answered or ringing, not yet ended), RTP ports and draining.
    pub admission: Arc<Admission>,
    /// Prompts (replaceable while serving).
    pub prompts: Arc<PromptStore>,
    /// Call flows (reloadable while serving).
    pub dialplans: Arc<DialplanRegistry>,
    /// Our SIP address as a local client dials it (the advertised address, or loopback
    /// when that is chosen per call) with the bound port.
    pub sip_addr: SocketAddr,
    /// The database.
    pub store: crate::store::Store,
    /// The payment platform.
    pub gateway: crate::payments::gateway::Gateway,
}

impl ServerCtx {
    /// Number of calls in progress.
    pub fn active_calls(&self) -> usize {
        self.admission.active_calls()
    }

    /// DTMF digits received on all calls so far (a count only).
    pub fn digits_received(&self) -> u64 {
        self.env.digits_received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads the prompts, then the dialplans again (SIGHUP, operator API): new calls get the new
    /// versions, calls in progress finish on theirs; a bad file changes nothing.
    pub fn reload_dialplans(&self) -> Result<crate::ivr::dialplan::registry::Reloaded, DialplanError> {
        self.dialplans.reload(&self.prompts.current())
    }
}
