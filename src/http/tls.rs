//! In-process TLS (`[tls] cert_file`, `key_file`): the server configuration,
//! read once at start-up (a new certificate takes a restart), and the
//! handshake each connection does before it is served as the plain listener's
//! connections are (`http::connections`). ALPN offers `h2` and `http/1.1`.
//!
//! The handshake runs in the connection's own task, never in the accept loop,
//! and is bounded, so a peer that is slow or never finishes holds neither the
//! listener nor a task for long. A failed handshake is not an audit event
//! (no request was made): it goes to the debug log. Never logged: the bytes
//! sent, or anything read from the key file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// How long a client has to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("{0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("cannot read a private key (PKCS#8, PKCS#1 or SEC1 PEM) from {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Config(#[from] rustls::Error),
}

/// Reads the certificate chain and key and builds the acceptor every
/// connection's handshake uses.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, TlsError> {
    let certificate = |e: &dyn std::fmt::Display| TlsError::Certificate {
        path: cert_file.to_owned(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| certificate(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate(&e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_file.to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| TlsError::Key { path: key_file.to_owned(), reason: e.to_string() })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The server side of the handshake on `tcp`, bounded by [`HANDSHAKE_TIMEOUT`];
/// `None` when it failed or took too long (the connection is then dropped).
pub async fn handshake(acceptor: &TlsAcceptor, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(
                timeout_secs = HANDSHAKE_TIMEOUT.as_secs(),
                "TLS handshake did not finish in time"
            );
            None
        }
    }
}
