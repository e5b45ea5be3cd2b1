//! A small HTTP/1.1 client for server-to-server JSON POSTs (merchant notifications, the
//! Sips connector), built on hyper's client connection, which is already in the tree.
//! Plain `http://` only: TLS is not built in yet.

use http_body_util::{BodyExt, Full};
use std::time::Duration;

/// Why a POST did not complete.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PostError {
    /// The URL is unusable (or https).
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
    if uri.scheme_str() != Some("http") {
        return Err(PostError::BadUrl("only http:// URLs are supported (terminate TLS in a proxy)".into()));
    }
    let host = uri.host().ok_or_else(|| PostError::BadUrl("no host".into()))?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let work = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| PostError::Connect(e.to_string()))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| PostError::Connect(e.to_string()))?;
        tokio::spawn(conn);
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
