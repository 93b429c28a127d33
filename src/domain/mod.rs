//! The domain core: the words every other module shares, at the bottom of
//! the layers. It imports nothing of the crate, so any module may use it
//! and it can never pull the rest in.

mod account;
mod action;
mod actor;
mod finding;
mod ids;
mod platform;
mod policy_action;
mod refusal;
mod time;

pub use account::{Account, Status};
pub use action::{Action, Forward, Image, NewPost};
pub use actor::Actor;
pub use finding::{Finding, FindingKind, Severity, Verdict};
pub use ids::{AccountId, EventId, TokenId, UserId};
pub use platform::Platform;
pub use policy_action::PolicyAction;
pub use refusal::{Details, Kind, Refusal, Step};
pub use time::Timestamp;

use url::Url;

/// Adds a problem unless `url` is https, or plain http on loopback:
/// credentials and tokens never cross a network in the clear.
pub fn check_https_or_loopback(key: &str, url: &Url, problems: &mut Vec<String>) {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => problems.push(format!("{key} must be an https:// URL (plain http only on loopback), got {url}")),
    }
}
