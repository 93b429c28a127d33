//! The journal writer: one task appends every event, in order, with group
//! commit. Callers send their event and wait for the commit of the batch
//! that carries it; nothing audited proceeds before that (fail closed: a
//! failed or slow write is an error the caller must turn into a refusal).
//!
//! ```text
//!  record() ──► channel ──► writer: take a batch ─► one transaction under the journal's lock:
//!     ▲                                               read what other writers added since,
//!     │                                               assign seq after that head, INSERT,
//!     │                                               sign a checkpoint every N events
//!     └──────────── Recorded / error ◄── commit ◄──────┘
//!                                         └─► every T seconds: signed checkpoint (same lock)
//! ```
//!
//! Several writers may share one database (replicas, and the command line
//! while the server runs): the lock (`storage::WriteLock::Journal`) makes
//! each number its events after the last commit, whoever made it, so none
//! collides with another and the Merkle chain stays one chain.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Any, Row, Transaction};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use crate::audit::checkpoint::{Checkpoint, CheckpointSigner, SignerError};
use crate::audit::content::{ContentKey, ContentRecord, ScreenFinding};
use crate::audit::merkle::{self, Frontier};
use crate::audit::throttle::{Due, Hold, Source, Throttle};
use crate::audit::{Actor, AuditConfig, AuditError, Event, EventKind, RequestMeta, Tally};
use crate::clock::SharedClock;
use crate::domain::EventId;
use crate::storage::{Db, WriteLock};

/// Rows per INSERT statement. Small: sqlx-sqlite resolves each `$n` by name,
/// at a cost that grows with the square of the parameter count.
const ROWS_PER_STATEMENT: usize = 32;
const CHANNEL_CAPACITY: usize = 65_536;

/// A recorded event's identity, returned to callers that report it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Receipt {
    pub seq: u64,
    pub event_id: EventId,
}

type Reply = oneshot::Sender<Result<Receipt, AuditError>>;
/// An event waiting for its batch, and where to send its result.
type Append = (Box<Event>, Reply);

enum Command {
    Append(Box<Event>, Reply),
    Checkpoint(oneshot::Sender<Result<Option<Checkpoint>, AuditError>>),
}

#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<Command>,
    clock: SharedClock,
    timeout: Duration,
    healthy: Arc<AtomicBool>,
    stats: Arc<Stats>,
    db: Db,
    refusals: Arc<Throttle<Refused>>,
    /// Keys the digests of content that is not recorded in clear.
    content_key: Arc<ContentKey>,
}

/// A refusal as it would be recorded: what the throttle keeps of the newest
/// one it counted without recording, for the summary that carries the count.
#[derive(Debug)]
pub struct Refused {
    meta: RequestMeta,
    actor: Actor,
    kind: EventKind,
}

/// Counters for `/metrics`, updated by the writer.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events in the journal (the tree size).
    pub events: AtomicU64,
    /// Committed batches (transactions).
    pub batches: AtomicU64,
    /// Failed write attempts.
    pub write_failures: AtomicU64,
    /// Tree size at the newest signed checkpoint.
    pub checkpointed: AtomicU64,
}

