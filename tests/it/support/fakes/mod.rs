//! Faithful fakes of the platforms' HTTP APIs, on loopback. Each records
//! every request it receives so a test can assert that the right credential
//! was injected and nothing else was sent.

pub mod bluesky;
pub mod facebook;
pub mod linkedin;
pub mod mastodon;
pub mod x;

/// One request a fake received: what tests assert on (the right credential
/// injected, nothing else sent).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, plus `?` and the raw query when there is one.
    pub path: String,
    /// Lower-cased names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// A fake's HTTP server on a free loopback port; it stops when dropped.
pub struct Server {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn start(app: axum::Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a fake's port");
        let addr = listener.local_addr().expect("a fake's address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("a fake's server");
        });
        Server { addr, task }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
