//! Starting and stopping the server: what is loaded and bound, in which order, which
//! tasks run, and how shutdown lets calls end before the sockets close.

use super::dispatch::Dispatcher;
use super::routing::Router;
use super::{gateway, recovery_min_age, ServerCtx, ServerError};
use crate::call::admission::Admission;
use crate::call::core::CallInput;
use crate::call::env::{CallEnv, CallSettings};
use crate::call::leg::Limits;
use crate::call::live::LiveCalls;
use crate::call::record_writer::RecordWriter;
use crate::call::services::{CallServices, PaymentServices};
use crate::config::Config;
use crate::ivr::dialplan::registry::DialplanRegistry;
use crate::ivr::prompt_store::PromptStore;
use crate::media::pacer_thread;
use crate::media::ports::PortAllocator;
use crate::payments::clock::Clock;
use crate::sip::pike::SourceGuard;
use crate::sip::transaction::Timers;
use crate::sip::transport::{self, Sockets};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A started server.
pub struct Server {
    ctx: Arc<ServerCtx>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    http_addr: SocketAddr,
}

/// What a test may put in place of the server's own parts. The default is production:
/// the store and the configured platform, on the system's clock.
#[derive(Default)]
pub struct StartWith {
    /// Answers calls' lookups and authorizations instead of the store and the platform
    /// (a test that holds an authorization, or answers lookups of its own).
    pub services: Option<Arc<dyn CallServices>>,
    /// The simulated platform's clock, so a test can let its capture day come.
    pub platform_clock: Option<Arc<dyn Clock>>,
}

/// Prompts and the flows built on them, as loaded at start.
struct Flows {
    prompts: Arc<PromptStore>,
    dialplans: Arc<DialplanRegistry>,
}

fn load_flows(config: &Config) -> Result<Flows, ServerError> {
    let library = crate::ivr::prompts::load(&config.prompts.dir, &config.prompts.default_language)?;
    let reserved: Vec<String> = config.services.echo.iter().chain(&config.services.echo_loop).cloned().collect();
    let dialplans = DialplanRegistry::load(&config.dialplans.dir, &library, reserved)?;
    let prompts = Arc::new(PromptStore::new(&config.prompts.dir, library));
    // A reload (SIGHUP, operator API) reads the prompts again before the flows.
    let dialplans = Arc::new(dialplans.with_prompt_store(prompts.clone()));
    Ok(Flows { prompts, dialplans })
}

fn call_settings(config: &Config, sip_port: u16) -> CallSettings {
    let timers = Timers { t1: Duration::from_millis(config.sip.t1_ms), ..Timers::default() };
    CallSettings {
        limits: Limits {
            media_inactivity: config.inactivity(),
            hold_timeout: Duration::from_secs(config.media.hold_timeout_s),
            max_duration: Duration::from_secs(config.media.max_call_duration_s),
            answer_delay: Duration::from_millis(config.sip.answer_delay_ms),
            timers,
        },
        inband_dtmf: config.media.inband_dtmf,
        public_ip: config.public_ip(),
        sip_port,
        server_header: config.sip.server_header.clone(),
    }
}