impl Journal {
    /// Loads the journal's state and starts its writer task, copying each
    /// signed checkpoint to `checkpoint_file` as well.
    pub async fn start(
        db: Db,
        clock: SharedClock,
        config: &AuditConfig,
        checkpoint_file: PathBuf,
    ) -> Result<Journal, AuditError> {
        let signer = CheckpointSigner::from_config(config)?;
        let content_key =
            Arc::new(ContentKey::derive(config.signing_key.as_ref().ok_or(SignerError::Missing)?));
        adopt_unhashed_events(&db).await?;
        let (frontier, last_checkpoint) = load_state(&db).await?;
        let healthy = Arc::new(AtomicBool::new(true));
        let stats = Arc::new(Stats::default());
        stats.events.store(frontier.size(), Ordering::Relaxed);
        stats
            .checkpointed
            .store(last_checkpoint.as_ref().map(|c| c.tree_size).unwrap_or(0), Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let refusals = Arc::new(Throttle::new(&config.refusals));
        let writer = Writer {
            db: db.clone(),
            clock: clock.clone(),
            signer,
            frontier,
            last_checkpoint,
            every: config.checkpoint_every,
            interval: config.checkpoint_interval,
            max_batch: config.max_batch,
            checkpoint_file,
            healthy: healthy.clone(),
            stats: stats.clone(),
            refusals: refusals.clone(),
        };
        tokio::spawn(writer.run(rx));
        Ok(Journal { tx, clock, timeout: config.write_timeout, healthy, stats, db, refusals, content_key })
    }

    /// Content the journal must not hold in clear (held, blocked or
    /// rejected, possibly PHI): its keyed digest, length and findings.
    pub fn withheld(&self, text: &str, findings: &[crate::domain::Finding]) -> ContentRecord {
        ContentRecord::refused(&self.content_key, text, findings.iter().map(ScreenFinding::from).collect())
    }

    /// Appends the event; returns once it is committed, or an error if it
    /// was not committed within the configured bound.
    pub async fn record(
        &self,
        meta: &RequestMeta,
        actor: Actor,
        kind: EventKind,
    ) -> Result<Receipt, AuditError> {
        let event = Event::new(self.clock.now(), meta, actor, kind);
        self.append(event).await
    }

    /// Records a refusal that happens before (or instead of) any action,
    /// through the refusal throttle (`crate::audit::throttle`): once per
    /// `scope` and `source` per window, carrying the number of the same
    /// refusals not recorded since; the others are counted, and their count
    /// is written later, never dropped. `kind` is `access.gate` or a failed
    /// `auth.login`.
    pub async fn record_refusal(
        &self,
        scope: &'static str,
        source: Source,
        meta: &RequestMeta,
        actor: Actor,
        kind: EventKind,
    ) -> Result<(), AuditError> {
        let refused = Refused { meta: meta.clone(), actor, kind };
        let Some(admitted) = self.refusals.admit(scope, source, self.clock.now(), refused) else {
            tracing::debug!(scope, "refused (counted)");
            return Ok(());
        };
        let Refused { meta, actor, mut kind } = admitted.refusal;
        tracing::warn!(scope, action = kind.action(), suppressed = admitted.suppressed, "refused");
        if let Some(tally) = kind.tally_mut() {
            *tally =
                Tally { suppressed: admitted.suppressed, counted_as: admitted.counted_as, summary: false };
        }
        self.record(&meta, actor, kind).await.map(|_| ())
    }

    /// Whether `source` has been refused so often of `scope` that its
    /// requests with an unknown credential wait their turn to be looked up
    /// (`crate::audit::throttle`, "Slowed sources").
    pub fn slowed(&self, scope: &'static str, source: Source) -> Option<Hold> {
        self.refusals.slowed(scope, source, self.clock.now())
    }

    /// [`Journal::record_refusal`] of an `access.gate` refusal.
    pub async fn record_denial(
        &self,
        scope: &'static str,
        source: Source,
        meta: &RequestMeta,
        actor: Actor,
        gate: &str,
        reason: String,
    ) -> Result<(), AuditError> {
        self.record_refusal(scope, source, meta, actor, EventKind::access_denied(gate, reason)).await
    }

    /// Writes the counts of throttled refusals whose window has closed (all
    /// of them if `everything`: at shutdown) as summary events. The writer
    /// does this on its own every checkpoint tick; this is for shutdown and
    /// tests. Returns how many summaries were written; a count whose
    /// summary could not be written goes back to the throttle.
    pub async fn flush_refusals(&self, everything: bool) -> Result<usize, AuditError> {
        let now = self.clock.now();
        let due = self.refusals.sweep(now, everything);
        let written = futures::future::join_all(due.iter().map(|due| self.append(summary(due, now)))).await;
        let (mut count, mut failed) = (0, None);
        for (due, result) in due.into_iter().zip(written) {
            match result {
                Ok(_) => count += 1,
                // Still queued at the writer: it may yet be written, so it is not taken back.
                Err(e @ AuditError::Timeout(_)) => failed = Some(e),
                Err(e) => {
                    self.refusals.restore(due, now);
                    failed = Some(e);
                }
            }
        }
        failed.map_or(Ok(count), Err)
    }

    pub async fn append(&self, event: Event) -> Result<Receipt, AuditError> {
        let (reply, wait) = oneshot::channel();
        let send_and_wait = async {
            self.tx
                .send(Command::Append(Box::new(event), reply))
                .await
                .map_err(|_| AuditError::WriterStopped)?;
            wait.await.map_err(|_| AuditError::WriterStopped)?
        };
        match tokio::time::timeout(self.timeout, send_and_wait).await {
            Ok(result) => result,
            Err(_) => {
                self.healthy.store(false, Ordering::SeqCst);
                Err(AuditError::Timeout(self.timeout))
            }
        }
    }

    /// Signs a checkpoint of everything written so far (at shutdown, and on demand).
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, AuditError> {
        let (reply, wait) = oneshot::channel();
        self.tx.send(Command::Checkpoint(reply)).await.map_err(|_| AuditError::WriterStopped)?;
        wait.await.map_err(|_| AuditError::WriterStopped)?
    }

    /// False after a failed or slow write, until the next write succeeds.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every event in order, for tests and tools.
    pub async fn all(&self) -> Result<Vec<(i64, serde_json::Value)>, AuditError> {
        let rows: Vec<(i64, Option<String>)> =
            sqlx::query_as("SELECT seq, body FROM audit_events ORDER BY seq")
                .fetch_all(self.db.pool())
                .await?;
        rows.into_iter()
            .filter_map(|(seq, body)| body.map(|b| (seq, b)))
            .map(|(seq, body)| Ok((seq, serde_json::from_str(&body)?)))
            .collect()
    }
}

struct Writer {
    db: Db,
    clock: SharedClock,
    signer: CheckpointSigner,
    frontier: Frontier,
    last_checkpoint: Option<Checkpoint>,
    every: u64,
    interval: Duration,
    max_batch: usize,
    checkpoint_file: PathBuf,
    healthy: Arc<AtomicBool>,
    stats: Arc<Stats>,
    refusals: Arc<Throttle<Refused>>,
}

/// Answers each of `appends` already in the journal (its commit was
/// reported as failed but happened) with where it is; hands back the rest.
async fn answer_written(db: &Db, appends: Vec<Append>) -> Result<Vec<Append>, (Vec<Append>, sqlx::Error)> {
    if appends.is_empty() {
        return Ok(appends);
    }
    let marks: Vec<String> = (1..=appends.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT event_id, seq FROM audit_events WHERE event_id IN ({})", marks.join(", "));
    let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
    for (event, _) in &appends {
        query = query.bind(event.event_id.as_str());
    }
    let written: std::collections::HashMap<String, i64> = match query.fetch_all(db.pool()).await {
        Ok(rows) => rows.into_iter().collect(),
        Err(e) => return Err((appends, e)),
    };
    let mut rest = Vec::new();
    for (event, reply) in appends {
        match written.get(&event.event_id).and_then(|seq| u64::try_from(*seq).ok()) {
            Some(seq) => {
                let _ = reply.send(Ok(Receipt { seq, event_id: event.event_id.into() }));
            }
            None => rest.push((event, reply)),
        }
    }
    Ok(rest)
}

/// The summary event of a count of throttled refusals whose window has closed.
fn summary(due: &Due<Refused>, now: crate::clock::Timestamp) -> Event {
    let Refused { meta, actor, kind } = &due.last;
    let mut kind = kind.clone();
    if let Some(tally) = kind.tally_mut() {
        *tally = Tally { suppressed: due.suppressed, counted_as: due.counted_as.clone(), summary: true };
    }
    Event::new(now, meta, actor.clone(), kind)
}

struct Pending {
    event: Box<Event>,
    body: String,
    leaf: merkle::Hash,
    reply: Reply,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => cmd,
                    None => break,
                },
                _ = tick.tick() => {
                    self.write_summaries(false).await;
                    // Failures are logged inside; the next event or tick tries again.
                    let _ = self.checkpoint_if_due(false).await;
                    continue;
                }
            };
            let mut appends = Vec::new();
            let mut checkpoint_requests = Vec::new();
            let mut next = Some(first);
            while let Some(cmd) = next.take() {
                match cmd {
                    Command::Append(event, reply) => appends.push((event, reply)),
                    Command::Checkpoint(reply) => checkpoint_requests.push(reply),
                }
                if appends.len() < self.max_batch {
                    next = rx.try_recv().ok();
                }
            }
            if !appends.is_empty() {
                // A failure is answered to each caller.
                self.write_batch(appends).await;
            }
            if !checkpoint_requests.is_empty() {
                let result = self.checkpoint_if_due(true).await;
                for reply in checkpoint_requests {
                    let _ = reply.send(result.clone().map_err(AuditError::Checkpoint));
                }
            } else {
                // Failures are logged inside; the next event or tick tries again.
                let _ = self.checkpoint_if_due(false).await;
            }
        }
        // Every sender is gone: write what the throttle still counts, sign what was written.
        self.write_summaries(true).await;
        let _ = self.checkpoint_if_due(true).await;
    }

    /// Writes the throttle's due summaries; nobody waits for them. If they
    /// cannot be written, their counts go back for the next sweep.
    async fn write_summaries(&mut self, everything: bool) {
        let now = self.clock.now();
        let due = self.refusals.sweep(now, everything);
        if due.is_empty() {
            return;
        }
        let appends = due.iter().map(|due| (Box::new(summary(due, now)), oneshot::channel().0)).collect();
        if !self.write_batch(appends).await {
            for due in due {
                self.refusals.restore(due, now);
            }
        }
    }

    /// Writes the batch, answering each caller; `false` if it was not written.
    async fn write_batch(&mut self, appends: Vec<Append>) -> bool {
        let mut appends = appends;
        // A second attempt covers a commit whose outcome is unknown (a lost
        // connection, a full disk): the state is re-read, the batch renumbered.
        for attempt in 0..2 {
            match self.commit(appends).await {
                Ok(committed) => {
                    self.committed(committed).await;
                    return true;
                }
                Err((back, e)) => {
                    self.stats.write_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, events = back.len(), attempt, "audit journal write failed");
                    appends = back;
                    match load_state(&self.db).await {
                        Ok((frontier, last)) => {
                            self.frontier = frontier;
                            self.last_checkpoint = last;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "cannot re-read the audit journal state");
                            break;
                        }
                    }
                    // A commit reported as failed may have happened: what it
                    // wrote is answered, not written twice.
                    match answer_written(&self.db, appends).await {
                        Ok(rest) if rest.is_empty() => {
                            self.healthy.store(true, Ordering::SeqCst);
                            return true;
                        }
                        Ok(rest) => appends = rest,
                        Err((rest, e)) => {
                            tracing::error!(error = %e, "cannot read which audit events were written");
                            appends = rest;
                            break;
                        }
                    }
                }
            }
        }
        self.healthy.store(false, Ordering::SeqCst);
        tracing::error!(events = appends.len(), "audit journal write failed; refusing the audited actions");
        for (_, reply) in appends {
            let _ = reply.send(Err(AuditError::WriteFailed));
        }
        false
    }

    /// One transaction under the journal's lock: catch up with what other
    /// writers on this database committed (another replica, the command
    /// line), number the batch after that head, insert it with the
    /// checkpoints that fall due inside it, commit. Nothing is numbered
    /// from a stale head, so no write collides with another's.
    async fn commit(&mut self, appends: Vec<Append>) -> Result<Committed, (Vec<Append>, AuditError)> {
        let mut tx = match self.db.begin_serialized(WriteLock::Journal).await {
            Ok(tx) => tx,
            Err(e) => return Err((appends, e.into())),
        };
        if let Err(e) = self.catch_up(&mut tx).await {
            return Err((appends, e));
        }
        let pending = self.number(appends);
        let mut frontier = self.frontier.clone();
        let mut checkpoints: Vec<Checkpoint> = Vec::new();
        let written: Result<(), AuditError> = async {
            insert(&mut tx, &pending).await?;
            let mut last = self.last_checkpoint.clone();
            for p in &pending {
                frontier.push(p.leaf);
                // At least every N events, even inside one large batch.
                let last_size = last.as_ref().map(|c| c.tree_size).unwrap_or(0);
                if frontier.size() - last_size >= self.every {
                    let checkpoint = self.sign(&frontier, last.as_ref());
                    store_checkpoint(&mut tx, &checkpoint).await?;
                    checkpoints.push(checkpoint.clone());
                    last = Some(checkpoint);
                }
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        match written {
            Ok(()) => Ok(Committed { pending, frontier, checkpoints }),
            Err(e) => Err((pending.into_iter().map(|p| (p.event, p.reply)).collect(), e)),
        }
    }

    /// After a commit: the new head, the callers answered, the checkpoints copied out.
    async fn committed(&mut self, committed: Committed) {
        let Committed { pending, frontier, checkpoints } = committed;
        self.frontier = frontier;
        self.healthy.store(true, Ordering::SeqCst);
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.events.store(self.frontier.size(), Ordering::Relaxed);
        for p in pending {
            let _ = p.reply.send(Ok(Receipt { seq: p.event.seq, event_id: p.event.event_id.into() }));
        }
        for checkpoint in checkpoints {
            self.copy_out(checkpoint).await;
        }
    }

    /// Inside the journal's lock: adds to the frontier the events other
    /// writers committed since this one last looked, and takes their
    /// newest checkpoint.
    async fn catch_up(&mut self, tx: &mut Transaction<'static, Any>) -> Result<(), AuditError> {
        let mut caught_up = false;
        loop {
            let after = i64::try_from(self.frontier.size()).unwrap_or(i64::MAX);
            let rows: Vec<(i64, Option<String>)> = sqlx::query_as(
                "SELECT seq, leaf_hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT 50000",
            )
            .bind(after)
            .fetch_all(&mut **tx)
            .await?;
            if rows.is_empty() {
                break;
            }
            for (seq, leaf) in rows {
                // A gap (pruned past this writer's head) or an unhashed row:
                // the caller re-reads the whole state instead.
                if u64::try_from(seq).ok() != Some(self.frontier.size() + 1) {
                    return Err(AuditError::Corrupt(format!("event {seq} does not follow the head")));
                }
                let leaf =
                    leaf.ok_or_else(|| AuditError::Corrupt(format!("event {seq} has no leaf hash")))?;
                self.frontier.push(merkle::from_hex(&leaf).map_err(|e| AuditError::Corrupt(e.to_string()))?);
            }
            caught_up = true;
        }
        if caught_up {
            self.last_checkpoint = crate::audit::checkpoint::latest(&mut **tx).await?;
        }
        Ok(())
    }

    /// Assigns sequence numbers after the current head and encodes each event.
    fn number(&self, appends: Vec<Append>) -> Vec<Pending> {
        let start = self.frontier.size() + 1;
        let mut pending: Vec<Pending> = Vec::with_capacity(appends.len());
        for (mut event, reply) in appends {
            // Numbered as encoded, so sequence numbers stay gap-free.
            event.seq = start + pending.len() as u64;
            match serde_json::to_string(&event) {
                Ok(body) => {
                    let leaf = merkle::leaf_hash(body.as_bytes());
                    pending.push(Pending { event, body, leaf, reply });
                }
                Err(e) => {
                    let _ = reply.send(Err(AuditError::Encode(e)));
                }
            }
        }
        pending
    }

    /// Signs a checkpoint when N events or T seconds have passed since the
    /// last one (or when forced), if anything new was written. Under the
    /// journal's lock, at the head as it is in the database, so checkpoints
    /// from several writers grow in size and time together.
    async fn checkpoint_if_due(&mut self, force: bool) -> Result<Option<Checkpoint>, String> {
        match self.checkpoint_locked(force).await {
            Ok((checkpoint, signed)) => {
                if signed {
                    if let Some(c) = &checkpoint {
                        self.copy_out(c.clone()).await;
                    }
                }
                Ok(checkpoint)
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot store an audit checkpoint");
                Err("the audit checkpoint could not be stored".to_owned())
            }
        }
    }

    /// The checkpoint due (or the newest, if forced and nothing is new), and
    /// whether this call signed it.
    async fn checkpoint_locked(&mut self, force: bool) -> Result<(Option<Checkpoint>, bool), AuditError> {
        let mut tx = self.db.begin_serialized(WriteLock::Journal).await?;
        self.catch_up(&mut tx).await?;
        self.last_checkpoint = crate::audit::checkpoint::latest(&mut *tx).await?;
        let size = self.frontier.size();
        let (last_size, last_time) =
            self.last_checkpoint.as_ref().map(|c| (c.tree_size, c.time)).unwrap_or((0, 0));
        if size == last_size {
            return Ok((self.last_checkpoint.clone(), false));
        }
        let interval_ms = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        let now = self.clock.now().millis();
        if !force && size - last_size < self.every && now - last_time < interval_ms {
            return Ok((None, false));
        }
        let checkpoint = self.sign(&self.frontier, self.last_checkpoint.as_ref());
        store_checkpoint(&mut tx, &checkpoint).await?;
        tx.commit().await?;
        Ok((Some(checkpoint), true))
    }

    /// Signs the tree head `frontier`. Never older than the checkpoint
    /// before it, even if another writer's clock ran ahead of this one.
    fn sign(&self, frontier: &Frontier, previous: Option<&Checkpoint>) -> Checkpoint {
        let time = self.clock.now().millis().max(previous.map(|c| c.time).unwrap_or(0));
        self.signer.sign(frontier.size(), &frontier.root(), time)
    }

    /// A stored checkpoint becomes the newest, and is copied outside the database.
    async fn copy_out(&mut self, checkpoint: Checkpoint) {
        if let Err(e) = append_line(&self.checkpoint_file, &checkpoint).await {
            tracing::error!(error = %e, file = %self.checkpoint_file.display(), "cannot copy an audit checkpoint outside the database");
        }
        self.stats.checkpointed.store(checkpoint.tree_size, Ordering::Relaxed);
        self.last_checkpoint = Some(checkpoint);
    }
}

/// A batch that committed: its events, the head after them, and the
/// checkpoints signed inside it.
struct Committed {
    pending: Vec<Pending>,
    frontier: Frontier,
    checkpoints: Vec<Checkpoint>,
}

async fn store_checkpoint(
    tx: &mut Transaction<'static, Any>,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, time, key_id, signature) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX))
    .bind(&checkpoint.root_hash)
    .bind(checkpoint.time)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert(tx: &mut Transaction<'static, Any>, pending: &[Pending]) -> Result<(), sqlx::Error> {
    for chunk in pending.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "INSERT INTO audit_events (seq, event_id, time, action, user_id, decision, body, leaf_hash, account, request_id) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 10;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10
            ));
        }
        let mut query = sqlx::query(&sql);
        for p in chunk {
            let e = &p.event;
            query = query
                .bind(i64::try_from(e.seq).unwrap_or(i64::MAX))
                .bind(&e.event_id)
                .bind(e.time.millis())
                .bind(e.action)
                .bind(e.actor.user_id.clone())
                .bind(e.decision.as_str())
                .bind(&p.body)
                .bind(merkle::to_hex(&p.leaf))
                .bind(e.target.as_ref().and_then(|t| t.account.clone()))
                .bind(e.request.request_id.clone());
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn append_line(path: &PathBuf, checkpoint: &Checkpoint) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await?;
    }
    let mut line = serde_json::to_string(checkpoint).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = tokio::fs::OpenOptions::new().create(true).append(true).open(path).await?;
    file.write_all(line.as_bytes()).await?;
    file.sync_data().await
}

