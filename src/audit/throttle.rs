//! Counting refusals per source with bounded memory: the refusal throttle
//! that keeps unauthenticated clients from filling the journal, and the
//! per-source rate limit on starting a sign-in. Never writes an event itself
//! (the journal does, from what this hands back) and never forgets a count
//! it has not handed back.
//!
//! **Refusal throttle.** A refusal made before anyone is known (a wrong API
//! or SCIM token, a callback with no sign-in in progress, a cookie naming no
//! session, a proxy call without a token, too many sign-ins) is counted under
//! a key: the kind of refusal (its *scope*) and its *source*. The first one
//! under a key in a window (`audit.refusals.window`, a minute) is recorded,
//! carrying `suppressed`, the count of the same refusals not recorded since
//! the previous one; the others in the window are only counted. Without
//! this, anyone could fill the journal and, since every action waits for
//! its own event, push real actions past `audit.write_timeout`.
//!
//! **Bounded memory, no lost counts.** At most `max_sources` sources are
//! tracked one by one. Once the table is full, a new address is counted under
//! its network (/24 for IPv4, /64 for IPv6), at most `max_networks` of them,
//! and beyond that under one overflow bucket per scope. The event says which
//! (`counted_as`). An entry leaves the table only once its window has closed,
//! and if it counted refusals that were not recorded, it leaves as a summary
//! event carrying that count (`summary: true`): the journal sweeps every
//! checkpoint tick and, at shutdown, everything. So a flood of new sources
//! can blur which address a refusal came from, but never erases a count.
//!
//! ```text
//!            refusal (scope, source)
//!                     │
//!   key tracked? ─yes─┤
//!       │no           ▼
//!   sources < max ─► own entry     window open? ─yes─► count it (suppressed += 1)
//!   networks < max ─► network entry      │no
//!   else ─► overflow entry               ▼
//!                               record it with suppressed = n, reopen the window
//!   sweep: window closed ─► n > 0 ? summary event with n : drop silently
//! ```
//!
//! Each entry yields at most one event when its window opens and one summary
//! when it closes, so the journal grows by at most
//! `2 × (max_sources + max_networks + scopes)` throttled events per window,
//! whatever the flood. A summary the journal could not write is handed back
//! ([`Throttle::restore`]) and tried again at the next sweep.
//!
//! **Slowed sources.** Counting keeps the journal small, but each refusal
//! still costs a lookup, and a client that sends the next request as soon as
//! the last is answered would take the gateway's CPU and database from real
//! actions. So once the entry a source is counted under has made
//! `slow_after` refusals of a kind in its window, the source is *slowed*
//! ([`Throttle::slowed`]), checked **before** any lookup: a request of that
//! kind presenting a credential Custodian does not know (its in-memory set
//! of issued and seen ones) waits its turn ([`Hold::take_turn`]): one lookup
//! at a time per source and kind, a refusal keeping the turn `hold` longer,
//! none waiting more than [`MAX_WAIT`] or behind more than [`MAX_WAITING`]
//! (those are refused unlooked-up). A known credential goes the usual way,
//! never queued, so staff behind the same address are not slowed by a flood
//! from it; a real credential this process does not know yet (another
//! replica's) is looked up on its turn, delayed but not refused unless the
//! queue is full.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::clock::Timestamp;

/// `[audit.refusals]`: how refusals before sign-in are counted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RefusalsConfig {
    /// Repeated refusals of one kind from one source share one event per window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Sources tracked one by one; beyond them, sources share their network's count.
    pub max_sources: usize,
    /// Networks (/24, /64) tracked once the sources are full; beyond them, one shared count.
    pub max_networks: usize,
    /// Refusals of one kind a source may make per window before it is
    /// slowed: then its requests of that kind with an unknown credential
    /// are looked up one at a time, each refusal keeping the turn `hold`.
    pub slow_after: u64,
    /// How long a slowed source's refusal keeps its turn before it is answered; zero: never slowed.
    #[serde(with = "humantime_serde")]
    pub hold: Duration,
}

