//! Bulk loading of analysed messages (`smishtrap import`): the same rows and indexes as
//! [`SqliteStore::insert_messages`], in the large transactions an import writes, returning the
//! row number of every new message so the importer can hand its features to the clusterer
//! instead of reading them back.

use rusqlite::{TransactionBehavior, params};

use crate::messages::MAX_QUERY_VALUE_CHARS;
use crate::sqlite::sqlite;
use crate::{NewMessage, SqliteStore, StoreError};

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
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin message insert"))?;
        let mut seqs = Vec::with_capacity(messages.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO messages (id, event_id, origin, ts, recipient, \
                     country, sender, router, src_ip, text, lang, verdict, score, brand, \
                     record, analysis) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                     ?12, ?13, ?14, ?15, ?16)",
                )
                .map_err(sqlite(&path, "prepare message insert"))?;
            let mut domains: Vec<(String, i64)> = Vec::new();
            let mut range: Option<(i64, i64)> = None;
            for m in messages {
                let new = insert
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
                    .map_err(sqlite(&path, "insert message"))?;
                if new == 0 {
                    seqs.push(None);
                    continue;
                }
                let seq = tx.last_insert_rowid();
                seqs.push(Some(seq));
                range = Some(range.map_or((seq, seq), |(lo, hi)| (lo.min(seq), hi.max(seq))));
                let start = domains.len();
                for d in &m.domains {
                    let d = d.to_ascii_lowercase();
                    if !d.is_empty()
                        && d.chars().count() <= MAX_QUERY_VALUE_CHARS
                        && !domains.get(start..).unwrap_or_default().iter().any(|(x, _)| *x == d)
                    {
                        domains.push((d, seq));
                    }
                }
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
