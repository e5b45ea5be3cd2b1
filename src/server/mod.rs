//! The running server: binds the SIP sockets, loads prompts, starts the pacer, routes
//! messages to calls, and shuts down gracefully (new calls refused, calls in progress
//! hung up with a BYE, then exit).

mod dispatch;

use crate::call::live::LiveCalls;
use crate::call::task::CallInput;
use crate::config::Config;
use crate::ivr::dialplan::registry::DialplanRegistry;
use crate::ivr::dialplan::DialplanError;
use crate::ivr::prompt_store::PromptStore;
use crate::ivr::prompts::{PromptError, PromptLibrary};
use crate::media::pacer::{self, PacerHandle};
use crate::media::ports::{PortAllocator, PortError};
use crate::sip::transaction::Timers;
use crate::sip::transport::{self, Outbound, Sockets};
use dispatch::Dispatcher;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

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
    /// `[payments] tls_ca_file` could not be used.
    #[error("payments.tls_ca_file: {0}")]
    Tls(#[from] crate::payments::tls::TlsError),
}

/// Shared state of the server, visible to the dispatcher and every call task.
pub struct ServerCtx {
    /// Configuration in force.
    pub config: Config,
    /// Sends SIP.
    pub outbound: Outbound,
    /// Calls by Call-ID.
    pub calls: Mutex<HashMap<String, mpsc::UnboundedSender<CallInput>>>,
    /// Calls answered or ringing, not yet ended.
    pub active: AtomicUsize,
    /// True once shutdown began.
    pub draining: AtomicBool,
    /// RTP ports.
    pub ports: PortAllocator,
    /// The shared RTP clock.
    pub pacer: PacerHandle,
    /// Prompts (replaceable while serving).
    pub prompts: Arc<PromptStore>,
    /// Call flows (reloadable while serving).
    pub dialplans: Arc<DialplanRegistry>,
    /// Calls in progress, for the operator.
    pub live: Arc<LiveCalls>,
    /// Transaction timers.
    pub timers: Timers,
    /// Our SIP address as a local client dials it (the advertised address, or loopback
    /// when that is chosen per call) with the bound port.
    pub sip_addr: SocketAddr,
    /// The address every call advertises; None when each call picks the address its
    /// caller reached (listening on all interfaces without `public_ip`).
    pub public_ip: Option<std::net::IpAddr>,
    /// Server header value.
    pub server_header: String,
    /// The database.
    pub store: crate::store::Store,
    /// The payment platform.
    pub gateway: crate::payments::gateway::Gateway,
    /// DTMF digits received on all calls (a count only: values are never kept here).
    pub digits_received: std::sync::atomic::AtomicU64,
}

