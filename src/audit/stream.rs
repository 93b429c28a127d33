//! Streaming the journal to a SIEM: one background task per configured sink
//! (RFC 5424 syslog over TCP, optionally TLS; an HTTPS webhook of JSON lines)
//! reads committed events after the sink's persisted cursor, delivers them in
//! order, and only then moves the cursor (`audit_stream_cursors`). Delivery is
//! at least once: after a failure the batch is sent again from the cursor, so
//! a receiver may see an event twice and deduplicates by its `event_id`.
//! TCP syslog has no acknowledgement, so each syslog batch goes over its own
//! connection and counts as delivered only once the receiver, after our close,
//! closes too: it has then read everything (keeping it is up to the receiver).
//!
//! This module owns the cursors and the sinks' connections. It never runs on
//! the request path (a slow or dead SIEM only grows the backlog), never
//! writes to the journal, and never logs a token, a URL or an event body.
//!
//! ```text
//!  cursor ─► SELECT seq, body … WHERE seq > cursor ─► deliver ─► cursor = last seq
//!                                                       │ error
//!                                                       └─► log, back off (doubling), retry from the cursor
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use url::Url;

use crate::clock::SharedClock;
use crate::secret::Secret;
use crate::storage::Db;

/// Syslog facility 13, "log audit" (RFC 5424 6.2.1).
const FACILITY_LOG_AUDIT: u8 = 13;
const SEVERITY_WARNING: u8 = 4;
const SEVERITY_NOTICE: u8 = 5;
/// The structured-data id; 32473 is the private enterprise number reserved
/// for documentation (RFC 5612).
const SD_ID: &str = "custodian@32473";
const UTF8_BOM: &str = "\u{feff}";

/// `[audit.stream]`: where the journal is streamed. No sink, no task.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// RFC 5424 syslog over TCP (RFC 6587 octet counting), optionally TLS.
    pub syslog: Option<SyslogSink>,
    /// HTTPS POSTs of JSON lines (`application/x-ndjson`).
    pub webhook: Option<WebhookSink>,
    /// Most events sent in one delivery.
    pub batch: usize,
    /// How often an idle sink looks for new events.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Longest wait between retries; the wait starts at `poll_interval` and doubles.
    #[serde(with = "humantime_serde")]
    pub retry_max_backoff: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            syslog: None,
            webhook: None,
            batch: 500,
            poll_interval: Duration::from_secs(1),
            retry_max_backoff: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSink {
    /// The receiver's `host:port`.
    pub address: String,
    /// Speak TLS (RFC 5425 style) to the receiver.
    #[serde(default)]
    pub tls: bool,
    /// PEM certificates trusted for the receiver. Empty: the public web PKI roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// APP-NAME of every message.
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// HOSTNAME of every message. Empty: this machine's host name.
    #[serde(default)]
    pub hostname: Option<String>,
    /// Bound on one delivery: connect, send, and the receiver's close.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSink {
    /// Where batches are POSTed; `https://` (plain http only on loopback).
    pub url: Url,
    /// Sent as `Authorization: Bearer …`.
    #[serde(default)]
    pub bearer_token: Option<Secret>,
    /// File holding the bearer token (wins over `bearer_token`).
    #[serde(default, skip_serializing)]
    pub bearer_token_file: Option<PathBuf>,
    /// Bound on one request, answer included.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_app_name() -> String {
    "custodian".to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl StreamConfig {
    /// What is wrong with this configuration, for `Config::validate`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.batch == 0 {
            problems.push("audit.stream.batch must be at least 1".to_owned());
        }
        if self.poll_interval.is_zero() || self.retry_max_backoff.is_zero() {
            problems.push("audit.stream.poll_interval and retry_max_backoff must be positive".to_owned());
        }
        if let Some(s) = &self.syslog {
            if split_host_port(&s.address).is_none() {
                problems.push(format!("audit.stream.syslog.address must be host:port, got {:?}", s.address));
            }
            if !is_printable_ascii(&s.app_name, 48) {
                problems
                    .push("audit.stream.syslog.app_name must be 1 to 48 printable ASCII characters".into());
            }
            if s.hostname.as_deref().is_some_and(|h| !is_printable_ascii(h, 255)) {
                problems.push("audit.stream.syslog.hostname must be printable ASCII without spaces".into());
            }
            if s.ca_file.is_some() && !s.tls {
                problems.push("audit.stream.syslog.ca_file needs tls = true".to_owned());
            }
            if let Some(path) = &s.ca_file {
                if let Err(e) = root_store(Some(path)) {
                    problems.push(format!("audit.stream.syslog.ca_file: {e}"));
                }
            }
            if s.timeout.is_zero() {
                problems.push("audit.stream.syslog.timeout must be positive".to_owned());
            }
        }
        if let Some(w) = &self.webhook {
            let loopback = match w.url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !(w.url.scheme() == "https" || (w.url.scheme() == "http" && loopback)) {
                problems.push(
                    "audit.stream.webhook.url must be https:// (plain http only on loopback)".to_owned(),
                );
            }
            if w.timeout.is_zero() {
                problems.push("audit.stream.webhook.timeout must be positive".to_owned());
            }
        }
        problems
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("the stream cursor cannot be read or written: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("connection to the receiver failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the receiver closed the connection before the batch was confirmed")]
    ClosedEarly,
    #[error("the receiver did not confirm within {0:?}")]
    Timeout(Duration),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("webhook request failed: {0}")]
    Http(reqwest::Error),
    #[error("webhook answered HTTP {0}")]
    Status(u16),
}

