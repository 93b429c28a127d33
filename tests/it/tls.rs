//! Optional TLS: HTTPS served directly, with HSTS; connections served as on
//! the plain listener (a request the HTTP parser refuses is recorded), and a
//! handshake that never finishes holds nothing up.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::support::{Backend, TestApp};

/// A Custodian serving HTTPS with a fresh self-signed certificate for 127.0.0.1 and localhost.
struct TlsApp {
    app: TestApp,
    cert: rcgen::CertifiedKey,
    https: String,
    _dir: tempfile::TempDir,
}

impl TlsApp {
    async fn spawn() -> TlsApp {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_file = dir.path().join("cert.pem");
        let key_file = dir.path().join("key.pem");
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
        let app = TestApp::spawn_with(Backend::Sqlite, |c| {
            c.tls.cert_file = Some(cert_file.clone());
            c.tls.key_file = Some(key_file.clone());
            c.http.cookie_secure = true;
        })
        .await;
        let https = app.base.replace("http://", "https://");
        TlsApp { app, cert, https, _dir: dir }
    }

    /// A client trusting only this app's certificate.
    fn client(&self, redirects: reqwest::redirect::Policy) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.cert.cert.pem().as_bytes()).unwrap())
            .redirect(redirects)
            .build()
            .unwrap()
    }

    fn address(&self) -> &str {
        self.app.base.trim_start_matches("http://")
    }

    /// A TLS connection offering `alpn`, trusting only this app's certificate.
    async fn connect(&self, alpn: &[u8]) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.address()).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap()
    }

    /// Sends raw HTTP/1.1 bytes inside TLS and returns what the server
    /// answered before it closed.
    async fn raw_exchange(&self, request: &[u8]) -> String {
        let mut stream = self.connect(b"http/1.1").await;
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
        match read.await.expect("the server answers and closes") {
            Ok(_) => {}
            // A server that closes without close_notify still said what it said.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => panic!("reading the answer: {e}"),
        }
        String::from_utf8_lossy(&answer).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_hsts() {
    let tls = TlsApp::spawn().await;
    let r = tls.client(reqwest::redirect::Policy::default()).get(format!("{}/healthz", tls.https)).send();
    let r = r.await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
    // Sign-in's flow cookie is Secure over TLS.
    let r = tls
        .client(reqwest::redirect::Policy::none())
        .get(format!("{}/auth/login", tls.https))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets no page.
    let plain = reqwest::get(format!("{}/healthz", tls.app.base)).await;
    assert!(plain.is_err() || plain.unwrap().status() != StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaks_http2_when_the_client_chooses_it() {
    let tls = TlsApp::spawn().await;
    let mut stream = tls.connect(b"h2").await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "ALPN chose h2");
    // The client preface and an empty SETTINGS frame; the server's first frame is its SETTINGS.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.unwrap();
    let mut header = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut header)).await.unwrap().unwrap();
    assert_eq!(header[3], 0x04, "a SETTINGS frame: {header:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_http_parser_refuses_over_tls_is_recorded() {
    let tls = TlsApp::spawn().await;
    let smuggling = b"POST /api/v1/me HTTP/1.1\r\nHost: custodian.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n";
    let answer = tls.raw_exchange(smuggling).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "refused by the parser: {answer}");
    assert!(!answer.to_lowercase().contains("x-request-id"), "no handler ran: {answer}");
    let refused = tls.app.await_events("access.gate", |e| e["kind"]["gate"] == "http").await;
    assert_eq!(refused.len(), 1, "recorded: {refused:?}");
    assert_eq!(refused[0]["request"]["client_ip"], "127.0.0.1", "{:?}", refused[0]);
    let reason = refused[0]["kind"]["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP parser refused") && !reason.contains("chunked, identity"), "{reason}");
    // A well-formed request over TLS is served as usual.
    let fine =
        tls.raw_exchange(b"GET /healthz HTTP/1.1\r\nHost: custodian.test\r\nConnection: close\r\n\r\n");
    assert!(fine.await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_finishes_holds_up_nobody_and_is_closed() {
    let tls = TlsApp::spawn().await;
    // A peer that connects and says nothing, and one that starts a handshake and stops.
    let mut silent = tokio::net::TcpStream::connect(tls.address()).await.unwrap();
    let mut stalled = tokio::net::TcpStream::connect(tls.address()).await.unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
    // Others are served meanwhile.
    let r = tls.client(reqwest::redirect::Policy::default()).get(format!("{}/healthz", tls.https)).send();
    assert_eq!(r.await.unwrap().status(), StatusCode::OK);
    // Both are closed once the handshake timeout (10 s) passes, without an answer.
    for peer in [&mut silent, &mut stalled] {
        let mut answer = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(20), peer.read_to_end(&mut answer)).await;
        // Ok(0) or a reset: either way the server closed it, and said nothing.
        assert!(closed.is_ok(), "closed by the server within the handshake timeout");
        assert!(answer.is_empty(), "no answer: {answer:?}");
    }
    assert!(
        tls.app.events_of("access.gate").await.is_empty(),
        "a handshake is not a request: nothing is recorded"
    );
}