impl ServerCtx {
    /// Number of calls in progress.
    pub fn active_calls(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Reads the prompts, then the dialplans again (SIGHUP, operator API): new calls get the new
    /// versions, calls in progress finish on theirs; a bad file changes nothing.
    pub fn reload_dialplans(&self) -> Result<crate::ivr::dialplan::registry::Reloaded, DialplanError> {
        self.dialplans.reload(&self.prompts.current())
    }

    /// What answers a Request-URI user, if anything.
    pub fn route(&self, user: &str) -> Option<crate::call::task::Service> {
        use crate::call::task::Service;
        let s = &self.config.services;
        if s.echo_loop.iter().any(|x| x == user) {
            Some(Service::EchoLoop)
        } else if s.echo.iter().any(|x| x == user) {
            Some(Service::Echo)
        } else {
            self.dialplans.current().for_number(user).map(Service::Flow)
        }
    }
}

/// How old a PENDING payment must be before recovery touches it: longer than the
/// authorization, the lookup and a reversal can take, so a payment still in flight in
/// a call (on this node or another sharing the database) is left to its call.
pub fn recovery_min_age(gateway_timeout: Duration) -> Duration {
    gateway_timeout * 3 + Duration::from_secs(1)
}

/// Runs, periodically until shutdown: recovery of payments left PENDING, the capture
/// run, and invoice expiry.
async fn capture_runs(
    store: crate::store::Store,
    gateway: crate::payments::gateway::Gateway,
    every: Duration,
    min_age: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // One instant for the whole run: recovery, capture and expiry agree on it.
                let now = crate::store::now_ms();
                match crate::payments::recovery::recover_pending_at(&store, &gateway, min_age, now).await {
                    Ok(done) if done.is_empty() => {}
                    Ok(done) => tracing::info!(resolved = done.len(), "recovery of pending payments"),
                    Err(e) => tracing::error!(error = %e, "recovery of pending payments failed"),
                }
                match store.run_capture(now).await {
                    Ok((0, 0)) => {}
                    Ok((captured, expired)) => tracing::info!(captured, expired, "capture run"),
                    Err(e) => tracing::error!(error = %e, "capture run failed"),
                }
                if let Err(e) = store.expire_due_at(now).await {
                    tracing::error!(error = %e, "invoice expiry failed");
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// A started server.
pub struct Server {
    ctx: Arc<ServerCtx>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    http_addr: SocketAddr,
}

impl Server {
    /// Binds sockets, loads prompts and starts serving.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let library = PromptLibrary::load(&config.prompts.dir, &config.prompts.default_language)?;
        let reserved: Vec<String> = config.services.echo.iter().chain(&config.services.echo_loop).cloned().collect();
        let dialplans = DialplanRegistry::load(&config.dialplans.dir, &library, reserved)?;
        let prompts = Arc::new(PromptStore::new(&config.prompts.dir, library));
        // A reload (SIGHUP, operator API) reads the prompts again before the flows.
        let dialplans = Arc::new(dialplans.with_prompt_store(prompts.clone()));
        let live = Arc::new(LiveCalls::default());
        let store = crate::store::Store::open(&config.storage.database).await?;
        let http = crate::extranet::bind(config.http.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.http.listen, source })?;
        let http_addr = http.local_addr().map_err(|source| ServerError::Bind { addr: config.http.listen, source })?;
        let p = &config.payments;
        if let Some(ca) = &p.tls_ca_file {
            crate::payments::tls::trust_ca_file(ca)?;
        }
        let gateway = if p.gateway == "sips" {
            let mut c =
                crate::payments::sips::SipsConfig::new(&p.sips_base_url, &p.sips_merchant_id, &p.sips_secret_key);
            c.key_version = p.sips_key_version.clone();
            c.timeout = Duration::from_millis(p.timeout_ms);
            crate::payments::gateway::Gateway::Sips(crate::payments::sips::SipsConnector::new(c))
        } else {
            crate::payments::gateway::Gateway::Simulator(crate::payments::gateway::Simulator::new(
                Duration::from_millis(p.simulator_latency_ms),
                Duration::from_millis(p.timeout_ms),
            ))
        };
        // Payments a crash left between sending and recording are resolved first (those
        // too recent to be sure they are not in flight elsewhere: by the periodic run).
        let min_age = recovery_min_age(Duration::from_millis(p.timeout_ms));
        crate::payments::recovery::recover_pending(&store, &gateway, min_age).await?;
        let listen = config.sip.listen;
        let sockets =
            Sockets::bind(listen, config.sip.tcp).await.map_err(|source| ServerError::Bind { addr: listen, source })?;
        let local = sockets.udp.local_addr().map_err(|source| ServerError::Bind { addr: listen, source })?;
        let ports = PortAllocator::new(listen.ip(), config.media.rtp_port_min, config.media.rtp_port_max)?;
        let outbound = sockets.outbound();
        let ctx = Arc::new(ServerCtx {
            sip_addr: SocketAddr::new(
                config.public_ip().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
                local.port(),
            ),
            public_ip: config.public_ip(),
            timers: Timers { t1: Duration::from_millis(config.sip.t1_ms), ..Timers::default() },
            server_header: format!("ivrpay/{}", env!("CARGO_PKG_VERSION")),
            outbound: outbound.clone(),
            calls: Mutex::default(),
            store: store.clone(),
            gateway: gateway.clone(),
            digits_received: std::sync::atomic::AtomicU64::new(0),
            active: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            pacer: pacer::spawn(0),
            prompts: prompts.clone(),
            dialplans: dialplans.clone(),
            live: live.clone(),
            ports,
            config,
        });
        let (shutdown, rx) = watch::channel(false);
        let rx2 = rx.clone();
        let handler: Arc<dyn transport::Inbound> = Arc::new(Dispatcher::new(ctx.clone()));
        let mut tasks = vec![tokio::spawn(transport::run_udp(sockets.udp.clone(), handler.clone(), rx.clone()))];
        if let Some(tcp) = sockets.tcp {
            let max = ctx.config.sip.max_tcp_connections;
            tasks.push(tokio::spawn(transport::run_tcp(tcp, outbound, handler, max, rx)));
        }
        let operator = crate::extranet::operator::Operator { dialplans, prompts, live };
        let state = crate::extranet::AppState::new(store.clone(), &ctx.config, gateway.clone(), Some(operator));
        tasks.push(tokio::spawn(crate::extranet::serve(http, state, rx2.clone())));
        tasks.push(tokio::spawn(capture_runs(
            store,
            gateway,
            Duration::from_secs(ctx.config.payments.capture_interval_s.max(1)),
            min_age,
            rx2,
        )));
        let flows: Vec<String> = ctx
            .dialplans
            .current()
            .plans()
            .iter()
            .map(|p| format!("{} {:?} ({})", p.name, p.numbers, p.version))
            .collect();
        tracing::info!(sip = %local, tcp = ctx.config.sip.tcp, http = %http_addr, echo = ?ctx.config.services.echo, ?flows, "ivrpay listening");
        Ok(Server { ctx, shutdown, tasks, http_addr })
    }

    /// The bound SIP address (useful when the config asked for port 0).
    pub fn sip_addr(&self) -> SocketAddr {
        self.ctx.sip_addr
    }

    /// The bound extranet address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Shared state, for tests and the operator API.
    pub fn ctx(&self) -> &Arc<ServerCtx> {
        &self.ctx
    }

    /// Graceful shutdown: refuse new calls, hang up the others (BYE), wait up to
    /// `grace` for them to finish, then stop the transports.
    pub async fn shutdown(self, grace: Duration) {
        self.ctx.draining.store(true, Ordering::SeqCst);
        let calls: Vec<_> = self.ctx.calls.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        tracing::info!(calls = calls.len(), "shutting down: hanging up calls in progress");
        for c in calls {
            let _ = c.send(CallInput::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + grace;
        while self.ctx.active_calls() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Give the BYEs a moment to be answered before the sockets close.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stats = self.ctx.pacer.stats();
        tracing::info!(
            packets = stats.packets,
            send_errors = stats.send_errors,
            ticks = stats.ticks,
            late_ticks = stats.late_ticks,
            "pacer statistics"
        );
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
