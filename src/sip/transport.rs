//! SIP over UDP and TCP: the tokio edge of the signalling stack.
//!
//! Datagrams and framed stream messages are handed, as raw bytes with their [`Flow`], to
//! an [`Inbound`] handler; [`Outbound`] sends bytes back along a flow. TCP connections
//! are limited in number, framed by Content-Length (RFC 3261 18.3), closed after a
//! framing error (after a 400 when the message was readable enough) and after a long
//! idle period.

use super::framing::{FramingError, StreamFramer};
use super::per_source::PerSource;
use super::{Flow, Transport};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};
use zeroize::Zeroize;

/// Largest SIP message accepted (UDP datagram or TCP frame).
pub const MAX_MESSAGE: usize = 65_535;

/// Receives every message the transports read.
pub trait Inbound: Send + Sync + 'static {
    /// One complete message from a peer.
    fn on_message(&self, raw: &[u8], flow: Flow);
    /// A TCP stream could not be framed; the connection is closed after this returns.
    fn on_framing_error(&self, raw_head: &[u8], flow: Flow, error: &FramingError);
}

/// Sends bytes along a flow. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    udp: Arc<UdpSocket>,
    conns: Arc<Mutex<HashMap<u64, mpsc::Sender<Vec<u8>>>>>,
    next_conn: Arc<AtomicU64>,
}

impl Outbound {
    /// Sends without waiting: UDP goes straight to the socket (spilling to a task only
    /// if the socket buffer is full), TCP goes to the connection's writer.
    pub fn send(&self, flow: Flow, bytes: Vec<u8>) {
        if tracing::enabled!(tracing::Level::TRACE) {
            tracing::trace!(peer = %flow.remote, transport = ?flow.transport, "SIP out:\n{}", super::redact::for_log(&bytes));
        }
        match flow.transport {
            Transport::Udp => match self.udp.try_send_to(&bytes, flow.remote) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let udp = self.udp.clone();
                    tokio::spawn(async move {
                        let _ = udp.send_to(&bytes, flow.remote).await;
                    });
                }
                Err(e) => tracing::debug!(error = %e, peer = %flow.remote, "UDP send failed"),
            },
            Transport::Tcp => {
                let tx = self.conns.lock().unwrap_or_else(|e| e.into_inner()).get(&flow.conn).cloned();
                match tx {
                    Some(tx) => {
                        if tx.try_send(bytes).is_err() {
                            tracing::warn!(peer = %flow.remote, "TCP connection closed or congested; message dropped");
                        }
                    }
                    None => tracing::debug!(peer = %flow.remote, "TCP connection gone; message dropped"),
                }
            }
        }
    }

    /// The UDP socket's local address.
    pub fn udp_local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }
}

/// The bound SIP sockets.
pub struct Sockets {
    /// UDP socket.
    pub udp: Arc<UdpSocket>,
    /// TCP listener, if TCP is enabled.
    pub tcp: Option<TcpListener>,
}

