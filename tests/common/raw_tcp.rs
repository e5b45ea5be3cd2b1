//! TCP clients for the edge tests: a connection from a chosen loopback address (standing
//! for another host), and the check that the server closes a connection a client keeps
//! trickling bytes into.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `to` from `ip` (port chosen by the system), with a small receive
/// buffer when asked (a client that reads slowly).
pub async fn connect_from(ip: &str, to: SocketAddr, recv_buffer: Option<u32>) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    if let Some(n) = recv_buffer {
        s.set_recv_buffer_size(n).unwrap();
    }
    s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    s.connect(to).await.unwrap()
}

/// True once the server closed the connection (EOF or reset) within `window`, while
/// `tick` keeps being sent every 200 ms. What it answers before closing (an HTTP 408)
/// is read and passed over.
pub async fn closed_while_sending(s: &mut TcpStream, tick: &[u8], window: Duration) -> bool {
    let end = tokio::time::Instant::now() + window;
    let mut buf = [0u8; 4096];
    while tokio::time::Instant::now() < end {
        if s.write_all(tick).await.is_err() {
            return true;
        }
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            return true;
        }
    }
    false
}
