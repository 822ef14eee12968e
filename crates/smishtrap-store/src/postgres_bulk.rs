//! [`BulkSink`] on PostgreSQL (`smishtrap import --store postgres://…`): each batch goes in
//! with one binary `COPY … FROM STDIN`, in batch order, under the message insert lock (so
//! `seq` order is commit order, as for every message insert), in one transaction. A batch of
//! distinct ids none of which is stored (a fresh import) is copied straight into `messages`;
//! when one is stored (a rerun: the copy stops at the first such row and is rolled back to a
//! savepoint) or the batch repeats an id, it is copied into a session-local staging table
//! and inserted from there, skipping ids already stored. The straight copy costs the server
//! about a third less than staging and inserting (a model over the bench's rows).
//!
//! The staging table is `TEMP … ON COMMIT DELETE ROWS`: never WAL-logged, private to the
//! connection, empty after every commit or rollback. Values are the ones
//! `AnalysisStore::insert_messages` stores (NUL as U+FFFD, `text_nul` for the exact bytes,
//! domains lowercase, searchable length, sorted, each once).
//!
//! As on SQLite (`bulk.rs`), a large import into a small store defers the secondary indexes
//! of `messages` ([`DEFERRED_INDEXES`], the `pg_trgm` GIN text index among them): they are
//! dropped before the first full batch and built once at [`BulkSink::finish_bulk`], or, for
//! `smishtrap import`, after its clustering pass ([`PostgresStore::hold_deferred_indexes`]):
//! that pass updates most rows, and an update that cannot stay on its page (a loaded table
//! has no room) adds an entry to every index, so maintained indexes would cost the import
//! twice. Building the text index after the load costs about half of keeping it (a model
//! over the bench's texts). The primary key and the unique `id` stay: inserts skip stored
//! ids through them. Every search gives the same answers without the dropped indexes, only
//! slower: each is a plan choice, and the text index is a lossy filter whose matches are
//! rechecked with `ILIKE`.
//!
//! While they are deferred, the importing session holds the schema's bulk lock (a session
//! advisory lock, released by the server when the session ends, however the client died).
//! Another connection that opens the store meanwhile leaves the indexes to the import; a
//! second import does not defer.
//!
//! Invariant: only the holder of the bulk lock drops or builds the deferred indexes; an
//! import that ended before building them (killed, or failed) leaves them to the next
//! [`PostgresStore::open`] that gets the lock; until then every search gives the same
//! answers, only slower.
//!
//! Durability is every commit's (`postgres.rs`): a batch is on disk when
//! `insert_messages_bulk` returns, and a rerun skips what was stored. The indexes are built
//! with the same guarantees (`CREATE INDEX` is WAL-logged), one per statement, so a build
//! cut short keeps the ones it finished.

use std::borrow::Cow;
use std::collections::HashMap;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};

use crate::bulk::{DEFER_MAX_ROWS, DEFER_MIN_BATCH, message_domains};
use crate::postgres::{PostgresStore, trgm_ops_of};
use crate::postgres_analysis::{MESSAGES_INSERT_LOCK, pg, pg_owned};
use crate::{BulkSink, NewMessage, StoreError};

const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS smishtrap_import_batch (
        n BIGINT NOT NULL, id TEXT NOT NULL, event_id TEXT, origin TEXT NOT NULL,
        ts BIGINT NOT NULL, recipient TEXT, country TEXT, sender TEXT, router TEXT,
        src_ip TEXT, text TEXT NOT NULL, text_nul BYTEA, text_nul_fold BYTEA, lang TEXT,
        verdict TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, brand TEXT,
        domains TEXT[] NOT NULL, record TEXT NOT NULL, analysis TEXT NOT NULL
    ) ON COMMIT DELETE ROWS";

const COPY_STAGING: &str = "COPY smishtrap_import_batch (n, id, event_id, origin, ts, \
    recipient, country, sender, router, src_ip, text, text_nul, text_nul_fold, lang, verdict, \
    score, brand, domains, record, analysis) FROM STDIN (FORMAT binary)";

/// [`COPY_STAGING`] without `n`, straight into `messages` (`seq` numbers rows in order).
const COPY_MESSAGES: &str = "COPY messages (id, event_id, origin, ts, recipient, country, \
    sender, router, src_ip, text, text_nul, text_nul_fold, lang, verdict, score, brand, \
    domains, record, analysis) FROM STDIN (FORMAT binary)";

/// The column types of [`COPY_STAGING`], in order (of [`COPY_MESSAGES`] without the first).
const TYPES: [Type; 20] = [
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
    Type::BYTEA,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::TEXT,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::TEXT,
];

