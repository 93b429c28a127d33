//! Verification and proofs, for `custodian audit verify`, `prove` and
//! `verify-proof`.
//!
//! `verify` recomputes every leaf from the stored event, checks that
//! sequence numbers are gap-free and that each event sits where its body
//! says, rebuilds the Merkle tree, and checks every checkpoint: its root at
//! its size, its signature, and that it extends the one before. It reports
//! the first bad sequence number it can name.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::audit::checkpoint::Checkpoint;
use crate::audit::merkle::{self, Frontier, Hash};
use crate::audit::AuditError;
use crate::storage::Db;

const PAGE: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainBreak {
    /// The first sequence number that cannot be trusted.
    pub seq: u64,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Events up to here were pruned by retention; history is kept after it.
    pub pruned_through: u64,
    pub events: u64,
    pub checkpoints: u64,
    /// Events covered by a verified signed checkpoint.
    pub verified_through: u64,
    /// Events written after the newest checkpoint (verified for order and
    /// hashes, but not yet signed).
    pub unsigned_tail: u64,
    pub finding: Option<ChainBreak>,
}

impl Verification {
    pub fn ok(&self) -> bool {
        self.finding.is_none()
    }

    /// What `custodian audit verify` prints. After a failure it names the
    /// failure and only what was checked before it: how far the journal was
    /// read cleanly and which signed checkpoint last matched. Totals and the
    /// unsigned tail are left out there, since verification stopped at the
    /// failure and any count past it would describe history that was never
    /// checked (and that a newer checkpoint may well cover).
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.pruned_through > 0 {
            lines.push(format!(
                "events 1 to {} were pruned by retention; the kept history starts at event {}",
                self.pruned_through,
                self.pruned_through + 1
            ));
        }
        let Some(f) = &self.finding else {
            lines.push(format!(
                "{} events, {} signed checkpoints, verified through event {}, {} event(s) after the newest checkpoint",
                self.events, self.checkpoints, self.verified_through, self.unsigned_tail
            ));
            lines.push("VERIFIED: the journal is complete and unaltered".to_owned());
            return lines;
        };
        lines.push(format!("FAILED at event {}: {}", f.seq, f.problem));
        let first_kept = self.pruned_through + 1;
        let read_cleanly = f.seq.saturating_sub(1).min(self.events);
        lines.push(if self.verified_through >= first_kept {
            format!(
                "Checked before the failure: events {first_kept} to {} match a verified signed checkpoint.",
                self.verified_through
            )
        } else {
            "Checked before the failure: no signed checkpoint was verified.".to_owned()
        });
        if read_cleanly > self.verified_through {
            lines.push(format!(
                "Events {} to {read_cleanly} were read in order with correct hashes, but no verified checkpoint covers them.",
                self.verified_through.max(self.pruned_through) + 1
            ));
        }
        lines.push(format!(
            "Nothing from event {} on can be trusted, and the journal was not checked past the failure.",
            f.seq
        ));
        lines
    }
}

async fn load_checkpoints(db: &Db) -> Result<Vec<Checkpoint>, AuditError> {
    Ok(crate::audit::checkpoint::stored(db).await?)
}

/// Reads checkpoints copied outside the database (one JSON object a line).
pub fn read_checkpoint_file(path: &std::path::Path) -> Result<Vec<Checkpoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1)))
        .collect()
}

