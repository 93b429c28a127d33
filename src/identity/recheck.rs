//! Re-checking an API token's owner at the IdP, for `directory.source =
//! "oidc-claims"`. There the allow-list is the groups claim of the last
//! sign-in, so without this a person terminated at the IdP would keep a
//! working token for up to its 90 days. With SCIM (the production choice),
//! the IdP tells Custodian itself and this is not needed.
//!
//! Each sign-in leaves its refresh token here, sealed and bound to the user.
//! When a token is used and the owner was last confirmed more than
//! `owner_recheck_interval` ago, the IdP is asked again (a refresh-token
//! grant, then userinfo), once per user at a time:
//!
//! ```text
//!   confirmed ──(interval passes)──► due ──ask──► confirmed (groups updated)
//!                                     │    └────► refused: tokens, sessions and grants end (audited)
//!                                     └─ no answer ─► within grace: allowed
//!                                                     past grace: refused until it answers
//!   no refresh token (none at sign-in, or unreadable) ──► refused: sign in again
//! ```
//!
//! Never: a refresh token in a log, an event or an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;

use crate::clock::{SharedClock, Timestamp};
use crate::identity::oidc::{Oidc, Recheck};
use crate::secret::Secret;
use crate::storage::{optional, Db};
use crate::vault::KeyRing;

/// The sealed refresh token's associated data: it opens only for its user.
pub fn context(user_id: &str) -> String {
    format!("idp-refresh:{user_id}")
}

/// What the re-check found for a token's owner.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Confirmed within the interval (now, or earlier); the groups the IdP
    /// gave now, if it was asked and gave them.
    Confirmed { groups: Option<Vec<String>> },
    /// The IdP could not be reached, but the owner was confirmed recently
    /// enough: allowed, for the grace.
    WithinGrace,
    /// The IdP no longer accepts the person.
    Refused(String),
    /// The IdP has not confirmed the person since `since`, past the grace.
    Unconfirmed { since: Timestamp },
    /// Nothing to re-check with: no refresh token came at the last sign-in.
    NoGrant,
}

/// Whether a check confirmed at `confirmed_at` is still current at `now`.
fn current(confirmed_at: Timestamp, now: Timestamp, interval: Duration) -> bool {
    now < confirmed_at.plus(interval)
}

/// Whether an unreachable IdP is still tolerated at `now`.
fn within_grace(confirmed_at: Timestamp, now: Timestamp, interval: Duration, grace: Duration) -> bool {
    now < confirmed_at.plus(interval).plus(grace)
}

struct Stored {
    refresh: Option<Secret>,
    confirmed_at: Timestamp,
}

pub struct OwnerRecheck {
    db: Db,
    oidc: Arc<Oidc>,
    keys: Arc<KeyRing>,
    clock: SharedClock,
    interval: Duration,
    grace: Duration,
    /// One re-check per user at a time: a rotated refresh token spent twice
    /// would look like a refusal.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl OwnerRecheck {
    pub fn new(
        db: Db,
        oidc: Arc<Oidc>,
        keys: Arc<KeyRing>,
        clock: SharedClock,
        interval: Duration,
        grace: Duration,
    ) -> Self {
        OwnerRecheck { db, oidc, keys, clock, interval, grace, inflight: Mutex::new(HashMap::new()) }
    }