const INSERT: &str = "INSERT INTO messages (id, event_id, origin, ts, recipient, country, \
    sender, router, src_ip, text, text_nul, text_nul_fold, lang, verdict, score, brand, \
    domains, record, analysis)
    SELECT id, event_id, origin, ts, recipient, country, sender, router, src_ip, text,
        text_nul, text_nul_fold, lang, verdict, score, brand, domains, record, analysis
    FROM smishtrap_import_batch ORDER BY n
    ON CONFLICT (id) DO NOTHING
    RETURNING id, seq";

/// The secondary indexes of `messages` an import may defer, with their schema v2
/// definitions (a test checks they are the migration's, word for word).
pub(crate) const DEFERRED_INDEXES: &[(&str, &str)] = &[
    ("messages_ts", "CREATE INDEX messages_ts ON messages (ts, seq)"),
    ("messages_verdict_ts", "CREATE INDEX messages_verdict_ts ON messages (verdict, ts)"),
    ("messages_brand_ts", "CREATE INDEX messages_brand_ts ON messages (lower(brand), ts)"),
    ("messages_campaign_ts", "CREATE INDEX messages_campaign_ts ON messages (campaign, ts)"),
    ("messages_country_ts", "CREATE INDEX messages_country_ts ON messages (country, ts)"),
    ("messages_recipient", "CREATE INDEX messages_recipient ON messages (recipient)"),
    ("messages_sender", "CREATE INDEX messages_sender ON messages (sender)"),
    ("messages_event_id", "CREATE INDEX messages_event_id ON messages (event_id)"),
    ("messages_domains", "CREATE INDEX messages_domains ON messages USING GIN (domains)"),
    ("messages_text", "CREATE INDEX messages_text ON messages USING GIN (text {trgm_ops})"),
];

/// The bulk lock of the current schema: `pg_try_advisory_lock(BULK_LOCK, schema oid)`
/// (the two-key form: its own key space, and one lock per schema of the database).
const BULK_LOCK: i32 = 0x736d_626b; // "smbk"

/// How long dropping the indexes waits for the table (a long query holds it): past that the
/// import keeps them rather than queueing every other query of the table behind it.
const DROP_LOCK_TIMEOUT: &str = "10s";

fn opt(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(pg)
}

fn s<'a>(v: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    v.as_deref()
}

impl PostgresStore {
    /// Keeps the indexes this connection's import defers past [`BulkSink::finish_bulk`],
    /// until [`PostgresStore::build_deferred_indexes`]: the import's clustering pass then
    /// updates the new rows without maintaining them (see the module docs).
    pub fn hold_deferred_indexes(&mut self) {
        self.hold_indexes = true;
    }

    /// Builds the deferred indexes unless another session holds the bulk lock (its import
    /// builds them at its end); then releases the lock. Returns whether none is missing now.
    pub fn build_deferred_indexes(&mut self) -> Result<bool, StoreError> {
        self.hold_indexes = false;
        self.restore_indexes()
    }