/// Verifies the whole journal. `external` are checkpoints kept outside the
/// database; each must also be in the database and agree with it.
/// `progress(done, total)` is called as events are checked.
pub async fn verify(
    db: &Db,
    key: &VerifyingKey,
    external: &[Checkpoint],
    mut progress: impl FnMut(u64, u64),
) -> Result<Verification, AuditError> {
    let checkpoints = load_checkpoints(db).await?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events").fetch_one(db.pool()).await?;
    let prune_point = crate::audit::retention::prune_point(db).await?;
    // Positions pruned by retention still count: they are covered by the kept frontier.
    let total = u64::try_from(total).unwrap_or(0) + prune_point.as_ref().map(|(p, _)| *p).unwrap_or(0);
    let mut report = Verification {
        pruned_through: 0,
        events: 0,
        checkpoints: checkpoints.len() as u64,
        verified_through: 0,
        unsigned_tail: 0,
        finding: None,
    };
    let fail = |report: &mut Verification, seq: u64, problem: String| {
        report.finding = Some(ChainBreak { seq, problem });
    };

    // Checkpoints kept outside the database must all be present and equal.
    for ext in external {
        if checkpoints.iter().any(|c| c == ext) {
            continue;
        }
        let (seq, what) = if total < ext.tree_size {
            (total + 1, format!("the journal was truncated: a checkpoint kept outside the database signed {} events but only {total} are stored", ext.tree_size))
        } else {
            let before =
                checkpoints.iter().filter(|c| c.tree_size < ext.tree_size).map(|c| c.tree_size).max();
            (
                before.unwrap_or(0) + 1,
                format!("the checkpoint of size {} kept outside the database is missing from it or differs (checkpoints were removed or rewritten)", ext.tree_size),
            )
        };
        fail(&mut report, seq, what);
        return Ok(report);
    }

    let mut frontier = Frontier::new();
    let mut next_checkpoint = 0usize;
    let mut previous: Option<&Checkpoint> = None;
    let mut expected: u64 = 1;
    let mut after: i64 = 0;
    // After a prune, history resumes from the kept frontier, which must
    // match the signed checkpoint at the prune point.
    if let Some((point, kept)) = prune_point {
        let Some(cp) = checkpoints.iter().find(|c| c.tree_size == point) else {
            fail(
                &mut report,
                point + 1,
                format!("the signed checkpoint at the prune point ({point}) is missing"),
            );
            return Ok(report);
        };
        if let Err(problem) = check_checkpoint(cp, None, &kept.root(), key) {
            fail(&mut report, point + 1, format!("the prune point does not match its checkpoint: {problem}"));
            return Ok(report);
        }
        frontier = kept;
        expected = point + 1;
        after = i64::try_from(point).unwrap_or(0);
        report.pruned_through = point;
        report.events = point;
        report.verified_through = point;
        previous = Some(cp);
        next_checkpoint = checkpoints.iter().take_while(|c| c.tree_size <= point).count();
    }
    // The next page is read while this one is checked.
    let mut next_page = tokio::spawn(read_page(db.clone(), after));
    'pages: loop {
        let rows = next_page.await.map_err(|e| AuditError::Corrupt(e.to_string()))??;
        let Some(last) = rows.last() else { break };
        after = last.0;
        next_page = tokio::spawn(read_page(db.clone(), after));
        for (seq, body, stored_leaf) in rows {
            let seq = u64::try_from(seq).unwrap_or(0);
            if seq != expected {
                fail(
                    &mut report,
                    expected,
                    format!("event {expected} is missing (deleted); the next stored event is {seq}"),
                );
                break 'pages;
            }
            let leaf = match check_event(seq, body.as_deref(), stored_leaf.as_deref()) {
                Ok(leaf) => leaf,
                Err(problem) => {
                    fail(&mut report, seq, problem);
                    break 'pages;
                }
            };
            frontier.push(leaf);
            report.events = seq;
            expected += 1;
            while let Some(cp) = checkpoints.get(next_checkpoint).filter(|c| c.tree_size == seq) {
                if let Err(problem) = check_checkpoint(cp, previous, &frontier.root(), key) {
                    let from = previous.map(|p| p.tree_size).unwrap_or(0) + 1;
                    fail(&mut report, from, problem);
                    break 'pages;
                }
                report.verified_through = cp.tree_size;
                previous = Some(cp);
                next_checkpoint += 1;
            }
            if seq % 10_000 == 0 {
                progress(seq, total);
            }
        }
    }
    progress(report.events, total);
    if report.finding.is_none() {
        if let Some(cp) = checkpoints.get(next_checkpoint) {
            let stored = report.events;
            fail(
                &mut report,
                stored + 1,
                format!(
                    "the journal was truncated: a checkpoint signed {} events but only {stored} are stored",
                    cp.tree_size
                ),
            );
        }
    }
    report.unsigned_tail = report.events.saturating_sub(report.verified_through);
    Ok(report)
}

type Page = Vec<(i64, Option<String>, Option<String>)>;

