//! Every place Custodian keeps data sealed with the key ring, and the two
//! things done across all of them: the start-up check (every key that
//! sealed something is in the ring, with the right material) and online
//! rotation (re-seal everything under the active key, row by row, with a
//! compare-and-swap so that concurrent writers never lose an update).

use std::collections::BTreeMap;

use sqlx::Row;

use crate::audit::{Actor, EventKind, Journal, RequestMeta};
use crate::storage::Db;
use crate::vault::keyring::{KeyRing, SealError};

/// A table column holding sealed values, and how each row's associated
/// data (its context) is formed from the row's key columns.
struct SealedColumn {
    table: &'static str,
    /// Primary-key columns, in order; the context joins their values.
    key: &'static [&'static str],
    column: &'static str,
    context: fn(&[String]) -> String,
}

/// TOTP secrets (identity::mfa), platform credentials (vault::credentials),
/// the PKCE verifiers of connections under way (platforms::connect), the
/// IdP refresh tokens that re-check API token owners (identity::recheck),
/// held actions (queue) and held inbound comments (inbox).
const SEALED: &[SealedColumn] = &[
    SealedColumn { table: "mfa_totp", key: &["user_id"], column: "secret_sealed", context: totp_context },
    SealedColumn {
        table: "credentials",
        key: &["account_id", "kind"],
        column: "sealed",
        context: credential_context,
    },
    SealedColumn {
        table: "connect_pending",
        key: &["state_hash"],
        column: "verifier_sealed",
        context: pending_context,
    },
    SealedColumn {
        table: "idp_refresh",
        key: &["user_id"],
        column: "refresh_sealed",
        context: refresh_context,
    },
    SealedColumn { table: "reviews", key: &["id"], column: "sealed_action", context: review_context },
    SealedColumn {
        table: "moderation_comments",
        key: &["id"],
        column: "sealed_comment",
        context: comment_context,
    },
];

/// The associated data of a TOTP secret: it opens only for its user.
pub fn totp(user_id: &str) -> String {
    format!("totp:{user_id}")
}

/// The associated data of an IdP refresh token: it opens only for its user.
pub fn idp_refresh(user_id: &str) -> String {
    format!("idp-refresh:{user_id}")
}

/// The associated data of a held action: it opens only for its review.
pub fn review(review_id: &str) -> String {
    format!("review:{review_id}")
}

/// The associated data of a held inbound comment: it opens only for its moderation item.
pub fn comment(moderation_id: &str) -> String {
    format!("comment:{moderation_id}")
}

/// The associated data of a pending connection's PKCE verifier.
pub fn connect_pending(state_hash: &str) -> String {
    format!("connect:{state_hash}")
}

fn first(key: &[String]) -> &str {
    key.first().map(String::as_str).unwrap_or("")
}

fn refresh_context(key: &[String]) -> String {
    idp_refresh(first(key))
}

fn pending_context(key: &[String]) -> String {
    connect_pending(first(key))
}

fn review_context(key: &[String]) -> String {
    review(first(key))
}

fn comment_context(key: &[String]) -> String {
    comment(first(key))
}

fn totp_context(key: &[String]) -> String {
    totp(first(key))
}

fn credential_context(key: &[String]) -> String {
    let part = |i: usize| key.get(i).map(String::as_str).unwrap_or("");
    crate::vault::credentials::context(part(0), part(1))
}

#[derive(Debug, thiserror::Error)]
pub enum SealedDataError {
    #[error(
        "data in {table} is sealed with key {key_id:?}, which is not in the key ring: add that key back \
         under keys.ring_files (a key stays in the ring while any data uses it; `custodian keys rotate` \
         moves data off it)"
    )]
    MissingKey { table: &'static str, key_id: String },
    #[error(
        "key {key_id:?} does not open the data in {table} sealed with it: its material is not the key that \
         sealed it (check the file or variable that holds key {key_id:?})"
    )]
    WrongKey { table: &'static str, key_id: String },
    #[error("a value in {table} is damaged and cannot be opened with any key")]
    Damaged { table: &'static str },
    #[error(
        "{remaining} value(s) are still sealed with other keys after {passes} passes: is another instance \
         still running with an older keys.active? Restart every instance with the new active key, then rotate again"
    )]
    Unfinished { remaining: u64, passes: u32 },
    #[error(transparent)]
    Storage(#[from] sqlx::Error),
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

struct SealedRow {
    key: Vec<String>,
    sealed: String,
}

async fn rows(db: &Db, c: &SealedColumn) -> Result<Vec<SealedRow>, sqlx::Error> {
    // A column may be erased (NULL) once its value is no longer needed.
    let sql = format!(
        "SELECT {}, {} AS sealed FROM {} WHERE {} IS NOT NULL",
        c.key.join(", "),
        c.column,
        c.table,
        c.column
    );
    let rows = sqlx::query(&sql).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| {
            let key = c.key.iter().map(|k| r.try_get::<String, _>(*k)).collect::<Result<Vec<_>, _>>()?;
            Ok(SealedRow { key, sealed: r.try_get("sealed")? })
        })
        .collect()
}