/// One sink's backlog, for metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkBacklog {
    pub sink: &'static str,
    /// Events written to the journal but not yet delivered (newest seq − cursor).
    pub events: i64,
    /// Age of the oldest undelivered event; 0 when nothing waits.
    pub lag_seconds: f64,
}

/// The running sinks. Dropping it (or [`StreamHandle::shutdown`]) stops them.
pub struct StreamHandle {
    sinks: Vec<&'static str>,
    clock: SharedClock,
    stop: watch::Sender<()>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// Starts one task per configured sink.
pub fn spawn(db: Db, config: StreamConfig, clock: SharedClock) -> StreamHandle {
    let (stop, _) = watch::channel(());
    let mut sinks = Vec::new();
    let mut tasks = Vec::new();
    let kinds =
        [config.syslog.clone().map(SinkConfig::Syslog), config.webhook.clone().map(SinkConfig::Webhook)];
    for kind in kinds.into_iter().flatten() {
        let worker = Worker { db: db.clone(), clock: clock.clone(), config: config.clone(), sink: kind };
        sinks.push(worker.sink.name());
        tasks.push(tokio::spawn(worker.run(stop.subscribe())));
    }
    StreamHandle { sinks, clock, stop, tasks: Mutex::new(tasks) }
}

impl StreamHandle {
    /// The names of the running sinks (`syslog`, `webhook`).
    pub fn sinks(&self) -> &[&'static str] {
        &self.sinks
    }

