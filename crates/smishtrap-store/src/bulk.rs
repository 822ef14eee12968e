//! Bulk loading of analysed messages (`smishtrap import`): [`BulkSink`], the backend-neutral
//! writer of the import's large transactions, and its SQLite implementation. (PostgreSQL's
//! is in `postgres_bulk.rs`: COPY into a staging table.)
//!
//! The SQLite store writes the same rows and indexes as [`SqliteStore::insert_messages`]
//! (one row-binding helper, [`bind_message`]), in large transactions. A large import into a
//! small store also defers the message table's secondary b-tree indexes
//! ([`DEFERRED_INDEXES`]): they are dropped before the first full batch and built once at
//! [`BulkSink::finish_bulk`] (a sort instead of millions of random inserts). Text search
//! never depends on them (the FTS5 index is written with every batch), and every other
//! search stays correct without them, only slower.
//!
//! While its indexes are deferred, the importing connection holds the store's bulk lock (an
//! advisory `flock` on `STORE-bulk`, dropped by the kernel when the process ends, even by
//! `kill -9`). Another process that opens the store meanwhile sees the lock taken and leaves
//! the indexes to the import (no rebuild racing the import's next drop, no `SQLITE_BUSY`
//! churn); a second import does not defer.
//!
//! Invariant: a deferred index that an import killed before `finish_bulk` left out is built
//! again by the next [`SqliteStore::open`] that gets the bulk lock and the write lock (or the
//! next import's end); only the holder of the bulk lock drops or builds them; until then
//! every search gives the same answers, only slower.

use std::fs::File;
use std::path::{Path, PathBuf};

use rusqlite::{Statement, TransactionBehavior, params};
use rustix::fs::{FlockOperation, flock};

use crate::messages::MAX_QUERY_VALUE_CHARS;
use crate::sqlite::sqlite;
use crate::{AnalysisStore, NewMessage, SqliteStore, StoreError};

/// Where an import stores its batches, on any backend.
///
/// Invariant: each call of [`BulkSink::insert_messages_bulk`] commits its batch whole or not
/// at all, skips ids already stored (so a rerun stores nothing twice), and numbers the new
/// rows in batch order after every row committed before.
pub trait BulkSink: AnalysisStore + Send {
    /// Prepares this connection for large transactions.
    fn begin_bulk(&mut self) -> Result<(), StoreError>;

    /// Stores analysed messages in one transaction, skipping ids already stored. Returns,
    /// per message in order, its new row number, or `None` when it was already stored.
    fn insert_messages_bulk(
        &mut self,
        messages: &[NewMessage],
    ) -> Result<Vec<Option<i64>>, StoreError>;

    /// Ends the load: builds what [`BulkSink::insert_messages_bulk`] deferred.
    fn finish_bulk(&mut self) -> Result<(), StoreError>;

    /// How many messages are stored after row `after_seq` up to row `upto_seq`.
    fn count_messages_between(&mut self, after_seq: i64, upto_seq: i64) -> Result<u64, StoreError>;
}

/// The message columns every insert binds, in [`bind_message`]'s order.
pub(crate) const INSERT_MESSAGE: &str = "INSERT OR IGNORE INTO messages (id, event_id, origin, \
    ts, recipient, country, sender, router, src_ip, text, lang, verdict, score, brand, record, \
    analysis) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// Runs [`INSERT_MESSAGE`] for `m`; returns whether it was new.
pub(crate) fn bind_message(insert: &mut Statement<'_>, m: &NewMessage) -> rusqlite::Result<bool> {
    insert
        .execute(params![
            m.id,
            m.event_id,
            m.origin,
            m.ts_micros,
            m.recipient,
            m.country,
            m.sender,
            m.router,
            m.src_ip,
            m.text,
            m.lang,
            m.verdict,
            f64::from(m.score),
            m.brand,
            m.record,
            m.analysis,
        ])
        .map(|n| n > 0)
}

