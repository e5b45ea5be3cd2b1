//! A small HTTP/1.1 client for server-to-server JSON POSTs (merchant notifications, the
//! Sips connector), built on hyper's client connection, which is already in the tree.
//! `https://` goes through rustls (`payments::tls`), verifying the server's certificate.

use http_body_util::{BodyExt, Full};
use std::time::Duration;

/// Why a POST did not complete.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PostError {
    /// The URL is unusable (not http or https, no host).
    #[error("bad URL: {0}")]
    BadUrl(String),
    /// Nobody listens, or the connection broke before an answer.
    #[error("connection failed: {0}")]
    Connect(String),
    /// No answer within the time-out.
    #[error("timed out")]
    Timeout,
}

/// POSTs `body` and returns the status and the response body.
pub async fn post(
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
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
    let work = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PostError::Connect(e.to_string()))?;
        let mut sender = if tls {
            // A name in brackets is an IPv6 literal; rustls wants it bare.
            let name = host.trim_start_matches('[').trim_end_matches(']');
            let stream = super::tls::connect(name, stream).await.map_err(|e| PostError::Connect(e.to_string()))?;
            handshake(stream).await?
        } else {
            handshake(stream).await?
        };
        let mut req = hyper::Request::post(path)
            .header("host", format!("{host}:{port}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("user-agent", concat!("ivrpay/", env!("CARGO_PKG_VERSION")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req =
            req.body(Full::new(bytes::Bytes::copy_from_slice(body))).map_err(|e| PostError::BadUrl(e.to_string()))?;
        let resp = sender.send_request(req).await.map_err(|e| PostError::Connect(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.map_err(|e| PostError::Connect(e.to_string()))?.to_bytes();
        Ok((status, bytes.to_vec()))
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| PostError::Timeout)?
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