async fn read_page(db: Db, after: i64) -> Result<Page, AuditError> {
    Ok(sqlx::query_as("SELECT seq, body, leaf_hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
        .bind(after)
        .bind(PAGE)
        .fetch_all(db.pool())
        .await?)
}

/// Recomputes one event's leaf and checks it against what is stored.
fn check_event(seq: u64, body: Option<&str>, stored_leaf: Option<&str>) -> Result<Hash, String> {
    let stored = stored_leaf
        .map(merkle::from_hex)
        .transpose()
        .map_err(|_| format!("event {seq} has a damaged leaf hash"))?;
    let Some(body) = body else {
        // Pruned by retention: only its leaf hash is kept.
        return stored.ok_or_else(|| format!("event {seq} has neither content nor leaf hash"));
    };
    let leaf = merkle::leaf_hash(body.as_bytes());
    if stored.is_some_and(|s| s != leaf) {
        return Err(format!("event {seq} was modified: its content does not match its recorded hash"));
    }
    // Only the position is needed; skip building the whole JSON tree.
    let position: Position =
        serde_json::from_str(body).map_err(|_| format!("event {seq} is not valid JSON (modified)"))?;
    if position.seq != Some(seq) {
        return Err(format!("event {seq} is out of place: its content names another position (reordered)"));
    }
    Ok(leaf)
}

#[derive(Deserialize)]
struct Position {
    seq: Option<u64>,
}

fn check_checkpoint(
    cp: &Checkpoint,
    previous: Option<&Checkpoint>,
    root: &Hash,
    key: &VerifyingKey,
) -> Result<(), String> {
    if !cp.verify(key) {
        return Err(format!(
            "the checkpoint of size {} is not signed by this key (key id {}): the journal was rewritten or the key is wrong",
            cp.tree_size, cp.key_id
        ));
    }
    if merkle::to_hex(root) != cp.root_hash {
        return Err(format!(
            "events up to {} do not match the signed checkpoint of that size (modified, inserted or reordered events)",
            cp.tree_size
        ));
    }
    if let Some(p) = previous {
        if cp.time < p.time {
            return Err(format!("the checkpoint of size {} is older than the one before it", cp.tree_size));
        }
    }
    Ok(())
}

/// A self-contained proof that one event is in the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofBundle {
    pub format: String,
    /// The event exactly as stored (the Merkle leaf).
    pub event: String,
    pub seq: u64,
    pub proof: Vec<String>,
    pub checkpoint: Checkpoint,
}

/// Builds the bundle for event `seq` against the newest checkpoint covering it.
pub async fn prove(db: &Db, seq: u64) -> Result<ProofBundle, String> {
    if seq == 0 {
        return Err("sequence numbers start at 1".to_owned());
    }
    let checkpoints = load_checkpoints(db).await.map_err(|e| e.to_string())?;
    let checkpoint = checkpoints.into_iter().rev().find(|c| c.tree_size >= seq).ok_or_else(|| {
        format!("no signed checkpoint covers event {seq} yet; try again after the next checkpoint")
    })?;
    let body: Option<(Option<String>,)> = crate::storage::optional(
        sqlx::query_as("SELECT body FROM audit_events WHERE seq = $1")
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .fetch_one(db.pool())
            .await,
    )
    .map_err(|e| e.to_string())?;
    let event = body
        .ok_or_else(|| format!("there is no event {seq}"))?
        .0
        .ok_or_else(|| format!("event {seq} was pruned by retention; only its hash is kept"))?;
    let (point, leaves) =
        crate::audit::retention::subtree_hashes(db, checkpoint.tree_size).await.map_err(|e| e.to_string())?;
    let (pruned, kept) = match point {
        Some((p, f)) => (p, f.subtrees()),
        None => (0, Vec::new()),
    };
    let proof = merkle::inclusion_proof_with(checkpoint.tree_size, seq - 1, &|a, b| {
        subtree(a, b, pruned, &kept, &leaves)
    })
    .map_err(|e| e.to_string())?;
    Ok(ProofBundle {
        format: "custodian-audit-proof/v1".to_owned(),
        event,
        seq,
        proof: proof.iter().map(merkle::to_hex).collect(),
        checkpoint,
    })
}

