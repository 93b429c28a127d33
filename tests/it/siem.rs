//! SIEM streaming: RFC 5424 syslog to a real syslog-ng that the test starts,
//! kills (SIGKILL) and restarts; the JSON-lines webhook to a receiver that
//! refuses at first; at-least-once delivery from the persisted cursor; the
//! backlog and lag metrics; no secret in the log.

use std::collections::HashSet;
use std::future::Future;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use custodian::audit::stream::{self, SinkBacklog, SyslogSink, WebhookSink};
use custodian::audit::{Actor, EventKind, LoginFailure, RequestMeta};
use custodian::secret::Secret;

use crate::on_both_backends;
use crate::support::{Backend, TestApp};

on_both_backends!(
    syslog_ng_receives_every_event_across_a_receiver_crash,
    the_webhook_gets_every_event_once_it_accepts_and_no_secret_is_logged,
);

/// Generous: two cores shared with other builds.
const DEADLINE: Duration = Duration::from_secs(60);
const SD_ID: &str = "custodian@32473";

// ------------------------------------------------------------------ helpers

/// Records `n` events, every third one denied.
async fn record(app: &TestApp, from: usize, n: usize) {
    for i in from..from + n {
        let actor = Actor { user_id: Some(format!("user-{i}")), ..Actor::default() };
        let kind = if i % 3 == 0 {
            EventKind::LoginFailed {
                reason: LoginFailure::ProviderError(format!("x\"]\\{i}")),
                tally: Default::default(),
            }
        } else {
            EventKind::Logout
        };
        app.state.journal.record(&RequestMeta::default(), actor, kind).await.unwrap();
    }
}

/// Every stored event: (seq, body exactly as stored).
async fn stored(app: &TestApp) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT seq, body FROM audit_events ORDER BY seq")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
}

fn event_id(body: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    event["event_id"].as_str().unwrap().to_owned()
}

async fn cursor(app: &TestApp, sink: &str) -> i64 {
    stream::cursor(&app.state.db, sink).await.unwrap()
}

async fn backlog(app: &TestApp) -> SinkBacklog {
    let all = app.state.stream.backlog(&app.state.db).await.unwrap();
    assert_eq!(all.len(), 1, "one sink configured: {all:?}");
    all.into_iter().next().unwrap()
}