/// Checks, before anything is served, that every key id in use is in the
/// ring and opens (one sample of) what it sealed.
pub async fn check_keys(db: &Db, keys: &KeyRing) -> Result<(), SealedDataError> {
    for c in SEALED {
        let mut sample: BTreeMap<String, SealedRow> = BTreeMap::new();
        for row in rows(db, c).await? {
            let key_id = KeyRing::key_id_of(&row.sealed).unwrap_or("").to_owned();
            sample.entry(key_id).or_insert(row);
        }
        for (key_id, row) in sample {
            match keys.open(&row.sealed, &(c.context)(&row.key)) {
                Ok(_) => {}
                Err(SealError::UnknownKey(id)) => {
                    return Err(SealedDataError::MissingKey { table: c.table, key_id: id })
                }
                Err(SealError::Damaged) if key_id.is_empty() => {
                    return Err(SealedDataError::Damaged { table: c.table })
                }
                Err(SealError::Damaged) => return Err(SealedDataError::WrongKey { table: c.table, key_id }),
            }
        }
    }
    Ok(())
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Rotation {
    /// Values re-sealed under the active key.
    pub resealed: u64,
    /// Values already under the active key.
    pub current: u64,
    /// Values a concurrent writer replaced first (looked at again in the next pass).
    pub raced: u64,
}

/// Passes over the data before rotation gives up on rows that keep changing.
const MAX_PASSES: u32 = 5;

/// Re-seals every value not under the active key, pass after pass, until
/// none is left: a row is replaced only if it still holds the value that
/// was read, so a concurrent write always wins, and the next pass looks at
/// that row again. Safe while serving. Fails, saying so, if values remain
/// (another instance sealing with an older key).
pub async fn rotate(db: &Db, keys: &KeyRing) -> Result<Rotation, SealedDataError> {
    let mut report = Rotation::default();
    for pass in 1..=MAX_PASSES {
        let before = report.resealed;
        let first = pass == 1;
        let left = rotate_pass(db, keys, &mut report, first).await?;
        if left == 0 {
            return Ok(report);
        }
        if pass == MAX_PASSES || report.resealed == before {
            return Err(SealedDataError::Unfinished { remaining: left, passes: pass });
        }
    }
    Ok(report)
}

/// One pass; returns how many values were still under other keys when it ended.
async fn rotate_pass(
    db: &Db,
    keys: &KeyRing,
    report: &mut Rotation,
    first: bool,
) -> Result<u64, SealedDataError> {
    let mut left = 0;
    for c in SEALED {
        for row in rows(db, c).await? {
            if KeyRing::key_id_of(&row.sealed) == Some(keys.active_key_id()) {
                if first {
                    report.current += 1;
                }
                continue;
            }
            let context = (c.context)(&row.key);
            let plain = keys.open(&row.sealed, &context).map_err(|e| match e {
                SealError::UnknownKey(key_id) => SealedDataError::MissingKey { table: c.table, key_id },
                SealError::Damaged => SealedDataError::Damaged { table: c.table },
            })?;
            let resealed =
                keys.seal(&plain, &context).map_err(|_| SealedDataError::Damaged { table: c.table })?;
            let conditions: Vec<String> =
                c.key.iter().enumerate().map(|(i, k)| format!("{k} = ${}", i + 3)).collect();
            let sql = format!(
                "UPDATE {} SET {} = $1 WHERE {} = $2 AND {}",
                c.table,
                c.column,
                c.column,
                conditions.join(" AND ")
            );
            let mut query = sqlx::query(&sql).bind(&resealed).bind(&row.sealed);
            for k in &row.key {
                query = query.bind(k);
            }
            if query.execute(db.pool()).await?.rows_affected() == 1 {
                report.resealed += 1;
            } else {
                report.raced += 1;
                left += 1;
            }
        }
    }
    Ok(left)
}

/// [`rotate`], then the `keys.rotate` audit event with what it did.
pub async fn rotate_recorded(
    db: &Db,
    keys: &KeyRing,
    journal: &Journal,
    by: &str,
) -> Result<Rotation, SealedDataError> {
    let report = rotate(db, keys).await?;
    let kind = EventKind::KeysRotated {
        by: by.to_owned(),
        active_key: keys.active_key_id().to_owned(),
        resealed: report.resealed,
        already_current: report.current,
        raced: report.raced,
    };
    journal.record(&RequestMeta::default(), Actor::default(), kind).await?;
    Ok(report)
}
