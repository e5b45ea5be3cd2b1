//! Serving the extranet over HTTP/1.1 with the limits a reachable port needs: a cap on
//! connections (and on those of one address, so one client cannot take them all), a
//! deadline for each request's head (slowloris: a head trickled in a byte at a time,
//! or a keep-alive connection left idle, is closed), and a longest life for a
//! connection (a body trickled in). On shutdown, requests in flight finish, for a
//! bounded time.

use super::{router, AppState};
use crate::config::HttpConfig;
use crate::sip::per_source::PerSource;
use axum::extract::ConnectInfo;
use axum::Extension;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(10);

/// The limits, from `[http]`.
#[derive(Clone, Copy, Debug)]
pub struct HttpLimits {
    /// Connections at once.
    pub max_connections: usize,
    /// Connections at once from one address.
    pub per_source: usize,
    /// A request's head must arrive within this.
    pub header_timeout: Duration,
    /// A connection lives at most this long.
    pub connection_max: Duration,
}

impl HttpLimits {
    /// The configured limits.
    pub fn of(http: &HttpConfig) -> HttpLimits {
        HttpLimits {
            max_connections: http.max_connections,
            per_source: http.max_connections_per_source,
            header_timeout: Duration::from_secs(http.header_timeout_s),
            connection_max: Duration::from_secs(http.connection_max_s),
        }
    }
}

/// Serves until `shutdown` turns true, then lets requests in flight finish.
pub async fn serve(listener: TcpListener, state: AppState, limits: HttpLimits, mut shutdown: watch::Receiver<bool>) {
    let app = router(state);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_source = PerSource::default();
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed; pausing 100 ms");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let Some(place) = per_source.take(peer.ip(), limits.per_source) else {
            tracing::info!(%peer, cap = limits.per_source, "HTTP connections from this address at their cap; closed");
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, max = limits.max_connections, "HTTP connection limit reached; closed");
            continue;
        };
        // The peer address feeds the per-address sign-in throttling.
        let service = TowerToHyperService::new(app.clone().layer(Extension(ConnectInfo(peer))));
        let stop = shutdown.clone();
        conns.spawn(async move {
            connection(stream, service, limits, stop).await;
            drop((slot, place));
        });
    }
    let drained = tokio::time::timeout(DRAIN, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("HTTP requests still in flight at the end of the drain; closed");
    }
}

async fn connection(
    stream: TcpStream,
    service: TowerToHyperService<axum::Router>,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) {
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, conn).await;
        }
        _ = tokio::time::sleep(limits.connection_max) => {
            tracing::info!("HTTP connection closed at its longest life");
        }
    }
}