/// Events written before the journal existed get their sequence number in
/// their body and their leaf hash, once, at start-up.
async fn adopt_unhashed_events(db: &Db) -> Result<(), AuditError> {
    let rows = sqlx::query("SELECT seq, body FROM audit_events WHERE leaf_hash IS NULL ORDER BY seq")
        .fetch_all(db.pool())
        .await?;
    for row in rows {
        let seq: i64 = row.try_get("seq")?;
        let body: String = row.try_get("body")?;
        let mut value: serde_json::Value = serde_json::from_str(&body)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("seq".to_owned(), serde_json::json!(seq));
        }
        let body = serde_json::to_string(&value)?;
        sqlx::query("UPDATE audit_events SET body = $1, leaf_hash = $2 WHERE seq = $3")
            .bind(&body)
            .bind(merkle::to_hex(&merkle::leaf_hash(body.as_bytes())))
            .bind(seq)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// The Merkle frontier over every stored leaf, and the newest checkpoint.
async fn load_state(db: &Db) -> Result<(Frontier, Option<Checkpoint>), AuditError> {
    let (mut frontier, mut after) = match crate::audit::retention::prune_point(db).await? {
        Some((size, frontier)) => (frontier, i64::try_from(size).unwrap_or(0)),
        None => (Frontier::new(), 0i64),
    };
    loop {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT seq, leaf_hash FROM audit_events WHERE seq > $1 AND leaf_hash IS NOT NULL ORDER BY seq LIMIT 50000",
        )
        .bind(after)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (_, leaf) in &rows {
            frontier.push(merkle::from_hex(leaf).map_err(|e| AuditError::Corrupt(e.to_string()))?);
        }
    }
    let checkpoint = crate::audit::checkpoint::latest(db.pool()).await?;
    Ok((frontier, checkpoint))
}