impl Sockets {
    /// Binds UDP (and TCP on the same port when `tcp` is true).
    ///
    /// With port 0 the system picks a free UDP port, and that port may be taken for
    /// TCP (a client's ephemeral port, say): another pair is then tried, a bounded
    /// number of times. A port named in the configuration is tried once.
    pub async fn bind(addr: SocketAddr, tcp: bool) -> std::io::Result<Sockets> {
        const PAIR_TRIES: usize = 32;
        let mut tries = 0;
        loop {
            let udp = UdpSocket::bind(addr).await?;
            let port = udp.local_addr()?.port();
            if !tcp {
                return Ok(Sockets { udp: Arc::new(udp), tcp: None });
            }
            match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
                Ok(listener) => return Ok(Sockets { udp: Arc::new(udp), tcp: Some(listener) }),
                Err(e) if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse && tries < PAIR_TRIES => {
                    tries += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The handle used to send.
    pub fn outbound(&self) -> Outbound {
        Outbound { udp: self.udp.clone(), conns: Arc::default(), next_conn: Arc::new(AtomicU64::new(1)) }
    }
}

/// Reads datagrams until shutdown.
pub async fn run_udp(udp: Arc<UdpSocket>, handler: Arc<dyn Inbound>, mut shutdown: watch::Receiver<bool>) {
    let mut buf = vec![0u8; MAX_MESSAGE + 1];
    loop {
        tokio::select! {
            r = udp.recv_from(&mut buf) => match r {
                Ok((n, from)) => {
                    if n == 0 || buf[..n].iter().all(|b| b.is_ascii_whitespace()) {
                        continue; // keep-alive
                    }
                    handler.on_message(&buf[..n], Flow { transport: Transport::Udp, remote: from, conn: 0, local: None });
                    // A datagram may carry a card digit (SIP INFO): not left for the next.
                    buf[..n].zeroize();
                }
                // ICMP port unreachable from an earlier send surfaces here on Linux.
                Err(e) => tracing::trace!(error = %e, "UDP receive error"),
            },
            _ = shutdown.changed() => return,
        }
    }
}

/// Limits of SIP over TCP: how many connections, and how long a peer may take.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Connections at once, from everyone.
    pub max_conns: usize,
    /// Connections at once from one address.
    pub per_source: usize,
    /// A connection with no complete message for this long is closed (bytes alone,
    /// such as CRLF keep-alives, do not count).
    pub idle: Duration,
    /// A message begun must be complete within this.
    pub message: Duration,
    /// A write the peer does not take within this closes the connection (a peer that
    /// never reads must not pin its writer).
    pub write: Duration,
}

/// Accepts TCP connections (within `limits`) until shutdown.
pub async fn run_tcp(
    listener: TcpListener,
    out: Outbound,
    handler: Arc<dyn Inbound>,
    limits: TcpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let limit = Arc::new(Semaphore::new(limits.max_conns));
    let per_source = PerSource::default();
    loop {
        tokio::select! {
            r = listener.accept() => {
                let (stream, peer) = match r {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors (EMFILE) or memory: accepting again at once
                        // would spin. Pause, so calls in progress keep the CPU.
                        tracing::warn!(error = %e, "TCP accept failed; pausing 100 ms");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(slot) = per_source.take(peer.ip(), limits.per_source) else {
                    tracing::info!(%peer, cap = limits.per_source, "TCP connections from this address at their cap; closed");
                    continue;
                };
                match limit.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let (out, handler, shutdown) = (out.clone(), handler.clone(), shutdown.clone());
                        tokio::spawn(async move {
                            serve_connection(stream, peer, out, handler, limits, shutdown).await;
                            drop((permit, slot));
                        });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, max_conns = limits.max_conns, "TCP connection limit reached; closing new connection");
                        drop(stream);
                    }
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    out: Outbound,
    handler: Arc<dyn Inbound>,
    limits: TcpLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let conn = out.next_conn.fetch_add(1, Ordering::Relaxed);
    let local = stream.local_addr().ok().map(|a| a.ip());
    let flow = Flow { transport: Transport::Tcp, remote: peer, conn, local };
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
    out.conns.lock().unwrap_or_else(|e| e.into_inner()).insert(conn, tx);
    let (writer_gone, mut writer_done) = tokio::sync::oneshot::channel::<()>();
    let mut writer = tokio::spawn(write_loop(wr, rx, limits.write, peer, writer_gone));
    let mut framer = StreamFramer::new(MAX_MESSAGE);
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_message = tokio::time::Instant::now();
    let mut partial_since: Option<tokio::time::Instant> = None;
    'read: loop {
        let idle_end = last_message + limits.idle;
        let deadline = partial_since.map_or(idle_end, |p| (p + limits.message).min(idle_end));
        let n = tokio::select! {
            r = tokio::time::timeout_at(deadline, rd.read(&mut buf)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Err(_) => {
                    tracing::debug!(%peer, partial = partial_since.is_some(), "closing TCP connection: no complete message in time");
                    break;
                }
                Ok(Ok(n)) => n,
            },
            _ = &mut writer_done => break,
            _ = shutdown.changed() => break,
        };
        framer.push(&buf[..n]);
        buf[..n].zeroize();
        let now = tokio::time::Instant::now();
        let mut completed = false;
        loop {
            match framer.next_message() {
                Ok(Some(mut msg)) => {
                    (last_message, completed) = (now, true);
                    handler.on_message(&msg, flow);
                    msg.zeroize();
                }
                Ok(None) => break,
                Err(e) => {
                    let head = framer.pending();
                    handler.on_framing_error(&head[..head.len().min(MAX_MESSAGE)], flow, &e);
                    // Let the writer flush the 400 before the connection goes.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    break 'read;
                }
            }
        }
        partial_since = match (framer.pending().is_empty(), completed) {
            (true, _) => None,
            (false, true) => Some(now),
            (false, false) => partial_since.or(Some(now)),
        };
    }
    out.conns.lock().unwrap_or_else(|e| e.into_inner()).remove(&conn);
    // The writer ends with its reader: what is queued gets one write timeout to go.
    if tokio::time::timeout(limits.write, &mut writer).await.is_err() {
        writer.abort();
    }
}

/// Sends what the connection is given, each write bounded by `timeout`; ends (telling
/// the reader) when the queue closes or the peer stops taking bytes.
async fn write_loop(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    timeout: Duration,
    peer: SocketAddr,
    gone: tokio::sync::oneshot::Sender<()>,
) {
    while let Some(bytes) = rx.recv().await {
        match tokio::time::timeout(timeout, wr.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::info!(%peer, "closing TCP connection: the peer does not read");
                break;
            }
        }
    }
    let _ = tokio::time::timeout(timeout, wr.shutdown()).await;
    drop(gone);
}
