//! `[audit]`: the journal's section of the configuration, and what is
//! wrong with it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;

use super::CheckpointSigner;

/// The tamper-evident audit journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Ed25519 checkpoint signing key: base64 of 32 random bytes. Keep it in a
    /// file outside the database (`signing_key_file`).
    pub signing_key: Option<Secret>,
    #[serde(skip_serializing)]
    pub signing_key_file: Option<PathBuf>,
    /// Sign a checkpoint at least every this many events...
    pub checkpoint_every: u64,
    /// ...and at least this often while events arrive.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// Every signed checkpoint is also appended here, a copy outside the
    /// database. Empty: `<data_dir>/audit-checkpoints.jsonl`.
    pub checkpoint_file: Option<PathBuf>,
    /// An event not committed within this bound refuses its action (503).
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Most events committed in one transaction (group commit).
    pub max_batch: usize,
    /// Events older than this are pruned by `custodian audit prune`
    /// (HIPAA 164.316(b)(2): six years).
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// While true, nothing is pruned.
    pub legal_hold: bool,
    /// Streaming the journal to a SIEM (`[audit.stream]`).
    pub stream: super::stream::StreamConfig,
    /// How refusals before sign-in are counted (`[audit.refusals]`).
    pub refusals: super::throttle::RefusalsConfig,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signing_key: None,
            signing_key_file: None,
            checkpoint_every: 1000,
            checkpoint_interval: Duration::from_secs(10),
            checkpoint_file: None,
            write_timeout: Duration::from_secs(2),
            max_batch: 1024,
            retention: Duration::from_secs(6 * 366 * 24 * 3600),
            legal_hold: false,
            stream: super::stream::StreamConfig::default(),
            refusals: super::throttle::RefusalsConfig::default(),
        }
    }
}

impl AuditConfig {
    /// Where signed checkpoints are copied: the configured file, or one in `data_dir`.
    pub fn checkpoint_file(&self, data_dir: &Path) -> PathBuf {
        self.checkpoint_file.clone().unwrap_or_else(|| data_dir.join("audit-checkpoints.jsonl"))
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(e) = CheckpointSigner::from_config(self) {
            problems.push(e.to_string());
        }
        if self.checkpoint_every == 0 || self.max_batch == 0 {
            problems.push("audit.checkpoint_every and audit.max_batch must be at least 1".to_owned());
        }
        if self.write_timeout.is_zero() || self.checkpoint_interval.is_zero() {
            problems.push("audit.write_timeout and audit.checkpoint_interval must be positive".to_owned());
        }
        problems.extend(self.stream.problems());
        problems.extend(self.refusals.problems());
        problems
    }
}
