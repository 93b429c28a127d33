//! Re-checking an API token's owner at the IdP, for `directory.source =
//! "oidc-claims"`. There the allow-list is the groups claim of the last
//! sign-in, so without this a person terminated at the IdP would keep a
//! working token for up to its 90 days. With SCIM (the production choice),
//! the IdP tells Custodian itself and this is not needed.
//!
//! Each sign-in leaves its refresh token here, sealed and bound to the user.
//! When a token is used and the owner was last confirmed more than
//! `owner_recheck_interval` ago, the IdP is asked again (a refresh-token
//! grant; the refreshed ID token, else userinfo), once per user at a time
//! across every replica on the database:
//!
//! ```text
//!   confirmed ──(interval passes)──► due ──lease taken──► ask ──► confirmed (groups stored)
//!                                     │                    │ └──► refused: tokens, sessions and grants end (audited)
//!                                     │                    └─ no answer ─► within grace: allowed
//!                                     │                                    past grace: refused until it answers
//!                                     └─ another replica holds the lease ─► its answer once stored,
//!                                                                          else the grace rules above
//!   no refresh token (none at sign-in, or unreadable) ──► refused: sign in again
//! ```
//!
//! Many IdPs rotate refresh tokens and take a used one presented again for
//! theft, revoking the whole grant. So one refresh token is spent once:
//! within a process, one request per user asks and the others wait for its
//! answer; across processes, the one that takes the lease (a conditional
//! UPDATE of the user's row, with an expiry so that a crashed holder's
//! lease lapses) asks and stores the rotated token, and the others do not
//! call the IdP.
//!
//! Never: a refresh token in a log, an event or an answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;

use crate::clock::{SharedClock, Timestamp};
use crate::identity::oidc::{Oidc, Recheck};
use crate::identity::users::Users;
use crate::secret::Secret;
use crate::storage::{optional, Db};
use crate::vault::{sealed, KeyRing};