/// The domain index rows of a message: lowercase, non-empty, searchable length, each once.
pub(crate) fn message_domains(m: &NewMessage) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(m.domains.len());
    for d in &m.domains {
        let d = d.to_ascii_lowercase();
        if !d.is_empty() && d.chars().count() <= MAX_QUERY_VALUE_CHARS && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Batches at least this large defer the secondary indexes (smaller imports keep them), on
/// either backend.
pub(crate) const DEFER_MIN_BATCH: usize = 8192;
/// ... when the store holds at most this many message rows: building the indexes once
/// over them then costs less than inserting the batches' entries one by one.
pub(crate) const DEFER_MAX_ROWS: i64 = 200_000;

/// The secondary indexes of the message tables an import may defer, with their schema v2
/// definitions (a test checks they are the migration's, word for word).
pub(crate) const DEFERRED_INDEXES: &[(&str, &str)] = &[
    ("messages_ts", "CREATE INDEX messages_ts ON messages (ts)"),
    ("messages_verdict_ts", "CREATE INDEX messages_verdict_ts ON messages (verdict, ts)"),
    ("messages_brand_ts", "CREATE INDEX messages_brand_ts ON messages (brand, ts)"),
    ("messages_campaign_ts", "CREATE INDEX messages_campaign_ts ON messages (campaign, ts)"),
    ("messages_country_ts", "CREATE INDEX messages_country_ts ON messages (country, ts)"),
    ("messages_recipient", "CREATE INDEX messages_recipient ON messages (recipient)"),
    ("messages_sender", "CREATE INDEX messages_sender ON messages (sender)"),
    ("message_domains_seq", "CREATE INDEX message_domains_seq ON message_domains (seq)"),
];

/// Page cache of an importing connection: the id index, the text index and (when not
/// deferred) the secondary indexes take random inserts, and stay cached at this size up to
/// millions of rows (memory only; durability is the same as any commit's).
const IMPORT_CACHE_KIB: i64 = 256 * 1024;

impl SqliteStore {
    /// Stores analysed messages in one transaction, skipping ids already stored (so a rerun
    /// of a crashed or finished import stores nothing twice). Returns, per message in order,
    /// its new row number, or `None` when it was already stored.
    ///
    /// Text index rows go in with one statement over the transaction's rows (they are
    /// contiguous: the transaction holds the write lock and `seq` is the rowid), and
    /// domain rows sorted, so index pages are visited in order.
    pub fn insert_messages_bulk(
        &mut self,
        messages: &[NewMessage],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if messages.len() >= DEFER_MIN_BATCH {
            self.defer_indexes()?;
        }
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin message insert"))?;
        let mut seqs = Vec::with_capacity(messages.len());
        {
            let mut insert = tx
                .prepare_cached(INSERT_MESSAGE)
                .map_err(sqlite(&path, "prepare message insert"))?;
            let mut domains: Vec<(String, i64)> = Vec::new();
            let mut range: Option<(i64, i64)> = None;
            for m in messages {
                if !bind_message(&mut insert, m).map_err(sqlite(&path, "insert message"))? {
                    seqs.push(None);
                    continue;
                }
                let seq = tx.last_insert_rowid();
                seqs.push(Some(seq));
                range = Some(range.map_or((seq, seq), |(lo, hi)| (lo.min(seq), hi.max(seq))));
                domains.extend(message_domains(m).into_iter().map(|d| (d, seq)));
            }
            if let Some((lo, hi)) = range {
                tx.prepare_cached(
                    "INSERT INTO messages_text (rowid, text) \
                     SELECT seq, text FROM messages WHERE seq BETWEEN ?1 AND ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![lo, hi]))
                .map_err(sqlite(&path, "index message text"))?;
            }
            domains.sort_unstable();
            let mut domain = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO message_domains (domain, seq) VALUES (?1, ?2)",
                )
                .map_err(sqlite(&path, "prepare domain index"))?;
            for (d, seq) in &domains {
                domain.execute(params![d, seq]).map_err(sqlite(&path, "index domain"))?;
            }
        }
        tx.commit().map_err(sqlite(&path, "commit messages"))?;
        Ok(seqs)
    }

    /// Drops the [`DEFERRED_INDEXES`] when the store is small and no other process holds the
    /// bulk lock (see the module docs); this connection keeps the lock until they are built.
    fn defer_indexes(&mut self) -> Result<(), StoreError> {
        // a large store keeps them
        if self.last_message_seq()? > DEFER_MAX_ROWS {
            return Ok(());
        }
        if self.bulk_lock.is_none() {
            match try_bulk_lock(self.path())? {
                Some(lock) => self.bulk_lock = Some(lock),
                // another import defers them: insert with whatever indexes there are
                None => return Ok(()),
            }
        }
        if self.missing_indexes()?.len() == DEFERRED_INDEXES.len() {
            return Ok(());
        }
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin deferring indexes"))?;
        for (name, _) in DEFERRED_INDEXES {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))
                .map_err(sqlite(&path, "defer index"))?;
        }
        tx.commit().map_err(sqlite(&path, "commit deferring indexes"))
    }

    /// The [`DEFERRED_INDEXES`] this store lacks.
    fn missing_indexes(&self) -> Result<Vec<&'static (&'static str, &'static str)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")
            .map_err(sqlite(self.path(), "read indexes"))?;
        let mut missing = Vec::new();
        for index in DEFERRED_INDEXES {
            if !stmt.exists([index.0]).map_err(sqlite(self.path(), "read indexes"))? {
                missing.push(index);
            }
        }
        Ok(missing)
    }

    /// Builds the [`DEFERRED_INDEXES`] this store lacks, in one transaction, unless another
    /// process holds the bulk lock (its import builds them at its end); then releases the
    /// lock. Returns whether none is missing now.
    pub(crate) fn restore_indexes(&mut self) -> Result<bool, StoreError> {
        // the lock file is made only by a store that deferred its indexes
        if self.bulk_lock.is_none() && self.missing_indexes()?.is_empty() {
            return Ok(true);
        }
        if self.bulk_lock.is_none() {
            match try_bulk_lock(self.path())? {
                Some(lock) => self.bulk_lock = Some(lock),
                None => return Ok(false),
            }
        }
        let built = self.build_missing_indexes();
        self.bulk_lock = None;
        built.map(|()| true)
    }

    fn build_missing_indexes(&mut self) -> Result<(), StoreError> {
        let missing = self.missing_indexes()?;
        if missing.is_empty() {
            return Ok(());
        }
        let log = IndexBuild::start(missing.len());
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin building indexes"))?;
        for (_, ddl) in missing {
            tx.execute_batch(&if_not_exists(ddl)).map_err(sqlite(&path, "build index"))?;
        }
        tx.commit().map_err(sqlite(&path, "commit building indexes"))?;
        log.done();
        Ok(())
    }

    /// Prepares this connection for large transactions: a page cache of `cache_kib` KiB
    /// keeps the indexes' pages cached (memory only; what a commit guarantees is
    /// unchanged). The text index keeps FTS5's 1 MiB `hashsize`: 64 MiB (one segment per
    /// batch) cost 50 % more CPU per imported message (100,000 records, alternated runs).
    pub fn prepare_bulk(&mut self, cache_kib: i64) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "cache_size", -cache_kib)
            .map_err(sqlite(self.path(), "set cache size"))
    }

    /// How many messages are stored after row `after_seq` up to row `upto_seq`.
    pub fn count_messages_between(&self, after_seq: i64, upto_seq: i64) -> Result<u64, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM messages WHERE seq > ?1 AND seq <= ?2",
                [after_seq, upto_seq],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sqlite(self.path(), "count messages"))
    }

    /// The last message row number (0 when there is none).
    pub fn last_message_seq(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(seq), 0) FROM messages", [], |row| row.get(0))
            .map_err(sqlite(self.path(), "read last message row"))
    }
}

