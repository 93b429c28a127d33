//! Serving connections, as `axum::serve` does (HTTP/1.1 and HTTP/2,
//! graceful shutdown), on the plain listener or, with `[tls]`, after each
//! connection's TLS handshake (`http::tls`), plus what `axum::serve` cannot
//! do: a request that hyper's parser refuses before any handler runs (a
//! malformed request line, an invalid `Transfer-Encoding` such as
//! `chunked, identity`, a header holding a raw CR) is answered 400 by hyper,
//! with no request id, and recorded here as `access.gate` (gate `http`),
//! under the same per-source throttle as every other refusal before sign-in.
//! The source is the peer address: no forwarded header can be trusted in a
//! request that did not parse. Never recorded: the bytes that were sent.
//!
//! One loop accepts; everything that can wait on the peer (the handshake,
//! the requests) runs in the connection's own task, so a slow peer never
//! holds up accepting the next one.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::{Service, ServiceExt};

use crate::audit::throttle::Source;
use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::http::tls;

/// What a connection's bytes are: HTTP as sent, or HTTP inside TLS.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(TlsAcceptor),
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// connections in flight finish (the caller bounds how long). A handshake
/// still under way at shutdown is abandoned.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    router: Router,
    journal: Journal,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    let (close_tx, close_rx) = watch::channel(());
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, most often: wait, rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = signal_tx.closed() => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let Ok(service) = make.call(peer).await;
        let service = service.map_request(|request: Request<Incoming>| request.map(Body::new));
        let connection = Connection { peer, signal: signal_tx.clone(), journal: journal.clone() };
        let (transport, close_rx) = (transport.clone(), close_rx.clone());
        tokio::spawn(async move {
            match transport {
                Transport::Plain => connection.serve(tcp, service).await,
                Transport::Tls(acceptor) => {
                    let stream = tokio::select! {
                        stream = tls::handshake(&acceptor, tcp) => stream,
                        () = connection.signal.closed() => None,
                    };
                    if let Some(stream) = stream {
                        connection.serve(stream, service).await;
                    }
                }
            }
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
}

/// One accepted connection: who is at the other end, and what ends it.
struct Connection {
    peer: SocketAddr,
    /// Closed when the server is shutting down.
    signal: watch::Sender<()>,
    journal: Journal,
}

impl Connection {
    /// Serves requests on `io` until the peer or a shutdown ends the
    /// connection, and records it if hyper's parser refused a request.
    async fn serve<I, S>(self, io: I, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: Service<Request<Incoming>, Response = Response, Error = std::convert::Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let builder = Builder::new(TokioExecutor::new());
        let conn =
            builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
        let mut conn = std::pin::pin!(conn);
        // Fused: once it has fired, it must not be polled as a finished future again.
        let mut closing = std::pin::pin!(self.signal.closed().fuse());
        let result = loop {
            tokio::select! {
                result = conn.as_mut() => break result,
                () = &mut closing => conn.as_mut().graceful_shutdown(),
            }
        };
        if let Err(e) = result {
            if let Some(why) = parse_failure(e.as_ref()) {
                record(&self.journal, self.peer, why).await;
            } else {
                tracing::trace!(error = %e, "connection ended with an error");
            }
        }
    }
}

/// What hyper's parser refused, if that is why the connection failed.
fn parse_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(hyper_error) = e.downcast_ref::<hyper::Error>() {
            return hyper_error.is_parse().then(|| hyper_error.to_string());
        }
        current = e.source();
    }
    None
}

async fn record(journal: &Journal, peer: SocketAddr, why: String) {
    let meta = RequestMeta { request_id: None, client_ip: Some(peer.ip().to_string()), user_agent: None };
    let reason = format!("a request the HTTP parser refused before any handler ran ({why})");
    let kind = EventKind::access_denied("http", reason);
    let recorded =
        journal.record_refusal("http_parse", Source::Addr(peer.ip()), &meta, Actor::default(), kind);
    if let Err(e) = recorded.await {
        tracing::warn!(error = %e, "cannot record a request the HTTP parser refused");
    }
}