    /// Keeps the refresh token of a sign-in that passed the gate (the IdP
    /// confirmed the person just now); without one, forgets the old one.
    pub async fn remember(&self, user_id: &str, refresh: Option<&Secret>) -> Result<(), sqlx::Error> {
        let Some(refresh) = refresh else {
            sqlx::query("DELETE FROM idp_refresh WHERE user_id = $1")
                .bind(user_id)
                .execute(self.db.pool())
                .await?;
            return Ok(());
        };
        let sealed = match self.keys.seal(refresh.expose().as_bytes(), &context(user_id)) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::error!(error = %e, "cannot seal the IdP refresh token; the owner cannot be re-checked");
                return Ok(());
            }
        };
        sqlx::query(
            "INSERT INTO idp_refresh (user_id, refresh_sealed, confirmed_at, unreachable_since) \
             VALUES ($1, $2, $3, NULL) ON CONFLICT (user_id) DO UPDATE SET \
             refresh_sealed = excluded.refresh_sealed, confirmed_at = excluded.confirmed_at, unreachable_since = NULL",
        )
        .bind(user_id)
        .bind(&sealed)
        .bind(self.clock.now().millis())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Whether a refresh token is kept for the user.
    pub async fn has_grant(&self, user_id: &str) -> Result<bool, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM idp_refresh WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(self.db.pool())
            .await?;
        Ok(n > 0)
    }

    /// Re-checks the owner `user_id` (IdP subject `subject`) if due.
    pub async fn check(&self, user_id: &str, subject: &str) -> Result<Verdict, sqlx::Error> {
        let now = self.clock.now();
        match self.stored(user_id).await? {
            None => return Ok(Verdict::NoGrant),
            Some(s) if current(s.confirmed_at, now, self.interval) => {
                return Ok(Verdict::Confirmed { groups: None })
            }
            Some(_) => {}
        }
        let gate = self.gate_for(user_id);
        let verdict = {
            let _one_at_a_time = gate.lock().await;
            self.ask(user_id, subject).await
        };
        self.release(user_id, gate);
        verdict
    }

    /// Under the user's gate: read again (another request may have just
    /// asked), then ask the IdP and store what it said.
    async fn ask(&self, user_id: &str, subject: &str) -> Result<Verdict, sqlx::Error> {
        let now = self.clock.now();
        let Some(stored) = self.stored(user_id).await? else {
            return Ok(Verdict::NoGrant);
        };
        if current(stored.confirmed_at, now, self.interval) {
            return Ok(Verdict::Confirmed { groups: None });
        }
        let Some(refresh) = stored.refresh else {
            return Ok(Verdict::NoGrant);
        };
        match self.oidc.recheck(&refresh, subject).await {
            Recheck::Confirmed { refresh: rotated, groups } => {
                self.remember(user_id, Some(rotated.as_ref().unwrap_or(&refresh))).await?;
                Ok(Verdict::Confirmed { groups })
            }
            Recheck::Refused(why) => {
                self.remember(user_id, None).await?;
                Ok(Verdict::Refused(why))
            }
            Recheck::Unreachable(why) => {
                tracing::warn!(user = %user_id, reason = %why, "the IdP did not answer an owner re-check");
                sqlx::query(
                    "UPDATE idp_refresh SET unreachable_since = COALESCE(unreachable_since, $1) WHERE user_id = $2",
                )
                .bind(now.millis())
                .bind(user_id)
                .execute(self.db.pool())
                .await?;
                if within_grace(stored.confirmed_at, now, self.interval, self.grace) {
                    Ok(Verdict::WithinGrace)
                } else {
                    Ok(Verdict::Unconfirmed { since: stored.confirmed_at })
                }
            }
        }
    }

    /// The stored grant; an unreadable refresh token (damaged, or sealed
    /// with a key no longer in the ring) is no grant at all.
    async fn stored(&self, user_id: &str) -> Result<Option<Stored>, sqlx::Error> {
        let row = optional(
            sqlx::query("SELECT refresh_sealed, confirmed_at FROM idp_refresh WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.db.pool())
                .await,
        )?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = row.try_get("refresh_sealed")?;
        let refresh = match self.keys.open(&sealed, &context(user_id)) {
            Ok(bytes) => String::from_utf8(bytes.to_vec()).ok().map(Secret::new),
            Err(e) => {
                tracing::warn!(user = %user_id, error = %e, "the sealed IdP refresh token cannot be opened");
                None
            }
        };
        Ok(Some(Stored { refresh, confirmed_at: Timestamp(row.try_get("confirmed_at")?) }))
    }

    fn gate_for(&self, user_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut inflight = self.inflight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        inflight.entry(user_id.to_owned()).or_default().clone()
    }

    /// Forgets the user's gate once nobody else holds it (the map stays small).
    fn release(&self, user_id: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        let mut inflight = self.inflight.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        drop(gate);
        if inflight.get(user_id).is_some_and(|g| Arc::strong_count(g) == 1) {
            inflight.remove(user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn a_confirmation_stays_current_for_the_interval_and_an_outage_for_the_grace_after_it() {
        let at = |m: i64| Timestamp(m * 60_000);
        let (interval, grace) = (15 * MIN, 30 * MIN);
        // (confirmed at minute, now at minute, current?, tolerated if the IdP is down?)
        let cases = [
            (0, 0, true, true),
            (0, 14, true, true),
            (0, 15, false, true),
            (0, 44, false, true),
            (0, 45, false, false),
            (10, 100, false, false),
        ];
        for (confirmed, now, is_current, tolerated) in cases {
            assert_eq!(current(at(confirmed), at(now), interval), is_current, "{confirmed} -> {now}");
            assert_eq!(
                within_grace(at(confirmed), at(now), interval, grace),
                tolerated,
                "{confirmed} -> {now}"
            );
        }
        assert!(!within_grace(at(0), at(15), interval, Duration::ZERO), "no grace: closed as soon as due");
    }
}