/// Polls `check` until it returns `Ok`, or fails with its last complaint.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if start.elapsed() > DEADLINE => {
                panic!("timed out after {DEADLINE:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}

/// `GET /metrics`.
async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ------------------------------------------------------------------ syslog-ng

/// A real syslog-ng in the foreground, receiving RFC 5424 over TCP with
/// octet-counting framing (its `syslog()` source) on a loopback port and
/// writing one line per message to a file.
struct SyslogNg {
    dir: tempfile::TempDir,
    port: u16,
    tls: Option<(PathBuf, PathBuf)>,
    child: Option<Child>,
}

fn syslog_ng_binary() -> PathBuf {
    for candidate in ["syslog-ng", "/usr/sbin/syslog-ng"] {
        if Command::new(candidate).arg("--version").output().is_ok_and(|o| o.status.success()) {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "syslog-ng is not installed: the SIEM tests need a real receiver. Run the suite with \
         scripts/test, which installs Debian's syslog-ng-core (or `apt-get install syslog-ng-core`)"
    );
}

impl SyslogNg {
    /// Starts on a free port (another one if that port was taken meanwhile).
    fn start(tls: Option<(PathBuf, PathBuf)>) -> SyslogNg {
        let mut last = String::new();
        for _ in 0..3 {
            let mut receiver = SyslogNg {
                dir: tempfile::tempdir().unwrap(),
                port: free_port(),
                tls: tls.clone(),
                child: None,
            };
            match receiver.try_run() {
                Ok(()) => return receiver,
                Err(log) => last = log,
            }
        }
        panic!("syslog-ng did not start:\n{last}");
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    fn write_config(&self) -> PathBuf {
        let version = Command::new(syslog_ng_binary()).arg("--version").output().unwrap();
        let version = String::from_utf8_lossy(&version.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Config version:").map(|v| v.trim().to_owned()))
            .expect("syslog-ng --version names its config version");
        let transport = match &self.tls {
            None => r#"transport("tcp")"#.to_owned(),
            Some((cert, key)) => format!(
                r#"transport("tls") tls(key-file("{}") cert-file("{}") peer-verify(optional-untrusted))"#,
                key.display(),
                cert.display()
            ),
        };
        let config = format!(
            r#"@version: {version}
options {{ keep-hostname(yes); use-dns(no); dns-cache(no); flush-lines(1); }};
source s_custodian {{ syslog(ip("127.0.0.1") port({port}) {transport}); }};
destination d_file {{
    file("{out}" template("$FACILITY_NUM $LEVEL_NUM $HOST $PROGRAM $PID $MSGID $SDATA $MSG\n"));
}};
log {{ source(s_custodian); destination(d_file); }};
"#,
            port = self.port,
            out = self.output().display(),
        );
        let path = self.dir.path().join("syslog-ng.conf");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// Runs syslog-ng and waits until it accepts connections; on failure,
    /// its log.
    fn try_run(&mut self) -> Result<(), String> {
        let config = self.write_config();
        let dir = self.dir.path();
        let log_path = dir.join("syslog-ng.stderr");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path).unwrap();
        let child = Command::new(syslog_ng_binary())
            .arg("-F")
            .arg("--no-caps")
            .arg("-e")
            .arg("-f")
            .arg(&config)
            .arg("-R")
            .arg(dir.join("syslog-ng.persist"))
            .arg("-p")
            .arg(dir.join("syslog-ng.pid"))
            .arg("-c")
            .arg(dir.join("syslog-ng.ctl"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run syslog-ng: {e}"));
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if std::net::TcpStream::connect(self.address()).is_ok() {
                return Ok(());
            }
            let exited = self.child.as_mut().unwrap().try_wait().unwrap().is_some();
            if exited || start.elapsed() > DEADLINE {
                self.kill();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("syslog-ng on port {} (exited: {exited}):\n{log}", self.port));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn restart(&mut self) {
        self.try_run().unwrap_or_else(|log| panic!("syslog-ng did not restart:\n{log}"));
    }

    /// SIGKILL: no chance to flush or to close connections in order.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn received(&self) -> Vec<Received> {
        std::fs::read_to_string(self.output()).unwrap_or_default().lines().map(Received::parse).collect()
    }
}

impl Drop for SyslogNg {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One message as syslog-ng parsed it.
#[derive(Debug)]
struct Received {
    facility: u8,
    severity: u8,
    host: String,
    app_name: String,
    procid: String,
    msgid: String,
    sdata: String,
    msg: String,
}

impl Received {
    fn parse(line: &str) -> Received {
        let mut fields = line.splitn(7, ' ');
        let mut next = || fields.next().unwrap_or_else(|| panic!("short line: {line}")).to_owned();
        let (facility, severity, host, app_name, procid, msgid, rest) =
            (next(), next(), next(), next(), next(), next(), next());
        let (sdata, msg) = rest.split_once("] ").unwrap_or_else(|| panic!("no structured data: {line}"));
        Received {
            facility: facility.parse().unwrap(),
            severity: severity.parse().unwrap(),
            host,
            app_name,
            procid,
            msgid,
            sdata: format!("{sdata}]"),
            msg: msg.to_owned(),
        }
    }

    fn param(&self, name: &str) -> String {
        let start = self.sdata.find(&format!(" {name}=\"")).unwrap_or_else(|| panic!("{name} in {self:?}"));
        let value = &self.sdata[start + name.len() + 3..];
        value[..value.find('"').unwrap()].to_owned()
    }
}

/// Waits until every stored event has arrived at syslog-ng at least once.
async fn all_arrive(app: &TestApp, receiver: &SyslogNg) -> Vec<Received> {
    let expected: HashSet<String> = stored(app).await.iter().map(|(_, b)| event_id(b)).collect();
    eventually("every event id at syslog-ng", || async {
        let received = receiver.received();
        let got: HashSet<String> = received.iter().map(|r| r.param("event_id")).collect();
        let missing = expected.difference(&got).count();
        if missing == 0 {
            Ok(received)
        } else {
            Err(format!("{missing} of {} missing", expected.len()))
        }
    })
    .await
}

async fn syslog_ng_receives_every_event_across_a_receiver_crash(backend: Backend) {
    let logs = crate::support::captured_logs("debug");
    let mut receiver = SyslogNg::start(None);
    let address = receiver.address();
    let app = TestApp::spawn_with(backend, |c| {
        c.audit.stream.syslog = Some(SyslogSink {
            address,
            tls: false,
            ca_file: None,
            app_name: "custodian".into(),
            hostname: Some("custodian-test".into()),
            timeout: Duration::from_secs(10),
        });
        c.audit.stream.batch = 7;
        c.audit.stream.poll_interval = Duration::from_millis(50);
        c.audit.stream.retry_max_backoff = Duration::from_millis(200);
    })
    .await;
    assert_eq!(app.state.stream.sinks(), ["syslog"]);

    record(&app, 0, 20).await;
    all_arrive(&app, &receiver).await;

    // The receiver dies mid-stream; the journal goes on.
    receiver.kill();
    let delivered = eventually("the cursor at the last event sent before the crash", || async {
        let c = cursor(&app, "syslog").await;
        if c == 20 {
            Ok(c)
        } else {
            Err(format!("cursor {c}"))
        }
    })
    .await;
    let mark = logs.lock().unwrap().len();
    record(&app, 20, 15).await;
    app.clock.advance(Duration::from_secs(90));
    eventually("deliveries failing while the receiver is down", || async {
        let logs = String::from_utf8_lossy(&logs.lock().unwrap()[mark..]).into_owned();
        let failures = logs.matches("SIEM delivery failed").count();
        if failures >= 3 {
            Ok(())
        } else {
            Err(format!("{failures} failures logged"))
        }
    })
    .await;
    assert_eq!(
        cursor(&app, "syslog").await,
        delivered,
        "no delivery is confirmed while the receiver is down"
    );
    let waiting = backlog(&app).await;
    assert_eq!(waiting.sink, "syslog");
    assert_eq!(waiting.events, 15, "the backlog metric counts the undelivered events: {waiting:?}");
    assert!(waiting.lag_seconds >= 90.0, "the lag metric is the oldest undelivered event's age: {waiting:?}");
    let metrics = scrape(&app).await;
    assert!(metrics.contains("custodian_audit_stream_backlog_events{sink=\"syslog\"} 15\n"), "{metrics}");
    assert!(metrics.contains("custodian_audit_stream_lag_seconds{sink=\"syslog\"} 9"), "{metrics}");

    receiver.restart();
    let received = all_arrive(&app, &receiver).await;
    let rows = stored(&app).await;
    let last = rows.last().unwrap().0;
    assert_eq!(last, 35);
    eventually("the cursor at the last event", || async {
        let c = cursor(&app, "syslog").await;
        if c == last {
            Ok(())
        } else {
            Err(format!("cursor {c}"))
        }
    })
    .await;
    let after = backlog(&app).await;
    assert_eq!((after.events, after.lag_seconds), (0, 0.0), "nothing waits any more: {after:?}");
    let metrics = scrape(&app).await;
    assert!(metrics.contains("custodian_audit_stream_backlog_events{sink=\"syslog\"} 0\n"), "{metrics}");
    assert!(metrics.contains("custodian_audit_stream_lag_seconds{sink=\"syslog\"} 0\n"), "{metrics}");

    // Every message is well-formed RFC 5424 as syslog-ng parsed it, and its
    // payload is the stored event, byte for byte.
    assert!(received.len() >= rows.len(), "duplicates are allowed, losses are not");
    for r in &received {
        let seq: i64 = r.param("seq").parse().unwrap();
        let body = &rows.iter().find(|(s, _)| *s == seq).unwrap().1;
        let event: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(r.msg, *body, "MSG is the event JSON (syslog-ng strips the BOM)");
        assert_eq!(r.param("event_id"), event["event_id"].as_str().unwrap());
        assert_eq!(r.msgid, event["action"].as_str().unwrap());
        assert_eq!(r.facility, 13, "log audit");
        let (decision, severity) =
            if event["decision"] == "allowed" { ("allowed", 5) } else { ("denied", 4) };
        assert_eq!((r.param("decision").as_str(), r.severity), (decision, severity), "{r:?}");
        assert_eq!((r.host.as_str(), r.app_name.as_str()), ("custodian-test", "custodian"));
        assert_eq!(r.procid, std::process::id().to_string());
        assert!(r.sdata.starts_with(&format!("[{SD_ID} seq=\"{seq}\" ")), "{}", r.sdata);
    }
    let denied = received.iter().find(|r| r.severity == 4).unwrap();
    assert!(denied.msg.contains(r#"x\"]\\"#), "quotes, brackets and backslashes survive: {}", denied.msg);
}

/// Over TLS, trusting the receiver's certificate from `ca_file`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_trusts_the_configured_ca() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (keys.path().join("cert.pem"), keys.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let logs = crate::support::captured_logs("debug");
    let receiver = SyslogNg::start(Some((cert_file.clone(), key_file)));
    let sink = |ca_file: Option<PathBuf>| SyslogSink {
        address: format!("localhost:{}", receiver.port),
        tls: true,
        ca_file,
        app_name: "custodian".into(),
        hostname: None,
        timeout: Duration::from_secs(10),
    };

    // Without the CA, the receiver's certificate is refused: nothing is sent.
    let untrusting = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.audit.stream.syslog = Some(sink(None));
        c.audit.stream.poll_interval = Duration::from_millis(50);
    })
    .await;
    record(&untrusting, 0, 1).await;
    eventually("a refused certificate", || async {
        let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        if logs.contains("invalid peer certificate") {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .await;
    untrusting.state.stream.shutdown().await;
    assert_eq!(cursor(&untrusting, "syslog").await, 0);
    assert!(receiver.received().is_empty());

    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.audit.stream.syslog = Some(sink(Some(cert_file.clone())));
        c.audit.stream.poll_interval = Duration::from_millis(50);
    })
    .await;
    record(&app, 0, 5).await;
    let received = all_arrive(&app, &receiver).await;
    assert!(received.iter().all(|r| r.host != "-" && !r.host.is_empty()), "the machine's host name");
    eventually("the cursor at the last event", || async {
        let c = cursor(&app, "syslog").await;
        if c == 5 {
            Ok(())
        } else {
            Err(format!("cursor {c}"))
        }
    })
    .await;
}

// ------------------------------------------------------------------ webhook

#[derive(Debug, Clone)]
struct Request {
    status: u16,
    authorization: Option<String>,
    content_type: Option<String>,
    body: String,
}

/// Answers 500 or a redirect (alternately) while `failing`, then 200.
#[derive(Clone, Default)]
struct Receiver {
    failing: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<Request>>>,
    redirected: Arc<AtomicBool>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver { failing: Arc::new(AtomicBool::new(true)), ..Receiver::default() };
        let router = Router::new()
            .route("/siem", post(receive))
            .route(
                "/elsewhere",
                post(|State(r): State<Receiver>| async move {
                    r.redirected.store(true, Ordering::SeqCst);
                    StatusCode::OK
                }),
            )
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (receiver, base)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> Response {
    let text = |name| headers.get(name).map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned());
    let mut requests = r.requests.lock().unwrap();
    let status = match (r.failing.load(Ordering::SeqCst), requests.len() % 2) {
        (false, _) => 200,
        (true, 0) => 500,
        (true, _) => 307,
    };
    requests.push(Request {
        status,
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        body,
    });
    match status {
        307 => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, "/elsewhere")]).into_response(),
        s => StatusCode::from_u16(s).unwrap().into_response(),
    }
}

async fn the_webhook_gets_every_event_once_it_accepts_and_no_secret_is_logged(backend: Backend) {
    let logs = crate::support::captured_logs("debug");
    let (receiver, base) = Receiver::start().await;
    let token = format!("siem-token-{}", crate::support::random_key());
    let url_secret = format!("url-secret-{}", uuid::Uuid::new_v4().simple());
    let url: url::Url = format!("{base}/siem?key={url_secret}").parse().unwrap();
    let sink_token = token.clone();
    let app = TestApp::spawn_with(backend, |c| {
        c.audit.stream.webhook = Some(WebhookSink {
            url,
            bearer_token: Some(Secret::new(sink_token)),
            bearer_token_file: None,
            timeout: Duration::from_secs(10),
        });
        c.audit.stream.batch = 4;
        c.audit.stream.poll_interval = Duration::from_millis(50);
        c.audit.stream.retry_max_backoff = Duration::from_millis(200);
    })
    .await;
    assert_eq!(app.state.stream.sinks(), ["webhook"]);
    record(&app, 0, 10).await;
    app.clock.advance(Duration::from_secs(30));

    // While the receiver refuses, the same first batch is offered again and
    // again: the cursor stays put.
    eventually("three refused deliveries", || async {
        let n = receiver.requests().len();
        if n >= 3 {
            Ok(())
        } else {
            Err(format!("{n} requests"))
        }
    })
    .await;
    assert_eq!(cursor(&app, "webhook").await, 0, "a refused delivery does not move the cursor");
    let waiting = backlog(&app).await;
    assert_eq!((waiting.sink, waiting.events), ("webhook", 10), "{waiting:?}");
    assert!(waiting.lag_seconds >= 30.0, "{waiting:?}");

    receiver.failing.store(false, Ordering::SeqCst);
    eventually("the cursor at the last event", || async {
        let c = cursor(&app, "webhook").await;
        if c == 10 {
            Ok(())
        } else {
            Err(format!("cursor {c}"))
        }
    })
    .await;
    let after = backlog(&app).await;
    assert_eq!((after.events, after.lag_seconds), (0, 0.0), "{after:?}");

    let rows = stored(&app).await;
    let requests = receiver.requests();
    let (refused, accepted): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.status != 200);
    assert!(refused.len() >= 3);
    for r in &refused {
        // Events still being recorded may join the first batch; it always starts after cursor 0.
        let lines = r.body.lines().count();
        assert!((1..=4).contains(&lines), "{lines} lines");
        let from_the_start: String = rows[..lines].iter().map(|(_, b)| format!("{b}\n")).collect();
        assert_eq!(r.body, from_the_start, "each retry resends from the persisted cursor");
    }
    assert!(!receiver.redirected.load(Ordering::SeqCst), "redirects are not followed");
    // The accepted requests carry every event, in order, each line exactly as stored.
    let delivered: Vec<String> =
        accepted.iter().flat_map(|r| r.body.lines().map(str::to_owned).collect::<Vec<_>>()).collect();
    let expected: Vec<String> = rows.iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(delivered, expected);
    assert_eq!(accepted.len(), 3, "batches of 4: 4 + 4 + 2");
    for r in &requests {
        assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {token}").as_str()));
        assert_eq!(r.content_type.as_deref(), Some("application/x-ndjson"));
        assert!(r.body.ends_with('\n'));
    }

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logs.contains("SIEM delivery failed"), "the failures were logged (and captured)");
    assert!(!logs.contains(&token), "the bearer token is never logged");
    assert!(!logs.contains(&url_secret), "the webhook URL (which may carry credentials) is never logged");
}

/// The configuration names what is wrong, and takes the token from a file.
#[test]
fn stream_configuration_is_checked() {
    let config: custodian::config::Config = toml::from_str(
        r#"
        [audit.stream]
        batch = 0
        [audit.stream.syslog]
        address = "siem.example"
        ca_file = "/nonexistent/ca.pem"
        [audit.stream.webhook]
        url = "http://siem.example/ingest"
        "#,
    )
    .unwrap();
    let problems = config.audit.stream.problems().join("\n");
    for expected in ["batch", "host:port", "ca_file needs tls", "cannot read /nonexistent/ca.pem", "https://"]
    {
        assert!(problems.contains(expected), "{expected:?} in {problems}");
    }
    let unknown =
        toml::from_str::<custodian::config::Config>("[audit.stream.syslog]\naddress = \"a:1\"\nport = 1\n");
    assert!(unknown.unwrap_err().to_string().contains("port"), "unknown keys are refused");

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "file-token\n").unwrap();
    let mut config = crate::support::test_config("sqlite::memory:".into(), dir.path());
    config.audit.stream.webhook = Some(WebhookSink {
        url: "https://siem.example/ingest".parse().unwrap(),
        bearer_token: None,
        bearer_token_file: Some(token_file),
        timeout: Duration::from_secs(5),
    });
    config.resolve_secret_files().unwrap();
    config.validate().unwrap();
    let webhook = config.audit.stream.webhook.as_ref().unwrap();
    assert_eq!(webhook.bearer_token.as_ref().unwrap().expose(), "file-token");
    assert!(!config.masked_toml().contains("file-token"), "the token is masked when shown");
}
