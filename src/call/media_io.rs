//! One call's RTP sockets as its driver holds them: bound at admission, handed to the
//! pacer (the stream it plays prompts on) once media starts, read for the caller's
//! packets until the call ends, then dropped at once so the ports are free while the
//! SIP leg lingers for its transaction timers.

use super::core::CallInput;
use super::env::CallEnv;
use crate::media::pacer::{Command, StreamSpec};
use crate::media::ports::PortPair;
use crate::sip::sdp::Negotiated;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

static NEXT_STREAM: AtomicU64 = AtomicU64::new(1);

/// Where a call's media stands.
pub(super) enum CallMedia {
    /// Bound, not negotiated yet: the RTP and RTCP sockets, and the socket the pacer
    /// will send from (the RTP one, so the caller sees one address).
    Bound { rtp: UdpSocket, rtcp: UdpSocket, sink: Arc<std::net::UdpSocket> },
    /// Playing and listening: the pacer's stream id and the sockets read.
    Running { stream: u64, rtp: UdpSocket, rtcp: UdpSocket },
    /// Ended: the ports are given back.
    Closed,
}

impl CallMedia {
    /// The call's port pair, ready for tokio.
    pub(super) fn bind(pair: PortPair) -> std::io::Result<CallMedia> {
        let sink = Arc::new(pair.rtp.try_clone()?);
        Ok(CallMedia::Bound { rtp: UdpSocket::from_std(pair.rtp)?, rtcp: UdpSocket::from_std(pair.rtcp)?, sink })
    }

    /// The pacer's stream, once media runs.
    pub(super) fn stream(&self) -> Option<u64> {
        match self {
            CallMedia::Running { stream, .. } => Some(*stream),
            _ => None,
        }
    }

    /// Adds the call's stream to the pacer (finished playbacks come back on `tx`).
    pub(super) fn start(&mut self, env: &CallEnv, tx: &mpsc::UnboundedSender<CallInput>, neg: &Negotiated) {
        let CallMedia::Bound { .. } = self else { return };
        let CallMedia::Bound { rtp, rtcp, sink } = std::mem::replace(self, CallMedia::Closed) else { return };
        let stream = NEXT_STREAM.fetch_add(1, Ordering::Relaxed);
        let notify_tx = tx.clone();
        env.pacer.add(
            stream,
            StreamSpec { sink, dest: neg.remote_rtp, codec: neg.codec, payload_type: neg.payload_type },
            Box::new(move |t| {
                let _ = notify_tx.send(CallInput::PlaybackDone(t));
            }),
        );
        *self = CallMedia::Running { stream, rtp, rtcp };
    }

    /// Takes the stream off the pacer and frees the ports.
    pub(super) fn close(&mut self, env: &CallEnv) {
        if let Some(stream) = self.stream() {
            env.pacer.send(Command::Remove(stream));
        }
        *self = CallMedia::Closed;
    }

    /// The caller's next RTP packet (never, before media starts or after it ends).
    pub(super) async fn recv(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        match self {
            CallMedia::Running { rtp, .. } => rtp.recv_from(buf).await,
            _ => std::future::pending().await,
        }
    }

    /// The caller's next RTCP packet, read and dropped so its socket never fills.
    pub(super) async fn recv_rtcp(&self, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
        match self {
            CallMedia::Running { rtcp, .. } => rtcp.recv_from(buf).await,
            _ => std::future::pending().await,
        }
    }
}