impl Default for RefusalsConfig {
    fn default() -> Self {
        RefusalsConfig {
            window: Duration::from_secs(60),
            max_sources: 10_000,
            max_networks: 1_000,
            slow_after: 20,
            hold: Duration::from_secs(1),
        }
    }
}

impl RefusalsConfig {
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.window.is_zero() {
            problems.push("audit.refusals.window must be positive".to_owned());
        }
        if self.max_sources == 0 {
            problems.push("audit.refusals.max_sources must be at least 1".to_owned());
        }
        if self.hold > MAX_HOLD {
            problems.push(format!(
                "audit.refusals.hold must be at most {} s (a held answer must come before clients give up)",
                MAX_HOLD.as_secs()
            ));
        }
        problems
    }
}

/// The longest `hold` configurable.
pub const MAX_HOLD: Duration = Duration::from_secs(5);

/// The longest a slowed source's request waits for its turn; then it is
/// refused at once (well below `http.request_timeout`'s 30 s default, so
/// the answer is the refusal, not a timeout).
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// The most requests of one source and kind waiting for their turn; any
/// more are refused at once, unlooked-up.
pub const MAX_WAITING: usize = 32;

/// Whom a refusal is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// A client address (after trusted proxies).
    Addr(IpAddr),
    /// A known principal: a user, a token. Bounded by the directory, not the network.
    Named(String),
    /// No address is known (an in-process caller).
    Unknown,
}

impl Source {
    /// The client address recorded for the request, if it has one.
    pub fn client(meta: &crate::audit::RequestMeta) -> Source {
        meta.client_ip.as_deref().and_then(|ip| ip.parse().ok()).map_or(Source::Unknown, Source::Addr)
    }
}

/// What a refusal is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Bucket {
    Own(Source),
    Network(ipnet::IpNet),
    Overflow,
}

impl Bucket {
    /// How an event names a shared count; `None` for a source's own.
    fn label(&self) -> Option<String> {
        match self {
            Bucket::Own(_) => None,
            Bucket::Network(net) => Some(net.to_string()),
            Bucket::Overflow => Some("other sources".to_owned()),
        }
    }
}

/// A source's own key. One IPv6 host commonly holds a whole /64: counted as
/// one source from the start, it cannot fill the table by rotating its addresses.
fn own_key(scope: &'static str, source: Source) -> Key {
    let source = match source {
        Source::Addr(IpAddr::V6(ip)) => {
            Source::Addr(IpAddr::V6(std::net::Ipv6Addr::from(u128::from(ip) & !(u128::from(u64::MAX)))))
        }
        other => other,
    };
    (scope, Bucket::Own(source))
}

/// The network a flood's new addresses are grouped by.
fn network_of(ip: IpAddr) -> Option<ipnet::IpNet> {
    let prefix = if ip.is_ipv4() { 24 } else { 64 };
    ipnet::IpNet::new(ip, prefix).ok().map(|net| net.trunc())
}

