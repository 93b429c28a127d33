//! Repeated refusals of the same kind, from the same source, are recorded
//! once per window with a count of those not recorded in between. Without
//! this, anyone could fill the journal (and, since actions wait for it,
//! slow everyone) by sending requests that are refused before they reach a
//! principal: a wrong SCIM token, or a refused user's browser polling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::clock::Timestamp;

/// At most this many sources are tracked; beyond it, they share one key.
const MAX_KEYS: usize = 10_000;
const OVERFLOW_KEY: &str = "*many sources*";

#[derive(Debug)]
pub struct Throttle {
    window: Duration,
    seen: Mutex<HashMap<String, (Timestamp, u64)>>,
}

impl Throttle {
    pub fn new(window: Duration) -> Self {
        Throttle { window, seen: Mutex::new(HashMap::new()) }
    }

    /// `Some(n)` if an event for `key` should be recorded now, where `n`
    /// refusals under the key went unrecorded since the last one; `None`
    /// if this one is only counted.
    pub fn admit(&self, key: &str, now: Timestamp) -> Option<u64> {
        let mut seen = self.seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let window_ms = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
        let fresh = |t: &Timestamp| now.millis() - t.millis() < window_ms;
        if seen.len() >= MAX_KEYS && !seen.contains_key(key) {
            seen.retain(|_, (t, _)| fresh(t));
        }
        let key = if seen.len() >= MAX_KEYS && !seen.contains_key(key) { OVERFLOW_KEY } else { key };
        match seen.get_mut(key) {
            Some((last, suppressed)) if fresh(last) => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                let n = *suppressed;
                *last = now;
                *suppressed = 0;
                Some(n)
            }
            None => {
                seen.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_event_per_window_carries_the_count_of_those_not_recorded() {
        let t = Throttle::new(Duration::from_secs(60));
        let at = |s: i64| Timestamp(s * 1000);
        assert_eq!(t.admit("ip:1", at(0)), Some(0));
        assert_eq!(t.admit("ip:1", at(1)), None);
        assert_eq!(t.admit("ip:1", at(59)), None);
        assert_eq!(t.admit("ip:2", at(59)), Some(0), "another source is recorded");
        assert_eq!(t.admit("ip:1", at(60)), Some(2));
        assert_eq!(t.admit("ip:1", at(61)), None);
    }

    #[test]
    fn a_flood_of_sources_shares_one_key() {
        let t = Throttle::new(Duration::from_secs(60));
        for i in 0..MAX_KEYS {
            assert_eq!(t.admit(&format!("ip:{i}"), Timestamp(0)), Some(0));
        }
        assert_eq!(t.admit("ip:new", Timestamp(1)), Some(0));
        assert_eq!(t.admit("ip:newer", Timestamp(2)), None, "counted under the shared key");
        assert!(t.seen.lock().unwrap().len() <= MAX_KEYS + 1);
    }
}