    /// Takes this schema's bulk lock without waiting; `false` when another session holds it.
    fn try_bulk_lock(&mut self) -> Result<bool, StoreError> {
        if self.bulk_lock {
            return Ok(true);
        }
        let got: bool = self
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, current_schema()::regnamespace::oid::int4)",
                &[&BULK_LOCK],
            )
            .and_then(|row| row.try_get(0))
            .map_err(self.err("take the bulk lock"))?;
        self.bulk_lock = got;
        Ok(got)
    }

    fn release_bulk_lock(&mut self) -> Result<(), StoreError> {
        if !self.bulk_lock {
            return Ok(());
        }
        self.bulk_lock = false;
        self.client
            .execute(
                "SELECT pg_advisory_unlock($1, current_schema()::regnamespace::oid::int4)",
                &[&BULK_LOCK],
            )
            .map(drop)
            .map_err(self.err("release the bulk lock"))
    }

    /// The [`DEFERRED_INDEXES`] this schema lacks.
    fn missing_indexes(
        &mut self,
    ) -> Result<Vec<&'static (&'static str, &'static str)>, StoreError> {
        let names: Vec<&str> = DEFERRED_INDEXES.iter().map(|(name, _)| *name).collect();
        let present: Vec<String> = self
            .client
            .query(
                "SELECT relname::text FROM pg_class WHERE relkind = 'i' \
                 AND relnamespace = current_schema()::regnamespace AND relname = ANY($1)",
                &[&names],
            )
            .and_then(|rows| rows.iter().map(|row| row.try_get(0)).collect())
            .map_err(self.err("read indexes"))?;
        Ok(DEFERRED_INDEXES.iter().filter(|(name, _)| !present.iter().any(|p| p == name)).collect())
    }

    /// Drops the [`DEFERRED_INDEXES`] when the store is small and no other session holds the
    /// bulk lock (see the module docs); this session keeps the lock until they are built.
    fn defer_indexes(&mut self) -> Result<(), StoreError> {
        // a large store keeps them
        let last: i64 = self
            .client
            .query_one("SELECT coalesce(max(seq), 0) FROM messages", &[])
            .and_then(|row| row.try_get(0))
            .map_err(self.err("read last message row"))?;
        if last > DEFER_MAX_ROWS {
            return Ok(());
        }
        // another import defers them: insert with whatever indexes there are
        if !self.try_bulk_lock()? {
            return Ok(());
        }
        let missing = self.missing_indexes()?;
        if missing.len() == DEFERRED_INDEXES.len() {
            return Ok(());
        }
        let names: Vec<&str> = DEFERRED_INDEXES.iter().map(|(name, _)| *name).collect();
        let drop = format!(
            "SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'; DROP INDEX IF EXISTS {}",
            names.join(", ")
        );
        let result = (|| {
            let mut tx = self.client.transaction()?;
            tx.batch_execute(&drop)?;
            tx.commit()
        })();
        match result {
            Ok(()) => Ok(()),
            // a long query holds the table: keep the indexes
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => Ok(()),
            Err(e) => Err(self.err("defer indexes")(e)),
        }
    }

    /// Builds the [`DEFERRED_INDEXES`] this schema lacks unless another session holds the
    /// bulk lock, then releases the lock. Returns whether none is missing now.
    pub(crate) fn restore_indexes(&mut self) -> Result<bool, StoreError> {
        if !self.bulk_lock && self.missing_indexes()?.is_empty() {
            return Ok(true);
        }
        if !self.try_bulk_lock()? {
            return Ok(false);
        }
        let built = self.build_missing_indexes();
        let released = self.release_bulk_lock();
        built.and(released).map(|()| true)
    }

    /// One statement per index: a build cut short keeps the ones it finished.
    fn build_missing_indexes(&mut self) -> Result<(), StoreError> {
        let missing = self.missing_indexes()?;
        if missing.is_empty() {
            return Ok(());
        }
        let log = crate::bulk::IndexBuild::start(missing.len());
        let trgm_ops = trgm_ops_of(&mut self.client).map_err(self.err("build index"))?;
        for (_, ddl) in missing {
            let ddl = crate::bulk::if_not_exists(ddl).replace("{trgm_ops}", &trgm_ops);
            self.client.batch_execute(&ddl).map_err(self.err("build index"))?;
        }
        log.done();
        Ok(())
    }

    /// Copies `messages` with `copy` ([`COPY_STAGING`] numbering them, or [`COPY_MESSAGES`])
    /// in the open transaction.
    fn copy(
        tx: &mut postgres::Transaction<'_>,
        copy: &str,
        messages: &[NewMessage],
    ) -> Result<(), postgres::Error> {
        let numbered = copy == COPY_STAGING;
        let from = usize::from(!numbered);
        let mut writer = BinaryCopyInWriter::new(tx.copy_in(copy)?, &TYPES[from..]);
        for (n, m) in (0i64..).zip(messages) {
            let (event_id, recipient, country) =
                (opt(&m.event_id), opt(&m.recipient), opt(&m.country));
            let (sender, router, src_ip) = (opt(&m.sender), opt(&m.router), opt(&m.src_ip));
            let (lang, brand) = (opt(&m.lang), opt(&m.brand));
            let has_nul = m.text.contains('\0');
            let text_nul = has_nul.then_some(m.text.as_bytes());
            let text_nul_fold = has_nul.then(|| m.text.to_ascii_lowercase().into_bytes());
            let mut domains: Vec<String> = message_domains(m).iter().map(|d| pg_owned(d)).collect();
            domains.sort();
            domains.dedup();
            let (id, origin, text, verdict) =
                (pg(&m.id), pg(&m.origin), pg(&m.text), pg(&m.verdict));
            let (record, analysis) = (pg(&m.record), pg(&m.analysis));
            let values: [&(dyn ToSql + Sync); 20] = [
                &n,
                &id.as_ref(),
                &s(&event_id),
                &origin.as_ref(),
                &m.ts_micros,
                &s(&recipient),
                &s(&country),
                &s(&sender),
                &s(&router),
                &s(&src_ip),
                &text.as_ref(),
                &text_nul,
                &text_nul_fold.as_deref(),
                &s(&lang),
                &verdict.as_ref(),
                &f64::from(m.score),
                &s(&brand),
                &domains,
                &record.as_ref(),
                &analysis.as_ref(),
            ];
            writer.write(&values[from..])?;
        }
        writer.finish().map(drop)
    }

    /// Copies a batch of distinct ids straight into `messages` unless one is stored: returns
    /// the new rows' numbers, or `None` (nothing stored) when one was.
    fn copy_new(
        &mut self,
        messages: &[NewMessage],
    ) -> Result<Option<Vec<Option<i64>>>, StoreError> {
        let n = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let err = self.err("insert messages");
        let result = (|| {
            let mut tx = self.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MESSAGES_INSERT_LOCK])?;
            let last = "SELECT coalesce(max(seq), 0) FROM messages";
            let before: i64 = tx.query_one(last, &[])?.try_get(0)?;
            let mut savepoint = tx.transaction()?;
            match PostgresStore::copy(&mut savepoint, COPY_MESSAGES, messages) {
                Ok(()) => savepoint.commit()?,
                // stored before: dropping the savepoint and the transaction rolls both back
                Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => return Ok(None),
                Err(e) => return Err(e),
            }
            let after: i64 = tx.query_one(last, &[])?.try_get(0)?;
            // Row numbers are taken in copy order, while every other message insert waits
            // for the lock: with no gap (values of a rolled-back insert, a writer that does
            // not lock) they are the next `n`; otherwise they are read back.
            let seqs = if after - before == n {
                (before + 1..=after).map(Some).collect()
            } else {
                let rows = tx.query(
                    "SELECT id, seq FROM messages WHERE seq > $1 AND seq <= $2",
                    &[&before, &after],
                )?;
                let mut at: HashMap<String, i64> = HashMap::with_capacity(rows.len());
                for row in rows {
                    at.insert(row.try_get(0)?, row.try_get(1)?);
                }
                messages.iter().map(|m| at.get(pg(&m.id).as_ref()).copied()).collect()
            };
            tx.commit()?;
            Ok(Some(seqs))
        })();
        result.map_err(err)
    }
}