    /// Each sink's backlog and lag.
    pub async fn backlog(&self, db: &Db) -> Result<Vec<SinkBacklog>, StreamError> {
        let (head,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(seq) FROM audit_events").fetch_one(db.pool()).await?;
        let now = self.clock.now().millis();
        let mut out = Vec::with_capacity(self.sinks.len());
        for sink in &self.sinks {
            let cursor = cursor(db, sink).await?;
            let oldest: Option<(i64,)> = crate::storage::optional(
                sqlx::query_as(
                    "SELECT time FROM audit_events WHERE seq > $1 AND body IS NOT NULL ORDER BY seq LIMIT 1",
                )
                .bind(cursor)
                .fetch_one(db.pool())
                .await,
            )?;
            let lag_ms = oldest.map(|(time,)| (now - time).max(0)).unwrap_or(0);
            out.push(SinkBacklog {
                sink,
                events: (head.unwrap_or(0) - cursor).max(0),
                lag_seconds: lag_ms as f64 / 1000.0,
            });
        }
        Ok(out)
    }

    /// Stops every sink and waits for its task to end. An interrupted
    /// delivery is sent again by the next start.
    pub async fn shutdown(&self) {
        self.stop.send_replace(());
        let tasks = self.tasks.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// The backlog as Prometheus text exposition, one series per sink, for `/metrics`.
pub fn prometheus(backlog: &[SinkBacklog]) -> String {
    let mut out = String::new();
    if backlog.is_empty() {
        return out;
    }
    out.push_str(
        "# HELP custodian_audit_stream_backlog_events Journal events not yet delivered to the sink\n",
    );
    out.push_str("# TYPE custodian_audit_stream_backlog_events gauge\n");
    for b in backlog {
        out.push_str(&format!("custodian_audit_stream_backlog_events{{sink=\"{}\"}} {}\n", b.sink, b.events));
    }
    out.push_str(
        "# HELP custodian_audit_stream_lag_seconds Age of the oldest event not yet delivered to the sink\n",
    );
    out.push_str("# TYPE custodian_audit_stream_lag_seconds gauge\n");
    for b in backlog {
        out.push_str(&format!(
            "custodian_audit_stream_lag_seconds{{sink=\"{}\"}} {}\n",
            b.sink, b.lag_seconds
        ));
    }
    out
}

/// The last sequence number `sink` confirmed (0: nothing yet).
pub async fn cursor(db: &Db, sink: &str) -> Result<i64, sqlx::Error> {
    let row: Option<(i64,)> = crate::storage::optional(
        sqlx::query_as("SELECT last_seq FROM audit_stream_cursors WHERE sink = $1")
            .bind(sink)
            .fetch_one(db.pool())
            .await,
    )?;
    Ok(row.map(|(seq,)| seq).unwrap_or(0))
}

/// Moves the cursor forward (never back: a slower second writer cannot undo progress).
async fn advance_cursor(db: &Db, sink: &str, last_seq: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_stream_cursors (sink, last_seq, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (sink) DO UPDATE SET last_seq = excluded.last_seq, updated_at = excluded.updated_at \
         WHERE audit_stream_cursors.last_seq < excluded.last_seq",
    )
    .bind(sink)
    .bind(last_seq)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

#[derive(Clone)]
enum SinkConfig {
    Syslog(SyslogSink),
    Webhook(WebhookSink),
}

impl SinkConfig {
    fn name(&self) -> &'static str {
        match self {
            SinkConfig::Syslog(_) => "syslog",
            SinkConfig::Webhook(_) => "webhook",
        }
    }
}

struct Worker {
    db: Db,
    clock: SharedClock,
    config: StreamConfig,
    sink: SinkConfig,
}

enum Step {
    Delivered,
    Idle,
}

impl Worker {
    async fn run(self, mut stop: watch::Receiver<()>) {
        let name = self.sink.name();
        let mut sink = None;
        let mut backoff = self.config.poll_interval;
        let mut failing = false;
        loop {
            let step = tokio::select! {
                _ = stop.changed() => return,
                step = self.step(&mut sink) => step,
            };
            let pause = match step {
                Ok(step) => {
                    if failing {
                        tracing::info!(sink = name, "SIEM delivery resumed");
                        failing = false;
                        backoff = self.config.poll_interval;
                    }
                    match step {
                        // More may be waiting: go on at once.
                        Step::Delivered => continue,
                        Step::Idle => self.config.poll_interval,
                    }
                }
                Err(e) => {
                    // Errors name no token, URL or event: see StreamError.
                    tracing::warn!(sink = name, error = %e, retry_in = ?backoff, "SIEM delivery failed");
                    failing = true;
                    let pause = backoff;
                    backoff = backoff.saturating_mul(2).min(self.config.retry_max_backoff);
                    pause
                }
            };
            tokio::select! {
                _ = stop.changed() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// One round: the events after the cursor, delivered, then the cursor moved.
    async fn step(&self, sink: &mut Option<Sink>) -> Result<Step, StreamError> {
        let name = self.sink.name();
        let after = cursor(&self.db, name).await?;
        let limit = i64::try_from(self.config.batch).unwrap_or(i64::MAX);
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, body FROM audit_events WHERE seq > $1 AND body IS NOT NULL ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        let Some(&(last, _)) = rows.last() else { return Ok(Step::Idle) };
        let sink = match sink {
            Some(sink) => sink,
            None => sink.insert(Sink::new(&self.sink)?),
        };
        sink.deliver(&rows).await?;
        advance_cursor(&self.db, name, last, self.clock.now().millis()).await?;
        tracing::debug!(sink = name, events = rows.len(), last_seq = last, "delivered to the SIEM");
        Ok(Step::Delivered)
    }
}

enum Sink {
    Syslog(Syslog),
    Webhook(Webhook),
}

impl Sink {
    fn new(config: &SinkConfig) -> Result<Sink, StreamError> {
        Ok(match config {
            SinkConfig::Syslog(c) => Sink::Syslog(Syslog::new(c)?),
            SinkConfig::Webhook(c) => Sink::Webhook(Webhook::new(c)?),
        })
    }

    async fn deliver(&self, rows: &[(i64, String)]) -> Result<(), StreamError> {
        match self {
            Sink::Syslog(s) => s.deliver(rows).await,
            Sink::Webhook(w) => w.deliver(rows).await,
        }
    }
}

// ------------------------------------------------------------------ syslog

struct Syslog {
    address: String,
    tls: Option<(tokio_rustls::TlsConnector, rustls::pki_types::ServerName<'static>)>,
    hostname: String,
    app_name: String,
    procid: String,
    timeout: Duration,
}

impl Syslog {
    fn new(c: &SyslogSink) -> Result<Syslog, StreamError> {
        let tls = if c.tls {
            let host = split_host_port(&c.address).map(|(h, _)| h).unwrap_or_default();
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|_| StreamError::Tls(format!("{host:?} is not a valid TLS server name")))?;
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| StreamError::Tls(e.to_string()))?
            .with_root_certificates(root_store(c.ca_file.as_deref())?)
            .with_no_client_auth();
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        let hostname = c.hostname.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned()
        });
        Ok(Syslog {
            address: c.address.clone(),
            tls,
            hostname: header_field(&hostname, 255),
            app_name: header_field(&c.app_name, 48),
            procid: std::process::id().to_string(),
            timeout: c.timeout,
        })
    }

    /// One connection per batch: every message, then our close, then the
    /// receiver's close. The receiver closes only after reading everything
    /// we sent, which TCP syslog offers as the one confirmation of receipt.
    async fn deliver(&self, rows: &[(i64, String)]) -> Result<(), StreamError> {
        let mut frames = Vec::new();
        for (seq, body) in rows {
            let message = self.message(*seq, body);
            frames.extend_from_slice(format!("{} ", message.len()).as_bytes());
            frames.extend_from_slice(message.as_bytes());
        }
        let exchange = async {
            let tcp = tokio::net::TcpStream::connect(&self.address).await?;
            tcp.set_nodelay(true)?;
            match &self.tls {
                Some((connector, name)) => {
                    send_and_close(connector.connect(name.clone(), tcp).await?, &frames).await
                }
                None => send_and_close(tcp, &frames).await,
            }
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| StreamError::Timeout(self.timeout))?
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM+event JSON`.
    fn message(&self, seq: i64, body: &str) -> String {
        let event: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |key: &str| event[key].as_str().unwrap_or("").to_owned();
        let decision = text("decision");
        let severity = if decision == "allowed" { SEVERITY_NOTICE } else { SEVERITY_WARNING };
        let mut sd = format!("[{SD_ID} seq=\"{seq}\"");
        for key in ["event_id", "decision"] {
            let value = text(key);
            if !value.is_empty() {
                sd.push_str(&format!(" {key}=\"{}\"", sd_escape(&value)));
            }
        }
        sd.push(']');
        format!(
            "<{}>1 {} {} {} {} {} {sd} {UTF8_BOM}{body}",
            FACILITY_LOG_AUDIT * 8 + severity,
            syslog_time(&text("time")),
            self.hostname,
            self.app_name,
            self.procid,
            header_field(&text("action"), 32),
        )
    }
}

async fn send_and_close<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    frames: &[u8],
) -> Result<(), StreamError> {
    stream.write_all(frames).await?;
    stream.flush().await?;
    // A syslog receiver never writes: anything readable now means it has
    // already gone, and may not have read all of the batch.
    let mut buf = [0u8; 512];
    match stream.read(&mut buf).now_or_never() {
        Some(Ok(0)) => return Err(StreamError::ClosedEarly),
        Some(Err(e)) => return Err(e.into()),
        Some(Ok(_)) | None => {}
    }
    stream.shutdown().await?;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A TLS receiver may close without its own close_notify.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The trust anchors for a TLS receiver: the PEM file's certificates, or the web PKI.
fn root_store(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, StreamError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    let Some(path) = ca_file else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return Ok(roots);
    };
    let unreadable =
        |e: &dyn std::fmt::Display| StreamError::Tls(format!("cannot read {}: {e}", path.display()));
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        roots.add(cert.map_err(|e| unreadable(&e))?).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(StreamError::Tls(format!("{} holds no certificate", path.display())));
    }
    Ok(roots)
}

/// The event's RFC 3339 time in UTC with milliseconds (RFC 5424 allows at
/// most microseconds), or the NILVALUE.
fn syslog_time(rfc3339: &str) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| "-".to_owned())
}

/// A header field: printable US-ASCII without spaces, at most `max`
/// characters; the NILVALUE `-` when nothing is left.
fn header_field(value: &str, max: usize) -> String {
    let field: String = value.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// PARAM-VALUE escaping (RFC 5424 6.3.3): `"`, `\` and `]` get a backslash.
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn is_printable_ascii(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.chars().all(|c| c.is_ascii_graphic())
}

/// `host:port` or `[v6]:port` → (host, port).
fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let port = port.parse().ok()?;
    (!host.is_empty()).then_some((host, port))
}

// ------------------------------------------------------------------ webhook

struct Webhook {
    client: reqwest::Client,
    url: Url,
    bearer_token: Option<Secret>,
}

impl Webhook {
    fn new(c: &WebhookSink) -> Result<Webhook, StreamError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(c.timeout)
            .build()
            .map_err(|e| StreamError::Http(e.without_url()))?;
        Ok(Webhook { client, url: c.url.clone(), bearer_token: c.bearer_token.clone() })
    }

    /// One POST per batch: each event exactly as stored, one per line. Any
    /// answer but 2xx (a redirect included) is a failure.
    async fn deliver(&self, rows: &[(i64, String)]) -> Result<(), StreamError> {
        let mut body = String::new();
        for (_, event) in rows {
            body.push_str(event);
            body.push('\n');
        }
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
            .body(body);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        // Without the URL: it may carry credentials.
        let response = request.send().await.map_err(|e| StreamError::Http(e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(StreamError::Status(status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_data_values_are_escaped() {
        assert_eq!(sd_escape(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
    }

    #[test]
    fn header_fields_are_printable_ascii_and_bounded() {
        assert_eq!(header_field("auth.login", 32), "auth.login");
        assert_eq!(header_field("a b\u{e9}c", 32), "abc");
        assert_eq!(header_field("", 32), "-");
        assert_eq!(header_field(&"x".repeat(40), 32).len(), 32);
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        assert_eq!(syslog_time("2024-05-01T12:00:00.5+02:00"), "2024-05-01T10:00:00.500Z");
        assert_eq!(syslog_time("not a time"), "-");
    }

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(split_host_port("siem.example:6514"), Some(("siem.example", 6514)));
        assert_eq!(split_host_port("[::1]:514"), Some(("::1", 514)));
        assert_eq!(split_host_port("siem.example"), None);
        assert_eq!(split_host_port(":514"), None);
    }

    #[test]
    fn a_message_is_rfc5424_with_the_event_id_and_a_bom() {
        let sink = Syslog::new(&SyslogSink {
            address: "127.0.0.1:514".into(),
            tls: false,
            ca_file: None,
            app_name: "custodian".into(),
            hostname: Some("gw1".into()),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let body = r#"{"seq":7,"event_id":"e\"]1","time":"2024-05-01T12:00:00.123Z","action":"auth.login","decision":"denied"}"#;
        let message = sink.message(7, body);
        let pid = std::process::id();
        assert_eq!(
            message,
            format!(
                "<108>1 2024-05-01T12:00:00.123Z gw1 custodian {pid} auth.login \
                 [custodian@32473 seq=\"7\" event_id=\"e\\\"\\]1\" decision=\"denied\"] \u{feff}{body}"
            )
        );
        let allowed = sink.message(8, &body.replace("denied", "allowed"));
        assert!(allowed.starts_with("<109>1 "), "notice for allowed events: {allowed}");
    }
}
