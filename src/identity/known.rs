//! The credentials that might be real, known without asking the database:
//! the SHA-256 (hex) of every API token and pending sign-in this process
//! issued, saw valid, or read at its last refresh. A source that keeps
//! being refused (`crate::audit::throttle`, "Slowed sources") waits its turn
//! for a lookup when it presents anything else, while a credential known
//! here, from the same address, goes the usual way at once. Never holds a
//! credential itself, and never decides that one is valid: membership only
//! means "no need to queue before looking it up".
//!
//! Another replica's new credential reaches this set at the next refresh
//! (every minute) or at its first successful lookup; until then, from a
//! slowed source, it waits its turn to be looked up. A sign-in leaves the set
//! when it is taken, so a replayed sign-in cookie is unknown.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Known {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    hashes: HashSet<String>,
    /// While a refresh reads storage: what was added meanwhile (kept by it)
    /// and what was removed meanwhile (not brought back by it).
    during_refresh: Option<(HashSet<String>, HashSet<String>)>,
}

impl Known {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.read().hashes.contains(hash)
    }

    pub fn insert(&self, hash: String) {
        // Most calls are for a hash already here: only a read lock for those.
        if self.contains(&hash) {
            return;
        }
        let mut inner = self.write();
        if let Some((added, removed)) = inner.during_refresh.as_mut() {
            removed.remove(&hash);
            added.insert(hash.clone());
        }
        inner.hashes.insert(hash);
    }

    /// A credential used up (a sign-in taken): no longer known.
    pub fn remove(&self, hash: &str) {
        let mut inner = self.write();
        if let Some((added, removed)) = inner.during_refresh.as_mut() {
            added.remove(hash);
            removed.insert(hash.to_owned());
        }
        inner.hashes.remove(hash);
    }

    /// Call before reading storage for [`Known::finish_refresh`].
    pub fn begin_refresh(&self) {
        self.write().during_refresh = Some((HashSet::new(), HashSet::new()));
    }

    /// Replaces the set with what storage held (so what expired or was
    /// deleted leaves it), plus what this process added and minus what it
    /// removed since the refresh began.
    pub fn finish_refresh(&self, mut stored: HashSet<String>) {
        let mut inner = self.write();
        let (added, removed) = inner.during_refresh.take().unwrap_or_default();
        stored.extend(added);
        stored.retain(|hash| !removed.contains(hash));
        inner.hashes = stored;
    }

    /// A refresh whose read failed: the set stays as it is.
    pub fn abandon_refresh(&self) {
        self.write().during_refresh = None;
    }

    pub fn len(&self) -> usize {
        self.read().hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_follows_inserts_and_refreshes() {
        let known = Known::default();
        assert!(!known.contains("a"));
        known.insert("a".into());
        assert!(known.contains("a"));
        known.insert("d".into());
        known.begin_refresh();
        // Added while storage is being read: not in what was read, still kept;
        // removed meanwhile: in what was read, not brought back.
        known.insert("c".into());
        known.remove("d");
        known.finish_refresh(["b".to_owned(), "d".to_owned()].into());
        assert!(!known.contains("a"), "gone from storage, gone from the set");
        assert!(known.contains("b") && known.contains("c"));
        assert!(!known.contains("d"), "used up during the refresh");
        assert_eq!(known.len(), 2);
    }
}
