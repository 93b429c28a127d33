//! Faithful fakes of the platforms' HTTP APIs, on loopback. Each records
//! every request it receives so a test can assert that the right credential
//! was injected and nothing else was sent.

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