impl Server {
    /// Binds sockets, loads prompts and starts serving, with calls looking up invoices
    /// in the store and paying through the configured platform.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        Server::start_with(config, StartWith::default()).await
    }

    /// As [`Server::start`], with the parts `with` names in place of the server's own.
    pub async fn start_with(config: Config, with: StartWith) -> Result<Server, ServerError> {
        super::limits::no_core_dumps();
        let max_calls = super::limits::fit_calls(config.sip.max_calls)?;
        let flows = load_flows(&config)?;
        let store = crate::store::Store::open(&config.storage.database).await?;
        let http = crate::extranet::bind(config.http.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.http.listen, source })?;
        let http_addr = http.local_addr().map_err(|source| ServerError::Bind { addr: config.http.listen, source })?;
        let gateway = gateway::from_config(&config.payments, with.platform_clock)?;
        // Payments a crash left between sending and recording are resolved first (those
        // too recent to be sure they are not in flight elsewhere: by the periodic run).
        let min_age = recovery_min_age(Duration::from_millis(config.payments.timeout_ms));
        crate::payments::recovery::recover_pending(&store, &gateway, min_age).await?;
        let listen = config.sip.listen;
        let sockets =
            Sockets::bind(listen, config.sip.tcp).await.map_err(|source| ServerError::Bind { addr: listen, source })?;
        let local = sockets.udp.local_addr().map_err(|source| ServerError::Bind { addr: listen, source })?;
        let ports = PortAllocator::new(listen.ip(), config.media.rtp_port_min, config.media.rtp_port_max)?;
        let services = with.services.unwrap_or_else(|| {
            Arc::new(PaymentServices::new(store.clone(), gateway.clone(), &config.payments.order_channel))
        });
        let (shutdown, rx) = watch::channel(false);
        let records = store.sibling(1).await?;
        let (records, record_task) = RecordWriter::spawn(records, config.storage.record_queue, rx.clone());
        let env = Arc::new(CallEnv {
            outbound: sockets.outbound(),
            pacer: pacer_thread::spawn(0),
            live: Arc::new(LiveCalls::default()),
            records,
            services,
            calls: Arc::default(),
            prompts: flows.prompts.clone(),
            digits_received: Default::default(),
            lingering: Arc::new(tokio::sync::Semaphore::new(config.sip.max_lingering_calls)),
            linger_cut: Default::default(),
            settings: call_settings(&config, local.port()),
        });
        let admission = Arc::new(Admission::new(max_calls, super::edge::source_caps(&config.sip)?, ports));
        let router = Arc::new(Router::new(&config.services, flows.dialplans.clone())?);
        let guard = SourceGuard::new(super::edge::pike_config(&config.sip)?, std::time::Instant::now());
        let dispatcher = Dispatcher::new(env.clone(), admission.clone(), router, guard);
        let ctx = Arc::new(ServerCtx {
            sip_addr: SocketAddr::new(
                config.public_ip().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
                local.port(),
            ),
            env,
            admission,
            prompts: flows.prompts,
            dialplans: flows.dialplans,
            store,
            gateway,
            config,
        });
        let mut tasks = spawn_tasks(&ctx, sockets, Arc::new(dispatcher), http, min_age, rx);
        tasks.push(record_task);
        log_listening(&ctx, local, http_addr);
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
        let ctx = &self.ctx;
        ctx.admission.drain();
        let calls = ctx.env.calls.all();
        tracing::info!(calls = calls.len(), "shutting down: hanging up calls in progress");
        for c in calls {
            let _ = c.own.send(CallInput::Shutdown);
        }
        let deadline = tokio::time::Instant::now() + grace;
        // Every call gives its permit back when it ends for the caller.
        if !ctx.admission.wait_idle(deadline).await {
            tracing::warn!(calls = ctx.active_calls(), "calls still in progress at the end of the grace period");
        }
        // Give the BYEs a moment to be answered before the sockets close.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stats = ctx.env.pacer.stats();
        tracing::info!(
            packets = stats.packets,
            send_errors = stats.send_errors,
            ticks = stats.ticks,
            late_ticks = stats.late_ticks,
            "pacer statistics"
        );
        tracing::info!(
            sip_queue_overflow = ctx.env.calls.overflow(),
            linger_cut = ctx.env.linger_cut.load(std::sync::atomic::Ordering::Relaxed),
            "call queue statistics"
        );
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The transports, the extranet and the capture runs, each stopped by `rx`.
fn spawn_tasks(
    ctx: &Arc<ServerCtx>,
    sockets: Sockets,
    dispatcher: Arc<Dispatcher>,
    http: tokio::net::TcpListener,
    min_age: Duration,
    rx: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let handler: Arc<dyn transport::Inbound> = dispatcher;
    let outbound = ctx.env.outbound.clone();
    let mut tasks = vec![tokio::spawn(transport::run_udp(sockets.udp.clone(), handler.clone(), rx.clone()))];
    if let Some(tcp) = sockets.tcp {
        let sip = &ctx.config.sip;
        let limits = transport::TcpLimits {
            max_conns: sip.max_tcp_connections,
            per_source: sip.max_tcp_connections_per_source,
            idle: Duration::from_secs(sip.tcp_idle_timeout_s),
            message: Duration::from_secs(sip.tcp_message_timeout_s),
            write: Duration::from_secs(sip.tcp_write_timeout_s),
        };
        tasks.push(tokio::spawn(transport::run_tcp(tcp, outbound, handler, limits, rx.clone())));
    }
    let operator = crate::extranet::operator::Operator {
        dialplans: ctx.dialplans.clone(),
        prompts: ctx.prompts.clone(),
        live: ctx.env.live.clone(),
    };
    let state = crate::extranet::AppState::new(ctx.store.clone(), &ctx.config, ctx.gateway.clone(), Some(operator));
    let limits = crate::extranet::serve::HttpLimits::of(&ctx.config.http);
    tasks.push(tokio::spawn(crate::extranet::serve::serve(http, state, limits, rx.clone())));
    let p = &ctx.config.payments;
    let delivery = crate::payments::notify::Delivery {
        every: Duration::from_millis(p.notify_interval_ms),
        timeout: Duration::from_millis(p.notify_timeout_ms),
        concurrency: p.notify_concurrency,
    };
    tasks.push(tokio::spawn(crate::payments::notify::run(ctx.store.clone(), delivery, rx.clone())));
    tasks.push(tokio::spawn(crate::payments::jobs::capture_runs(
        ctx.store.clone(),
        ctx.gateway.clone(),
        Duration::from_secs(ctx.config.payments.capture_interval_s.max(1)),
        min_age,
        rx,
    )));
    tasks
}

fn log_listening(ctx: &ServerCtx, local: SocketAddr, http_addr: SocketAddr) {
    let flows: Vec<String> =
        ctx.dialplans.current().plans().iter().map(|p| format!("{} {:?} ({})", p.name, p.numbers, p.version)).collect();
    tracing::info!(sip = %local, tcp = ctx.config.sip.tcp, http = %http_addr, echo = ?ctx.config.services.echo, ?flows, "ivrpay listening");
}
