//! The one SQL store: an embedded SQLite file by default, PostgreSQL when the
//! URL says so. Both run the same portable SQL (text ids, integer
//! Unix-millisecond times, `$n` parameters) through sqlx's `Any` driver, so
//! repositories do not branch per backend. Migrations for each backend live
//! in `migrations/<backend>` and mean the same thing.
//!
//! Only this module and the repositories write SQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error("database schema is not current: {0} migration(s) pending")]
    MigrationsPending(usize),
    #[error("unsupported database URL (use sqlite: or postgres://)")]
    UnsupportedUrl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Opens the database, creating the SQLite file (and its directory) on first run.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, StorageError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        if backend == Backend::Sqlite {
            create_sqlite_parent(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // No ping before each use: on SQLite it is a round trip to the
            // connection's thread, on PostgreSQL one to the server, for every
            // query. A connection that broke fails its query and is dropped.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL for concurrent readers; FULL so a commit survives power loss.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        // Fewer, larger WAL checkpoints: less rewriting under a steady append load.
                        conn.execute("PRAGMA wal_autocheckpoint = 4096").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub async fn migrate(&self) -> Result<(), StorageError> {
        self.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Ready means reachable and every migration applied.
    pub async fn check_ready(&self) -> Result<(), StorageError> {
        let applied: Vec<(i64,)> =
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_all(&self.pool)
                .await?;
        let pending = self.migrator().iter().filter(|m| !applied.iter().any(|(v,)| *v == m.version)).count();
        if pending > 0 {
            return Err(StorageError::MigrationsPending(pending));
        }
        Ok(())
    }

    /// Begins a transaction that holds `lock` until it ends: writers from
    /// other processes on the same database (another replica, the command
    /// line) wait for it instead of racing it. SQLite takes its one write
    /// lock at the start (`BEGIN IMMEDIATE`), so what the transaction reads
    /// is the latest committed state; PostgreSQL takes a transaction-scoped
    /// advisory lock named by `lock`.
    pub async fn begin_serialized(&self, lock: WriteLock) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock.key()).execute(&mut *tx).await?;
                Ok(tx)
            }
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn create_sqlite_parent(url: &str) -> Result<(), StorageError> {
    let path =
        url.trim_start_matches("sqlite://").trim_start_matches("sqlite:").split('?').next().unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| StorageError::DataDir {
            path: parent.display().to_string(),
            reason: e.kind().to_string(),
        })?;
    }
    Ok(())
}

/// What a [`Db::begin_serialized`] transaction serializes against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteLock {
    /// Appending to the audit journal and signing its checkpoints: the
    /// next sequence number and the Merkle head follow the last commit.
    Journal,
}

impl WriteLock {
    /// The PostgreSQL advisory lock's key (arbitrary, distinct per lock).
    fn key(self) -> i64 {
        match self {
            WriteLock::Journal => 0x6375_7374_6a72_6e6c, // "custjrnl"
        }
    }
}

/// Maps "no row" to `None` for optional lookups.
pub fn optional<T>(r: Result<T, sqlx::Error>) -> Result<Option<T>, sqlx::Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(sqlx::Error::RowNotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `$first, $first+1, ...`: `n` numbered parameters for an `IN (...)` list.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
