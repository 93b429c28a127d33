//! What platforms said about their rate limits, per account: once the
//! budget is spent, calls wait for the reset instead of being sent.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::Timestamp;
use crate::domain::AccountId;
use crate::platforms::PlatformError;

#[derive(Debug, Default)]
pub struct RateLimits {
    blocked_until: Mutex<HashMap<AccountId, Timestamp>>,
}

impl RateLimits {
    /// Refuses a call the platform has told us not to make yet.
    pub fn check(&self, account: &AccountId, now: Timestamp) -> Result<(), PlatformError> {
        let mut blocked = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(account).copied() {
            Some(until) if now < until => Err(PlatformError::RateLimited {
                reset_at: Some(until),
                message: "the platform's rate limit for this account is spent; not sent".to_owned(),
            }),
            Some(_) => {
                blocked.remove(account);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records the platform's answer: no calls left means none until `reset`.
    pub fn observe(&self, account: &AccountId, remaining: Option<u64>, reset: Option<Timestamp>) {
        if let (Some(0), Some(reset)) = (remaining, reset) {
            self.block(account, reset);
        }
    }

    pub fn block(&self, account: &AccountId, until: Timestamp) {
        let mut blocked = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
        blocked.insert(account.clone(), until);
    }
}
