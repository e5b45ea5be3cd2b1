//! TLS for the server-to-server HTTP calls: the Worldline Sips platform and merchants'
//! notification URLs are `https://`, so the client verifies servers against the Mozilla
//! roots (webpki-roots, no dependence on the host's certificate store) plus any CA the
//! operator adds (`[payments] tls_ca_file`, e.g. a test platform's or an egress proxy's
//! private CA). The simulator can serve TLS too (`ivrpay simulator --tls-cert --tls-key`),
//! so the connector is tested over the same kind of connection it uses in production.
//!
//! rustls with the ring provider only: no OpenSSL, no aws-lc build.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

/// Why TLS could not be set up. Names the file at fault, never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or held nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file named in the configuration or on the command line.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// rustls refused the certificates or key (e.g. a key that does not match).
    #[error("TLS configuration refused: {0}")]
    Config(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The process's client configuration: Mozilla roots plus the CAs trusted so far.
/// Swapped whole when a CA is added, so a connection in flight keeps the one it started with.
fn client_config() -> &'static RwLock<(RootCertStore, Arc<ClientConfig>)> {
    static CONFIG: OnceLock<RwLock<(RootCertStore, Arc<ClientConfig>)>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = build_client(roots.clone());
        RwLock::new((roots, config))
    })
}

fn build_client(roots: RootCertStore) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::File { path: path.to_path_buf(), reason };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read certificates: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE block in the file".into()));
    }
    Ok(certs)
}

/// Trusts the CA certificates of a PEM file for every later `https://` call of this
/// process, beside the Mozilla roots. Returns how many certificates were added.
pub fn trust_ca_file(path: &Path) -> Result<usize, TlsError> {
    let certs = read_certs(path)?;
    let mut guard = client_config().write().unwrap_or_else(|p| p.into_inner());
    let (added, _) = guard.0.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::File { path: path.to_path_buf(), reason: "no usable CA certificate".into() });
    }
    let config = build_client(guard.0.clone());
    guard.1 = config;
    Ok(added)
}

/// Opens a TLS connection to `host` over `tcp`, verifying its certificate and name.
pub async fn connect(host: &str, tcp: TcpStream) -> std::io::Result<client::TlsStream<TcpStream>> {
    let config = client_config().read().unwrap_or_else(|p| p.into_inner()).1.clone();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad TLS server name: {e}")))?;
    TlsConnector::from(config).connect(name, tcp).await
}

/// A server configuration from a PEM certificate chain and its PEM private key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| TlsError::File { path: key.to_path_buf(), reason: format!("no usable private key: {e}") })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How long a client may take over its handshake before it is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An axum listener that serves TLS: connections are accepted and their handshakes run
/// in tasks of their own, so one slow or broken client never holds up the others.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(server::TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `tcp`; handshakes that fail are logged (without detail of the
    /// peer's data) and dropped.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS listener accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, ready) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = ready.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
                if tx.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls").join(name)
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_refused_with_its_path() {
        let err = trust_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err().to_string();
        assert!(err.starts_with("/nonexistent/ca.pem: cannot read"), "{err}");
        // A key file holds no certificate: refused, and the key is not echoed.
        let err = trust_ca_file(&fixture("server.key")).unwrap_err().to_string();
        assert!(err.contains("server.key: no CERTIFICATE block"), "{err}");
        assert!(!err.contains("BEGIN"), "{err}");
    }

    #[test]
    fn a_server_needs_a_key_that_matches_its_certificate() {
        assert!(acceptor(&fixture("server.pem"), &fixture("server.key")).is_ok());
        let err = acceptor(&fixture("server.pem"), &fixture("ca.pem")).err().unwrap().to_string();
        assert!(err.contains("ca.pem: no usable private key"), "{err}");
    }
}
