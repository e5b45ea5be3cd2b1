//! A small HTTP/1.1 client for server-to-server JSON POSTs (merchant notifications, the
//! Sips connector), built on hyper's client connection, which is already in the tree.
//! `https://` goes through rustls (`payments::tls`), verifying the server's certificate.
//!
//! Errors say whether the request may have reached the server, because a payment
//! connector must know it: only a failure to connect ([`PostError::Connect`]) proves
//! nothing was sent. Once the connection is up, a broken write, a broken or missing
//! answer ([`PostError::Lost`], [`PostError::Timeout`]) leave the outcome unknown.
//!
//! The body is copied once into the request buffer, which is wiped when hyper is done
//! with it (it may hold card data).

use http_body_util::{BodyExt, Full};
use std::time::Duration;
use tokio::time::Instant;
use zeroize::Zeroize;

/// Why a POST did not complete.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PostError {
    /// The URL is unusable (not http or https, no host). Nothing was sent.
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// Nobody listens, or the connection could not be set up in time. Nothing was sent.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Connected, then writing the request or reading the answer failed: the server
    /// may have received and acted on the request.
    #[error("request sent but its answer was lost: {0}")]
    Lost(String),
    /// Connected, and no complete answer within the time-out: the server may have
    /// received and acted on the request.
    #[error("timed out")]
    Timeout,
}

impl PostError {
    /// True when the request may have reached the server (its outcome is unknown);
    /// false when it certainly was not sent.
    pub fn maybe_sent(&self) -> bool {
        matches!(self, PostError::Lost(_) | PostError::Timeout)
    }
}

/// A request body that wipes its bytes once hyper drops it (after writing them).
struct WipedBody(Vec<u8>);

impl Drop for WipedBody {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl AsRef<[u8]> for WipedBody {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The most of an answer [`post`] reads: a platform's JSON is a few KiB.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// POSTs `body` and returns the status and the response body. `timeout` bounds the
/// whole exchange, connection included; an answer over [`MAX_RESPONSE_BYTES`] is lost.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), PostError> {
    post_limited(url, headers, body, timeout, MAX_RESPONSE_BYTES).await
}

/// [`post`], reading at most `max_response` bytes of the answer's body (beyond that the
/// answer is lost: [`PostError::Lost`]).
pub async fn post_limited(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
    max_response: usize,
) -> Result<(u16, Vec<u8>), PostError> {
    let uri: hyper::Uri = url.parse().map_err(|e| PostError::BadUrl(format!("{e}")))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(PostError::BadUrl("use an http:// or https:// URL".into())),
    };
    let host = uri.host().ok_or_else(|| PostError::BadUrl("no host".into()))?.to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let mut req = hyper::Request::post(path)
        .header("host", format!("{host}:{port}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("user-agent", concat!("ivrpay/", env!("CARGO_PKG_VERSION")));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let deadline = Instant::now() + timeout;
    // Before any byte is written: a failure here proves nothing was sent.
    let connect = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PostError::Connect(e.to_string()))?;
        if tls {
            // A name in brackets is an IPv6 literal; rustls wants it bare. A failed
            // handshake is still "not sent": no request byte has been written.
            let name = host.trim_start_matches('[').trim_end_matches(']');
            let stream = super::tls::connect(name, stream).await.map_err(|e| PostError::Connect(e.to_string()))?;
            handshake(stream).await
        } else {
            handshake(stream).await
        }
    };
    let mut sender = tokio::time::timeout_at(deadline, connect)
        .await
        .map_err(|_| PostError::Connect("no connection within the time-out".into()))??;
    let req = req
        .body(Full::new(bytes::Bytes::from_owner(WipedBody(body.to_vec()))))
        .map_err(|e| PostError::BadUrl(e.to_string()))?;
    // From here on the server may have the request: every failure is an unknown outcome.
    let exchange = async {
        let resp = sender.send_request(req).await.map_err(|e| PostError::Lost(e.to_string()))?;
        let status = resp.status().as_u16();
        let limited = http_body_util::Limited::new(resp.into_body(), max_response);
        let bytes = limited.collect().await.map_err(|e| PostError::Lost(e.to_string()))?.to_bytes();
        Ok((status, bytes.to_vec()))
    };
    tokio::time::timeout_at(deadline, exchange).await.map_err(|_| PostError::Timeout)?
}

/// HTTP/1.1 over an established (plain or TLS) connection; the connection is driven by
/// a task of its own and ends with the request.
async fn handshake<S>(stream: S) -> Result<hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>>, PostError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| PostError::Connect(e.to_string()))?;
    tokio::spawn(conn);
    Ok(sender)
}