/// What the re-check found for a token's owner.
#[derive(Debug, PartialEq, Eq)]
pub enum OwnerCheck {
    /// Confirmed within the interval (now, or earlier); the groups the IdP
    /// gave now (already stored with the user), if it was asked just now,
    /// by this request or one it waited for, and gave them.
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
    users: Users,
    oidc: Arc<Oidc>,
    keys: Arc<KeyRing>,
    clock: SharedClock,
    interval: Duration,
    grace: Duration,
    /// How long a lease holds: longer than the holder's calls to the IdP can take.
    lease: Duration,
    /// This process's name on the leases it takes.
    holder: String,
    /// One re-check per user at a time in this process: a rotated refresh
    /// token spent twice would look like theft to the IdP.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// The IdP calls one re-check may make at most, each bounded by
/// `oidc.http_timeout`: discovery and keys (if not cached yet), the refresh
/// grant, discovery and keys again (a key rotation), userinfo.
const CALLS_PER_RECHECK: u32 = 6;

impl OwnerRecheck {
    /// `interval` and `grace` as configured; `idp_timeout` bounds each call
    /// to the IdP, and so how long a lease must hold.
    pub fn new(
        db: Db,
        oidc: Arc<Oidc>,
        keys: Arc<KeyRing>,
        clock: SharedClock,
        interval: Duration,
        grace: Duration,
        idp_timeout: Duration,
    ) -> Self {
        OwnerRecheck {
            users: Users::new(db.clone()),
            db,
            oidc,
            keys,
            clock,
            interval,
            grace,
            lease: idp_timeout.saturating_mul(CALLS_PER_RECHECK),
            holder: uuid::Uuid::new_v4().to_string(),
            inflight: Mutex::new(HashMap::new()),
        }
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
        let sealed = match self.keys.seal(refresh.expose().as_bytes(), &sealed::idp_refresh(user_id)) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::error!(error = %e, "cannot seal the IdP refresh token; the owner cannot be re-checked");
                return Ok(());
            }
        };
        // A new sign-in's grant replaces the row, and any lease on it: a
        // re-check under way then finds its lease gone and keeps this token.
        sqlx::query(
            "INSERT INTO idp_refresh (user_id, refresh_sealed, confirmed_at, unreachable_since) \
             VALUES ($1, $2, $3, NULL) ON CONFLICT (user_id) DO UPDATE SET \
             refresh_sealed = excluded.refresh_sealed, confirmed_at = excluded.confirmed_at, \
             unreachable_since = NULL, lease_holder = NULL, lease_until = NULL",
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
    pub async fn check(&self, user_id: &str, subject: &str) -> Result<OwnerCheck, sqlx::Error> {
        let now = self.clock.now();
        match self.stored(user_id).await? {
            None => return Ok(OwnerCheck::NoGrant),
            Some(s) if current(s.confirmed_at, now, self.interval) => {
                return Ok(OwnerCheck::Confirmed { groups: None })
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
    /// asked), take the lease, then ask the IdP and store what it said.
    async fn ask(&self, user_id: &str, subject: &str) -> Result<OwnerCheck, sqlx::Error> {
        let now = self.clock.now();
        let Some(stored) = self.stored(user_id).await? else {
            return Ok(OwnerCheck::NoGrant);
        };
        if current(stored.confirmed_at, now, self.interval) {
            return self.confirmed_meanwhile(user_id).await;
        }
        let Some(refresh) = stored.refresh else {
            return Ok(OwnerCheck::NoGrant);
        };
        if !self.take_lease(user_id, stored.confirmed_at, now).await? {
            return self.follow(user_id, now).await;
        }
        match self.oidc.recheck(&refresh, subject).await {
            Recheck::Confirmed { refresh: rotated, groups } => {
                // The groups first: a replica that sees the new confirmation reads them.
                if let Some(groups) = &groups {
                    self.users.set_groups(user_id, groups).await?;
                }
                self.store_confirmed(user_id, rotated.as_ref().unwrap_or(&refresh)).await?;
                Ok(OwnerCheck::Confirmed { groups })
            }
            Recheck::Refused(why) => {
                self.remember(user_id, None).await?;
                Ok(OwnerCheck::Refused(why))
            }
            Recheck::Unreachable(why) => {
                tracing::warn!(user = %user_id, reason = %why, "the IdP did not answer an owner re-check");
                sqlx::query(
                    "UPDATE idp_refresh SET unreachable_since = COALESCE(unreachable_since, $1), \
                     lease_holder = NULL, lease_until = NULL WHERE user_id = $2 AND lease_holder = $3",
                )
                .bind(now.millis())
                .bind(user_id)
                .bind(&self.holder)
                .execute(self.db.pool())
                .await?;
                Ok(self.graced(stored.confirmed_at, now))
            }
        }
    }

    /// Takes the user's lease for this process if nobody holds a live one
    /// and nobody confirmed the owner since `confirmed_at` was read.
    async fn take_lease(
        &self,
        user_id: &str,
        confirmed_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, sqlx::Error> {
        let taken = sqlx::query(
            "UPDATE idp_refresh SET lease_holder = $1, lease_until = $2 \
             WHERE user_id = $3 AND confirmed_at = $4 AND (lease_until IS NULL OR lease_until <= $5)",
        )
        .bind(&self.holder)
        .bind(now.plus(self.lease).millis())
        .bind(user_id)
        .bind(confirmed_at.millis())
        .bind(now.millis())
        .execute(self.db.pool())
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// The confirmation and the rotated refresh token, and the lease given
    /// back, if this process still holds it (a sign-in may have replaced
    /// the grant meanwhile; its token is then the one kept).
    async fn store_confirmed(&self, user_id: &str, refresh: &Secret) -> Result<(), sqlx::Error> {
        let sealed = match self.keys.seal(refresh.expose().as_bytes(), &sealed::idp_refresh(user_id)) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::error!(error = %e, "cannot seal the IdP refresh token; the owner cannot be re-checked");
                return self.remember(user_id, None).await;
            }
        };
        let stored = sqlx::query(
            "UPDATE idp_refresh SET refresh_sealed = $1, confirmed_at = $2, unreachable_since = NULL, \
             lease_holder = NULL, lease_until = NULL WHERE user_id = $3 AND lease_holder = $4",
        )
        .bind(&sealed)
        .bind(self.clock.now().millis())
        .bind(user_id)
        .bind(&self.holder)
        .execute(self.db.pool())
        .await?;
        if stored.rows_affected() == 0 {
            tracing::warn!(user = %user_id, "an owner re-check ended after its lease; its refresh token was not kept");
        }
        Ok(())
    }

    /// Another replica holds the lease: its answer if it is stored by now,
    /// else the grace rules while it is pending.
    async fn follow(&self, user_id: &str, now: Timestamp) -> Result<OwnerCheck, sqlx::Error> {
        match self.stored(user_id).await? {
            None => Ok(OwnerCheck::NoGrant),
            Some(s) if current(s.confirmed_at, now, self.interval) => self.confirmed_meanwhile(user_id).await,
            Some(s) => Ok(self.graced(s.confirmed_at, now)),
        }
    }

    /// Confirmed by another request while this one waited: the groups it stored.
    async fn confirmed_meanwhile(&self, user_id: &str) -> Result<OwnerCheck, sqlx::Error> {
        let groups = self.users.get(user_id).await?.map(|u| u.groups);
        Ok(OwnerCheck::Confirmed { groups })
    }

    /// An owner the IdP has not confirmed now: tolerated for the grace.
    fn graced(&self, confirmed_at: Timestamp, now: Timestamp) -> OwnerCheck {
        if within_grace(confirmed_at, now, self.interval, self.grace) {
            OwnerCheck::WithinGrace
        } else {
            OwnerCheck::Unconfirmed { since: confirmed_at }
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
        let refresh = match self.keys.open(&sealed, &sealed::idp_refresh(user_id)) {
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