impl BulkSink for SqliteStore {
    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        self.prepare_bulk(IMPORT_CACHE_KIB)
    }

    fn insert_messages_bulk(
        &mut self,
        messages: &[NewMessage],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        SqliteStore::insert_messages_bulk(self, messages)
    }

    fn finish_bulk(&mut self) -> Result<(), StoreError> {
        self.restore_indexes().map(drop)
    }

    fn count_messages_between(&mut self, after_seq: i64, upto_seq: i64) -> Result<u64, StoreError> {
        SqliteStore::count_messages_between(self, after_seq, upto_seq)
    }
}

/// The bulk lock file of the store at `db` (`STORE-bulk`, beside `STORE-wal`).
pub(crate) fn bulk_lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-bulk");
    PathBuf::from(name)
}

/// Takes the bulk lock of the store at `db` without waiting; `None` when another open file
/// holds it.
fn try_bulk_lock(db: &Path) -> Result<Option<File>, StoreError> {
    let path = bulk_lock_path(db);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            operation: "open the bulk lock file",
            source,
        })?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(err) => {
            Err(StoreError::Io { path, operation: "take the bulk lock", source: err.into() })
        }
    }
}

/// A deferred index's DDL made safe to run again (a build cut short keeps what it made).
pub(crate) fn if_not_exists(ddl: &str) -> String {
    ddl.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS")
}

/// The log lines of a deferred-index build, on both backends: at a start after a killed
/// import the build takes a while, and the log says why the start waits.
pub(crate) struct IndexBuild {
    count: usize,
    started: std::time::Instant,
}

impl IndexBuild {
    pub(crate) fn start(count: usize) -> IndexBuild {
        tracing::info!(count, "building the indexes a large import deferred");
        IndexBuild { count, started: std::time::Instant::now() }
    }

    pub(crate) fn done(self) {
        let seconds = self.started.elapsed().as_secs_f64();
        tracing::info!(count = self.count, seconds, "deferred indexes built");
    }
}

/// Asserts that every deferred index is created, word for word, by `schema` (a migration's
/// DDL), so a rebuilt index is the one the migration made. Shared by both backends' tests.
#[cfg(test)]
pub(crate) fn assert_deferred_indexes_in(schema: &str, deferred: &[(&str, &str)]) {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let schema = words(schema);
    for (name, ddl) in deferred {
        assert!(ddl.contains(&format!("INDEX {name} ON")), "{name}");
        assert!(schema.contains(&format!("{};", words(ddl))), "{ddl}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_indexes_are_the_migrations_own() {
        assert_deferred_indexes_in(crate::messages::MIGRATION_V2, DEFERRED_INDEXES);
    }
}