type Key = (&'static str, Bucket);

/// A map from (scope, source) to `V` that holds at most `max_sources` own
/// entries and `max_networks` network entries, plus one overflow per scope.
#[derive(Debug)]
struct Table<V> {
    entries: HashMap<Key, V>,
    own: usize,
    networks: usize,
    max_sources: usize,
    max_networks: usize,
}

impl<V> Table<V> {
    fn new(max_sources: usize, max_networks: usize) -> Self {
        Table { entries: HashMap::new(), own: 0, networks: 0, max_sources, max_networks }
    }

    /// The key a refusal from `source` is counted under now.
    fn key_for(&self, scope: &'static str, source: Source) -> Key {
        let own = own_key(scope, source);
        if self.entries.contains_key(&own) || self.own < self.max_sources {
            return own;
        }
        if let (_, Bucket::Own(Source::Addr(ip))) = &own {
            if let Some(net) = network_of(*ip) {
                let network = (scope, Bucket::Network(net));
                if self.entries.contains_key(&network) || self.networks < self.max_networks {
                    return network;
                }
            }
        }
        (scope, Bucket::Overflow)
    }

    /// Whether `key` may be added without passing the table's bounds.
    fn has_room(&self, key: &Key) -> bool {
        match key.1 {
            Bucket::Own(_) => self.own < self.max_sources,
            Bucket::Network(_) => self.networks < self.max_networks,
            Bucket::Overflow => true,
        }
    }

    fn insert(&mut self, key: Key, value: V) {
        match key.1 {
            Bucket::Own(_) => self.own += 1,
            Bucket::Network(_) => self.networks += 1,
            Bucket::Overflow => {}
        }
        self.entries.insert(key, value);
    }

    /// Removes the entries `leave` says go, handing each to it.
    fn drain(&mut self, mut leave: impl FnMut(&Key, &mut V) -> bool) {
        let (mut own, mut networks) = (0, 0);
        self.entries.retain(|key, value| {
            let stays = !leave(key, value);
            if stays {
                match key.1 {
                    Bucket::Own(_) => own += 1,
                    Bucket::Network(_) => networks += 1,
                    Bucket::Overflow => {}
                }
            }
            stays
        });
        self.own = own;
        self.networks = networks;
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn elapsed(since: Timestamp, now: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(now.millis() - since.millis()).unwrap_or(0))
}

#[derive(Debug)]
struct Entry<T> {
    opened: Timestamp,
    suppressed: u64,
    /// The newest refusal counted but not recorded: what its summary describes.
    last: Option<T>,
    /// Refusals of an earlier window whose summary could not be written:
    /// carried by the next event, never counted towards slowing.
    carried: u64,
    /// A slowed source's unknown credentials take turns here, one at a time.
    turn: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl<T> Entry<T> {
    fn opened(opened: Timestamp) -> Self {
        Entry {
            opened,
            suppressed: 0,
            last: None,
            carried: 0,
            turn: Arc::new(Semaphore::new(1)),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }
}

/// A slowed source's queue for one kind: its requests with an unknown
/// credential are looked up one at a time, each refusal held.
#[derive(Debug)]
pub struct Hold {
    turn: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    hold: Duration,
}

/// A request's place in its source's queue ([`Hold::take_turn`]).
#[derive(Debug)]
pub enum Turn {
    /// Its turn: look the credential up now. A refusal then keeps the turn
    /// `hold` longer ([`Turn::refused`]); a success hands it on at once.
    Mine { _turn: tokio::sync::OwnedSemaphorePermit, hold: Duration },
    /// The queue is full, or the wait ran out: refuse without a lookup.
    Lost,
}

impl Turn {
    /// Holds a refused request's turn before it is answered.
    pub async fn refused(self) {
        if let Turn::Mine { hold, .. } = self {
            tokio::time::sleep(hold).await;
        }
    }
}

impl Hold {
    /// Waits for this source's turn, at most [`MAX_WAIT`], behind at most
    /// [`MAX_WAITING`] others.
    pub async fn take_turn(self) -> Turn {
        let waiting = Waiting::join(&self.waiting);
        if waiting.ahead >= MAX_WAITING {
            return Turn::Lost;
        }
        let turn = tokio::time::timeout(MAX_WAIT, self.turn.acquire_owned()).await;
        drop(waiting);
        match turn {
            Ok(Ok(permit)) => Turn::Mine { _turn: permit, hold: self.hold },
            // The semaphore is never closed; a wait that ran out loses its turn.
            _ => Turn::Lost,
        }
    }
}

/// A place in a queue's count of waiters, given back when dropped: also when
/// the request is dropped while waiting (its client went away), so the
/// count cannot creep up to full.
struct Waiting {
    count: Arc<AtomicUsize>,
    /// How many were waiting before this one.
    ahead: usize,
}

impl Waiting {
    fn join(count: &Arc<AtomicUsize>) -> Waiting {
        let ahead = count.fetch_add(1, Ordering::SeqCst);
        Waiting { count: count.clone(), ahead }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A refusal to record now, and the count it carries.
#[derive(Debug, PartialEq, Eq)]
pub struct ToRecord<T> {
    pub refusal: T,
    /// The same refusals under this key not recorded since the previous event.
    pub suppressed: u64,
    /// The network or shared bucket the source was counted under, if not its own.
    pub counted_as: Option<String>,
}

/// Refusals counted but not recorded, handed back when their window closed.
#[derive(Debug, PartialEq, Eq)]
pub struct Due<T> {
    /// The newest of them.
    pub last: T,
    pub suppressed: u64,
    pub counted_as: Option<String>,
    /// Where the count was kept, should it have to go back ([`Throttle::restore`]).
    key: Key,
}

/// The refusal throttle; `T` is what is recorded (the journal's pending event).
#[derive(Debug)]
pub struct Throttle<T> {
    window: Duration,
    slow_after: u64,
    hold: Duration,
    table: Mutex<Table<Entry<T>>>,
}

impl<T> Throttle<T> {
    pub fn new(config: &RefusalsConfig) -> Self {
        Throttle {
            window: config.window,
            slow_after: config.slow_after,
            hold: config.hold,
            table: Mutex::new(Table::new(config.max_sources, config.max_networks)),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table<Entry<T>>> {
        self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `Some` if `refusal` should be recorded now (with the count it
    /// carries); `None` if it is only counted.
    pub fn admit(
        &self,
        scope: &'static str,
        source: Source,
        now: Timestamp,
        refusal: T,
    ) -> Option<ToRecord<T>> {
        let mut table = self.table();
        let key = table.key_for(scope, source);
        let counted_as = key.1.label();
        match table.entries.get_mut(&key) {
            Some(entry) if elapsed(entry.opened, now) < self.window => {
                entry.suppressed += 1;
                entry.last = Some(refusal);
                None
            }
            Some(entry) => {
                let suppressed = std::mem::take(&mut entry.suppressed) + std::mem::take(&mut entry.carried);
                entry.opened = now;
                entry.last = None;
                Some(ToRecord { refusal, suppressed, counted_as })
            }
            None => {
                table.insert(key, Entry::opened(now));
                Some(ToRecord { refusal, suppressed: 0, counted_as })
            }
        }
    }

    /// `Some` if `source` is slowed for `scope` now: the entry it is counted
    /// under (its own, its network's or the shared one) has made
    /// `slow_after` refusals in its open window. Counts nothing.
    pub fn slowed(&self, scope: &'static str, source: Source, now: Timestamp) -> Option<Hold> {
        if self.hold.is_zero() {
            return None;
        }
        let table = self.table();
        let entry = table.entries.get(&table.key_for(scope, source))?;
        let slowed = elapsed(entry.opened, now) < self.window && entry.suppressed >= self.slow_after;
        slowed.then(|| Hold { turn: entry.turn.clone(), waiting: entry.waiting.clone(), hold: self.hold })
    }

    /// Removes the entries whose window has closed (every entry if
    /// `everything`, at shutdown) and hands back the counts they held that
    /// no event carries yet.
    pub fn sweep(&self, now: Timestamp, everything: bool) -> Vec<Due<T>> {
        let mut due = Vec::new();
        self.table().drain(|key, entry| {
            let closed = everything || elapsed(entry.opened, now) >= self.window;
            if closed {
                if let Some(last) = entry.last.take() {
                    let (counted_as, suppressed) = (key.1.label(), entry.suppressed + entry.carried);
                    due.push(Due { last, suppressed, counted_as, key: key.clone() });
                }
            }
            closed
        });
        due
    }

    /// Takes back a count whose summary could not be written, so that the
    /// next sweep hands it back again (its window counts as closed). If the
    /// table has filled since, it joins its scope's shared count.
    pub fn restore(&self, due: Due<T>, now: Timestamp) {
        let mut table = self.table();
        let key = if table.entries.contains_key(&due.key) || table.has_room(&due.key) {
            due.key
        } else {
            (due.key.0, Bucket::Overflow)
        };
        let closed = Timestamp(
            now.millis().saturating_sub(i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)),
        );
        if !table.entries.contains_key(&key) {
            table.insert(key.clone(), Entry::opened(closed));
        }
        if let Some(entry) = table.entries.get_mut(&key) {
            entry.carried += due.suppressed;
            // A refusal counted since is newer: its summary describes that one.
            entry.last.get_or_insert(due.last);
        }
    }

    /// Keys held now (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.table().len()
    }
}

/// At most `per_window` attempts per source per window, with the same bounded
/// table: once it is full, new sources share their network's allowance,
/// then one shared allowance. A flood from many addresses can thus slow
/// newcomers during the flood, but never those already counted, and it
/// never grows memory.
#[derive(Debug)]
pub struct RateLimit {
    window: Duration,
    per_window: u32,
    table: Mutex<Table<(Timestamp, u32)>>,
}

impl RateLimit {
    pub fn new(per_window: u32, window: Duration, config: &RefusalsConfig) -> Self {
        RateLimit {
            window,
            per_window,
            table: Mutex::new(Table::new(config.max_sources, config.max_networks)),
        }
    }

    /// `Ok` if one more attempt from `source` is allowed now; `Err(seconds)`
    /// until the next one is.
    pub fn check(&self, source: Source, now: Timestamp) -> Result<(), u64> {
        let mut table = self.table.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = self.window;
        let full = table.own >= table.max_sources;
        if full {
            // Expired allowances carry nothing worth keeping.
            table.drain(|_, (opened, _)| elapsed(*opened, now) >= window);
        }
        let key = table.key_for("attempts", source);
        match table.entries.get_mut(&key) {
            Some((opened, n)) if elapsed(*opened, now) >= window => {
                *opened = now;
                *n = 1;
                Ok(())
            }
            Some((opened, n)) if *n >= self.per_window => {
                let left = window.saturating_sub(elapsed(*opened, now));
                // Rounded up: retrying after this many seconds succeeds.
                Err((left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1))
            }
            Some((_, n)) => {
                *n += 1;
                Ok(())
            }
            None => {
                table.insert(key, (now, 1));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn config(max_sources: usize, max_networks: usize) -> RefusalsConfig {
        RefusalsConfig {
            window: Duration::from_secs(60),
            max_sources,
            max_networks,
            ..RefusalsConfig::default()
        }
    }

    fn ip(s: &str) -> Source {
        Source::Addr(s.parse().unwrap())
    }

    fn at(s: i64) -> Timestamp {
        Timestamp(s * 1000)
    }

    #[test]
    fn one_event_per_window_carries_the_count_of_those_not_recorded() {
        let t = Throttle::new(&config(100, 10));
        let admit = |source: &str, s: i64| t.admit("token", ip(source), at(s), s).map(|a| a.suppressed);
        assert_eq!(admit("10.0.0.1", 0), Some(0));
        assert_eq!(admit("10.0.0.1", 1), None);
        assert_eq!(admit("10.0.0.1", 59), None);
        assert_eq!(admit("10.0.0.2", 59), Some(0), "another source is recorded");
        assert_eq!(
            t.admit("scim", ip("10.0.0.1"), at(59), 0).map(|a| a.suppressed),
            Some(0),
            "another kind too"
        );
        assert_eq!(admit("10.0.0.1", 60), Some(2));
        assert_eq!(admit("10.0.0.1", 61), None);
    }

    #[test]
    fn a_full_table_counts_new_sources_by_network_then_together() {
        let t = Throttle::new(&config(2, 1));
        let admit = |source: &str| t.admit("callback", ip(source), at(0), ()).map(|a| a.counted_as);
        assert_eq!(admit("192.0.2.1"), Some(None));
        assert_eq!(admit("2001:db8::1"), Some(None));
        // Full: a new address is counted under its /24 ...
        assert_eq!(admit("198.51.100.7"), Some(Some("198.51.100.0/24".to_owned())));
        assert_eq!(admit("198.51.100.8"), None, "the same network shares the count");
        // ... and once the networks are full too, under one shared bucket.
        assert_eq!(admit("203.0.113.9"), Some(Some("other sources".to_owned())));
        assert_eq!(admit("2001:db8:1::5"), None);
        // Sources already tracked keep their own count.
        assert_eq!(admit("192.0.2.1"), None);
        assert_eq!(t.tracked(), 4);
    }

    #[test]
    fn one_ipv6_64_is_one_source_however_many_addresses_it_rotates() {
        let t = Throttle::new(&config(100, 5));
        assert!(t.admit("token", ip("2001:db8::1"), at(0), ()).is_some());
        for i in 2..500 {
            let rotated = format!("2001:db8::{i:x}:1");
            assert!(t.admit("token", ip(&rotated), at(0), ()).is_none(), "{rotated} counted with the first");
        }
        assert_eq!(t.tracked(), 1, "one entry for the whole /64");
        assert!(
            t.admit("token", ip("2001:db8:0:1::1"), at(0), ()).is_some(),
            "another /64 is another source"
        );
    }

    #[test]
    fn ipv6_sources_are_grouped_by_their_64() {
        let t = Throttle::new(&config(1, 5));
        assert!(t.admit("token", ip("2001:db8::1"), at(0), ()).is_some());
        let a = t.admit("token", ip("2001:db8:0:7::1"), at(0), ()).unwrap();
        assert_eq!(a.counted_as.as_deref(), Some("2001:db8:0:7::/64"));
        assert!(t.admit("token", ip("2001:db8:0:7:ffff::2"), at(0), ()).is_none());
    }

    #[test]
    fn a_closed_window_hands_back_its_count_before_the_entry_goes() {
        let t = Throttle::new(&config(10, 10));
        assert!(t.admit("token", ip("10.0.0.1"), at(0), "first").is_some());
        assert!(t.admit("token", ip("10.0.0.1"), at(1), "second").is_none());
        assert!(t.admit("token", ip("10.0.0.1"), at(2), "third").is_none());
        assert!(t.admit("token", ip("10.0.0.2"), at(30), "other").is_some());
        assert!(t.sweep(at(59), false).is_empty(), "nothing closes early");
        let due = t.sweep(at(60), false);
        let due: Vec<_> = due.into_iter().map(|d| (d.last, d.suppressed, d.counted_as)).collect();
        assert_eq!(due, vec![("third", 2, None)]);
        assert_eq!(t.tracked(), 1, "10.0.0.2's window is still open");
        // At shutdown everything goes; an entry with no unrecorded count says nothing.
        assert!(t.sweep(at(61), true).is_empty());
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn a_source_past_its_free_refusals_is_slowed_and_no_other() {
        let t = Throttle::new(&RefusalsConfig { slow_after: 3, ..config(100, 10) });
        let slowed = |source: &str, s: i64| t.slowed("token", ip(source), at(s)).is_some();
        // The recorded one and three counted ones: then the source is slowed ...
        for s in 0..4 {
            assert!(!slowed("10.0.0.1", s), "not yet at refusal {s}");
            t.admit("token", ip("10.0.0.1"), at(s), ());
        }
        assert!(slowed("10.0.0.1", 4));
        assert!(slowed("10.0.0.1", 4), "asking counts nothing and changes nothing");
        // ... for this source and kind only, in this window only.
        assert!(!slowed("10.0.0.2", 4), "another source");
        assert!(t.slowed("scim", ip("10.0.0.1"), at(4)).is_none(), "another kind");
        assert!(!slowed("10.0.0.1", 60), "the window closed");
        let never = Throttle::new(&RefusalsConfig { slow_after: 0, hold: Duration::ZERO, ..config(100, 10) });
        never.admit("token", ip("10.0.0.1"), at(0), ());
        assert!(never.slowed("token", ip("10.0.0.1"), at(0)).is_none(), "hold = 0 never slows");
    }

    #[test]
    fn a_source_counted_under_its_network_or_the_shared_bucket_is_slowed_with_it() {
        let t = Throttle::new(&RefusalsConfig { slow_after: 3, ..config(1, 1) });
        t.admit("token", ip("192.0.2.1"), at(0), ());
        // The table is full: newcomers are counted by network, then together,
        // so rotating addresses (a whole IPv6 /48) does not escape slowing.
        for i in 0..10 {
            t.admit("token", ip(&format!("198.51.100.{i}")), at(0), ());
            t.admit("token", ip(&format!("203.0.113.{i}")), at(0), ());
        }
        assert!(t.slowed("token", ip("192.0.2.1"), at(0)).is_none(), "one refusal of its own");
        assert!(t.slowed("token", ip("198.51.100.77"), at(0)).is_some(), "its network made ten");
        assert!(t.slowed("token", ip("203.0.113.77"), at(0)).is_some(), "the shared count made ten");
    }

    #[tokio::test]
    async fn a_slowed_sources_lookups_take_turns_and_a_full_queue_is_refused_at_once() {
        const HOLD: Duration = Duration::from_millis(100);
        let t = Throttle::new(&RefusalsConfig { slow_after: 0, hold: HOLD, ..config(100, 10) });
        t.admit("token", ip("10.0.0.1"), at(0), ());
        let slowed = || t.slowed("token", ip("10.0.0.1"), at(0)).expect("slowed");
        let started = std::time::Instant::now();
        // Five refused lookups, one after another: each keeps its turn a hold longer.
        let refused = (0..5).map(|_| async { slowed().take_turn().await.refused().await });
        futures::future::join_all(refused).await;
        assert!(started.elapsed() >= 5 * HOLD, "{:?}", started.elapsed());
        // A success hands its turn on at once.
        let first = slowed().take_turn().await;
        assert!(matches!(first, Turn::Mine { .. }));
        let mut queue: Vec<_> = (0..MAX_WAITING).map(|_| Box::pin(slowed().take_turn())).collect();
        for waiting in &mut queue {
            assert!(futures::poll!(waiting.as_mut()).is_pending(), "waiting behind the first");
        }
        assert!(matches!(slowed().take_turn().await, Turn::Lost), "a full queue refuses at once");
        // Waiters whose clients went away give their places back.
        queue.truncate(1);
        let mut next = Box::pin(slowed().take_turn());
        assert!(futures::poll!(next.as_mut()).is_pending(), "a place in the queue again, not refused");
        drop(first);
        assert!(matches!(queue.remove(0).await, Turn::Mine { .. }), "the next one's turn");
    }

    #[test]
    fn a_carried_count_does_not_slow_its_source() {
        let t = Throttle::new(&RefusalsConfig { slow_after: 2, ..config(10, 0) });
        t.admit("token", ip("10.0.0.1"), at(0), "first");
        for s in 1..=5 {
            t.admit("token", ip("10.0.0.1"), at(s), "more");
        }
        let due = t.sweep(at(60), false);
        // A new window opens before the failed summary's count comes back into it.
        t.admit("token", ip("10.0.0.1"), at(61), "next window");
        for due in due {
            t.restore(due, at(62));
        }
        assert!(
            t.slowed("token", ip("10.0.0.1"), at(62)).is_none(),
            "five carried refusals are not this window's"
        );
        let summary: Vec<_> = t.sweep(at(121), false).into_iter().map(|d| d.suppressed).collect();
        assert_eq!(summary, vec![5], "and they are still written");
    }

    #[test]
    fn a_count_whose_summary_was_not_written_comes_back_at_the_next_sweep() {
        let t = Throttle::new(&config(1, 0));
        assert!(t.admit("token", ip("10.0.0.1"), at(0), "first").is_some());
        assert!(t.admit("token", ip("10.0.0.1"), at(1), "second").is_none());
        let due = t.sweep(at(60), false);
        assert_eq!(due.len(), 1);
        // The journal could not write it: it goes back, and the next sweep hands it out again.
        for d in due {
            t.restore(d, at(60));
        }
        let again: Vec<_> = t.sweep(at(61), false).into_iter().map(|d| (d.last, d.suppressed)).collect();
        assert_eq!(again, vec![("second", 1)]);
        // Restored into a table that filled meanwhile: kept under the shared count, not dropped.
        assert!(t.admit("token", ip("10.0.0.1"), at(70), "third").is_some());
        assert!(t.admit("token", ip("10.0.0.1"), at(71), "fourth").is_none());
        let due = t.sweep(at(130), false);
        assert!(t.admit("token", ip("10.0.0.5"), at(130), "fills the table").is_some());
        for d in due {
            t.restore(d, at(130));
        }
        assert!(t.tracked() <= 2, "the bound holds: one source and the shared count");
        let shared: Vec<_> =
            t.sweep(at(131), false).into_iter().map(|d| (d.last, d.suppressed, d.counted_as)).collect();
        assert_eq!(shared, vec![("fourth", 1, Some("other sources".to_owned()))]);
    }

    #[test]
    fn sign_ins_are_limited_per_source_with_a_retry_time() {
        let r = RateLimit::new(3, Duration::from_secs(60), &config(10, 10));
        for _ in 0..3 {
            assert_eq!(r.check(ip("10.0.0.1"), at(0)), Ok(()));
        }
        assert_eq!(r.check(ip("10.0.0.1"), at(20)), Err(40));
        assert_eq!(r.check(ip("10.0.0.2"), at(20)), Ok(()), "another source is not affected");
        assert_eq!(r.check(ip("10.0.0.1"), at(60)), Ok(()), "a new window");
    }

    #[test]
    fn a_full_rate_table_drops_expired_allowances_first() {
        let r = RateLimit::new(1, Duration::from_secs(60), &config(2, 0));
        assert_eq!(r.check(ip("10.0.0.1"), at(0)), Ok(()));
        assert_eq!(r.check(ip("10.0.0.2"), at(0)), Ok(()));
        assert_eq!(r.check(ip("10.0.0.3"), at(1)), Ok(()), "the shared allowance");
        assert_eq!(r.check(ip("10.0.0.4"), at(1)), Err(60), "shared by newcomers while the table is full");
        assert_eq!(r.check(ip("10.0.0.4"), at(70)), Ok(()), "expired entries made room");
    }

    proptest! {
        /// Whatever the flood, every refusal is either recorded or counted in
        /// a count that is handed back (nothing is lost), and the table never
        /// holds more than its bound.
        #[test]
        fn no_refusal_is_lost_and_memory_stays_bounded_even_when_summaries_fail(
            refusals in proptest::collection::vec((0u8..4, any::<u32>(), 0i64..300), 1..400),
            max_sources in 1usize..8,
            max_networks in 0usize..4,
        ) {
            let scopes = ["token", "callback", "scim", "session"];
            let t = Throttle::new(&config(max_sources, max_networks));
            let mut refusals = refusals;
            refusals.sort_by_key(|r| r.2);
            let mut accounted = 0u64;
            for (i, (scope, addr, s)) in refusals.iter().enumerate() {
                // Few distinct networks, so that grouping is exercised.
                let addr = std::net::Ipv4Addr::from(addr % 4096 * 64);
                if let Some(a) = t.admit(scopes[*scope as usize], Source::Addr(addr.into()), at(*s), i) {
                    accounted += 1 + a.suppressed;
                }
                prop_assert!(t.tracked() <= max_sources + max_networks + scopes.len());
                if i % 50 == 0 {
                    // Every other summary fails to be written and goes back.
                    for (n, due) in t.sweep(at(*s), false).into_iter().enumerate() {
                        if n % 2 == 0 {
                            t.restore(due, at(*s));
                        } else {
                            accounted += due.suppressed;
                        }
                    }
                }
            }
            accounted += t.sweep(at(1000), true).iter().map(|d| d.suppressed).sum::<u64>();
            prop_assert_eq!(accounted, refusals.len() as u64);
        }
    }
}
