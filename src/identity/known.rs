//! The credentials that might be real, known without asking the database:
//! the SHA-256 (hex) of every API token and pending sign-in this process
//! issued, saw valid, or read at its last refresh. It lets a source that
//! keeps being refused (`crate::audit::throttle`, "Slowed sources") be
//! refused without a lookup when it presents anything else, while a real
//! credential from the same address goes the usual way. Never holds a
//! credential itself, and never decides that one is valid: membership only
//! means "look it up".
//!
//! Another replica's new credential reaches this set at the next refresh
//! (every minute) or at its first lookup from a source that is not slowed.

use std::collections::HashSet;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct Known {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    hashes: HashSet<String>,
    /// While a refresh reads storage: what was added meanwhile, kept by it.
    added_during_refresh: Option<HashSet<String>>,
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
        let mut inner = self.write();
        if let Some(added) = inner.added_during_refresh.as_mut() {
            added.insert(hash.clone());
        }
        inner.hashes.insert(hash);
    }

    /// Call before reading storage for [`Known::finish_refresh`].
    pub fn begin_refresh(&self) {
        self.write().added_during_refresh = Some(HashSet::new());
    }

    /// Replaces the set with what storage held (so what expired or was
    /// deleted leaves it), plus what this process added since the refresh began.
    pub fn finish_refresh(&self, mut stored: HashSet<String>) {
        let mut inner = self.write();
        stored.extend(inner.added_during_refresh.take().unwrap_or_default());
        inner.hashes = stored;
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
        known.begin_refresh();
        // Added while storage is being read: not in what was read, still kept.
        known.insert("c".into());
        known.finish_refresh(["b".to_owned()].into());
        assert!(!known.contains("a"), "gone from storage, gone from the set");
        assert!(known.contains("b") && known.contains("c"));
        assert_eq!(known.len(), 2);
    }
}