impl BulkSink for PostgresStore {
    fn begin_bulk(&mut self) -> Result<(), StoreError> {
        self.client.batch_execute(STAGING).map_err(self.err("create import staging table"))
    }

    fn insert_messages_bulk(
        &mut self,
        messages: &[NewMessage],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        if messages.len() >= DEFER_MIN_BATCH {
            self.defer_indexes()?;
        }
        // the first message of each id is the one stored
        let mut first: HashMap<String, usize> = HashMap::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            first.entry(pg_owned(&m.id)).or_insert(i);
        }
        // distinct ids: straight in, unless one is stored
        if first.len() == messages.len()
            && let Some(seqs) = self.copy_new(messages)?
        {
            return Ok(seqs);
        }
        // the statement names the staging table: made once per connection
        let insert = match self.statement(INSERT) {
            Ok(insert) => insert,
            Err(_) => {
                self.begin_bulk()?;
                self.statement(INSERT)?
            }
        };
        let err = self.err("insert messages");
        let result = (|| {
            let mut tx = self.client.transaction()?;
            PostgresStore::copy(&mut tx, COPY_STAGING, messages)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MESSAGES_INSERT_LOCK])?;
            let rows = tx.query(&insert, &[])?;
            tx.commit()?;
            rows.iter()
                .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)))
                .collect::<Result<Vec<(String, i64)>, postgres::Error>>()
        })();
        let stored = result.map_err(err)?;
        let mut seqs = vec![None; messages.len()];
        for (id, seq) in stored {
            if let Some(slot) = first.get(&id).and_then(|&i| seqs.get_mut(i)) {
                *slot = Some(seq);
            }
        }
        Ok(seqs)
    }

    fn finish_bulk(&mut self) -> Result<(), StoreError> {
        if self.hold_indexes {
            return Ok(());
        }
        self.restore_indexes().map(drop)
    }

    fn count_messages_between(&mut self, after_seq: i64, upto_seq: i64) -> Result<u64, StoreError> {
        let stmt = self.statement("SELECT count(*) FROM messages WHERE seq > $1 AND seq <= $2")?;
        self.client
            .query_one(&stmt, &[&after_seq, &upto_seq])
            .and_then(|row| row.try_get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(self.err("count messages"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_indexes_are_the_migrations_own() {
        let schema = crate::postgres::MIGRATIONS[1];
        crate::bulk::assert_deferred_indexes_in(schema, DEFERRED_INDEXES);
        // every secondary index of `messages` but the unique `id`'s
        let on_messages = schema
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w == &["ON", "messages"])
            .count();
        assert_eq!(on_messages, DEFERRED_INDEXES.len());
    }
}
