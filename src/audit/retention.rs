//! Retention: events older than the retention period (HIPAA 164.316(b)(2):
//! six years by default) are pruned, unless a legal hold is in force.
//!
//! Pruning only ever cuts at a signed checkpoint. The Merkle frontier at
//! that point is kept (a handful of hashes), so the remaining history still
//! verifies against every later checkpoint, and `verify` says where the kept
//! history starts. The prune is recorded in the journal before anything is
//! deleted.

use serde::Serialize;

use crate::audit::merkle::{self, Frontier, Hash};
use crate::audit::{Actor, AuditError, EventKind, Journal, RequestMeta};
use crate::storage::{optional, Db};

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("a legal hold is in force (audit.legal_hold): nothing was pruned")]
    LegalHold,
    #[error("the journal does not verify up to event {0}; run `custodian audit verify` before pruning")]
    DoesNotVerify(u64),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl From<sqlx::Error> for PruneError {
    fn from(e: sqlx::Error) -> Self {
        PruneError::Audit(e.into())
    }
}

#[derive(Debug, Serialize)]
pub struct Pruned {
    /// Events up to and including this sequence number are gone.
    pub through: u64,
    pub deleted: u64,
}

/// The prune point: the tree size up to which events were deleted, and the
/// frontier there.
pub async fn prune_point(db: &Db) -> Result<Option<(u64, Frontier)>, AuditError> {
    let row: Option<(i64, String)> = optional(
        sqlx::query_as("SELECT tree_size, frontier FROM audit_prune_point WHERE id = 1")
            .fetch_one(db.pool())
            .await,
    )?;
    row.map(|(size, text)| {
        let frontier = Frontier::from_text(&text).map_err(|e| AuditError::Corrupt(e.to_string()))?;
        Ok((u64::try_from(size).unwrap_or(0), frontier))
    })
    .transpose()
}

/// The hash of the aligned subtree `[start, end)` (0-based leaf indices),
/// from the prune-point frontier for pruned ranges and stored leaves after.
pub async fn subtree_hashes(db: &Db, upto: u64) -> Result<(Option<(u64, Frontier)>, Vec<Hash>), AuditError> {
    let point = prune_point(db).await?;
    let after = point.as_ref().map(|(p, _)| *p).unwrap_or(0);
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT leaf_hash FROM audit_events WHERE seq > $1 AND seq <= $2 ORDER BY seq")
            .bind(i64::try_from(after).unwrap_or(0))
            .bind(i64::try_from(upto).unwrap_or(i64::MAX))
            .fetch_all(db.pool())
            .await?;
    let leaves = rows
        .iter()
        .map(|(h,)| merkle::from_hex(h).map_err(|e| AuditError::Corrupt(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((point, leaves))
}

/// Deletes events older than `cutoff_ms`, up to the newest signed checkpoint
/// that lies entirely before the cutoff.
pub async fn prune(
    db: &Db,
    journal: &Journal,
    cutoff_ms: i64,
    legal_hold: bool,
    by: &str,
) -> Result<Option<Pruned>, PruneError> {
    if legal_hold {
        return Err(PruneError::LegalHold);
    }
    let current = prune_point(db).await?;
    let current_size = current.as_ref().map(|(p, _)| *p).unwrap_or(0);
    let (target,): (Option<i64>,) = sqlx::query_as(
        "SELECT MAX(c.tree_size) FROM audit_checkpoints c JOIN audit_events e ON e.seq = c.tree_size \
         WHERE e.time < $1 AND c.tree_size > $2",
    )
    .bind(cutoff_ms)
    .bind(i64::try_from(current_size).unwrap_or(0))
    .fetch_one(db.pool())
    .await?;
    let Some(target) = target.and_then(|t| u64::try_from(t).ok()) else { return Ok(None) };
    // The frontier at the target, checked against the signed root there.
    let (_, leaves) = subtree_hashes(db, target).await?;
    let mut frontier = current.map(|(_, f)| f).unwrap_or_default();
    for leaf in leaves {
        frontier.push(leaf);
    }
    let (root,): (String,) = sqlx::query_as("SELECT root_hash FROM audit_checkpoints WHERE tree_size = $1")
        .bind(i64::try_from(target).unwrap_or(0))
        .fetch_one(db.pool())
        .await?;
    if frontier.size() != target || merkle::to_hex(&frontier.root()) != root {
        return Err(PruneError::DoesNotVerify(target));
    }
    let kind = EventKind::AuditPrune { by: by.to_owned(), through: target };
    journal.record(&RequestMeta::default(), Actor::default(), kind).await?;
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM audit_prune_point WHERE id = 1").execute(&mut *tx).await?;
    sqlx::query("INSERT INTO audit_prune_point (id, tree_size, frontier, pruned_at) VALUES (1, $1, $2, $3)")
        .bind(i64::try_from(target).unwrap_or(0))
        .bind(frontier.to_text())
        .bind(cutoff_ms)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
        .bind(i64::try_from(target).unwrap_or(0))
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Some(Pruned { through: target, deleted }))
}