/// Checks a bundle offline, with only the public key.
pub fn verify_proof(bundle: &ProofBundle, key: &VerifyingKey) -> Result<(), String> {
    if !bundle.checkpoint.verify(key) {
        return Err("the checkpoint is not signed by this key".to_owned());
    }
    let leaf = merkle::leaf_hash(bundle.event.as_bytes());
    let value: serde_json::Value =
        serde_json::from_str(&bundle.event).map_err(|_| "the event is not valid JSON".to_owned())?;
    if value.get("seq").and_then(|v| v.as_u64()) != Some(bundle.seq) {
        return Err("the event's sequence number does not match the bundle".to_owned());
    }
    let proof: Vec<Hash> = bundle
        .proof
        .iter()
        .map(|h| merkle::from_hex(h))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let root = merkle::from_hex(&bundle.checkpoint.root_hash).map_err(|e| e.to_string())?;
    if bundle.seq == 0 {
        return Err("sequence numbers start at 1".to_owned());
    }
    merkle::verify_inclusion(&leaf, bundle.seq - 1, bundle.checkpoint.tree_size, &proof, &root)
        .map_err(|e| format!("the inclusion proof does not verify: {e}"))
}

/// The hash of the aligned leaf range `[a, b)`: from the leaves kept after
/// the prune point, from the frontier kept at it, or split as the tree
/// splits when a range spans both.
fn subtree(
    a: u64,
    b: u64,
    pruned: u64,
    kept: &[(u64, u64, Hash)],
    leaves: &[Hash],
) -> Result<Hash, merkle::MerkleError> {
    let pruned_leaf = || merkle::MerkleError::IndexOutOfRange { index: a, size: b };
    if a >= pruned {
        let from = usize::try_from(a - pruned).map_err(|_| pruned_leaf())?;
        let to = usize::try_from(b - pruned).map_err(|_| pruned_leaf())?;
        return leaves.get(from..to).map(merkle::root).ok_or_else(pruned_leaf);
    }
    if let Some((_, _, h)) = kept.iter().find(|(s, e, _)| *s == a && *e == b) {
        return Ok(*h);
    }
    if b - a <= 1 {
        return Err(pruned_leaf());
    }
    let mut k = 1u64;
    while k << 1 < b - a {
        k <<= 1;
    }
    Ok(merkle::node_hash(
        &subtree(a, a + k, pruned, kept, leaves)?,
        &subtree(a + k, b, pruned, kept, leaves)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(events: u64, verified_through: u64, finding: Option<(u64, &str)>) -> Verification {
        Verification {
            pruned_through: 0,
            events,
            checkpoints: 3,
            verified_through,
            unsigned_tail: events - verified_through,
            finding: finding.map(|(seq, p)| ChainBreak { seq, problem: p.to_owned() }),
        }
    }

    #[test]
    fn a_failure_reports_only_what_was_checked_before_it() {
        // Event 18 fails; the checkpoint at 7 matched; the newest (400) was never reached.
        let text = report(17, 7, Some((18, "event 18 was modified"))).describe().join("\n");
        assert!(text.starts_with("FAILED at event 18: event 18 was modified"), "{text}");
        assert!(text.contains("events 1 to 7 match a verified signed checkpoint"), "{text}");
        assert!(text.contains("Events 8 to 17 were read in order"), "{text}");
        assert!(!text.contains("after the newest checkpoint") && !text.contains("17 events"), "{text}");
        assert!(!text.contains("VERIFIED"), "{text}");

        // A checkpoint that does not match: the events under it were read, but none is trusted.
        let text = report(400, 7, Some((8, "events up to 400 do not match"))).describe().join("\n");
        assert!(text.contains("events 1 to 7 match"), "{text}");
        assert!(!text.contains("Events 8 to"), "nothing after the failure is called checked: {text}");
        assert!(!text.contains("400 events"), "{text}");

        let text = report(2, 0, Some((3, "event 3 is missing"))).describe().join("\n");
        assert!(text.contains("no signed checkpoint was verified"), "{text}");
        assert!(text.contains("Events 1 to 2 were read in order"), "{text}");
    }

    #[test]
    fn a_clean_journal_reports_its_totals() {
        let text = report(400, 390, None).describe().join("\n");
        assert!(text.contains("400 events, 3 signed checkpoints, verified through event 390, 10 event(s)"));
        assert!(text.ends_with("VERIFIED: the journal is complete and unaltered"));
    }
}
