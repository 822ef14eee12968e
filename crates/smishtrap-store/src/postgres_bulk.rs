//! [`BulkSink`] on PostgreSQL (`smishtrap import --store postgres://…`): each batch is
//! copied (`COPY … FROM STDIN`, binary) into a session-local staging table, then inserted
//! into `messages` in batch order, skipping ids already stored, under the message insert lock
//! (so `seq` order is commit order, as for every message insert), in one transaction.
//!
//! The staging table is `TEMP … ON COMMIT DELETE ROWS`: never WAL-logged, private to the
//! connection, empty after every commit or rollback. Values are the ones
//! `AnalysisStore::insert_messages` stores (NUL as U+FFFD, `text_nul` for the exact bytes,
//! domains lowercase, searchable length, sorted, each once).

use std::borrow::Cow;
use std::collections::HashMap;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};

use crate::bulk::message_domains;
use crate::postgres::PostgresStore;
use crate::postgres_analysis::{MESSAGES_INSERT_LOCK, pg, pg_owned};
use crate::{BulkSink, NewMessage, StoreError};

const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS smishtrap_import_batch (
        n BIGINT NOT NULL, id TEXT NOT NULL, event_id TEXT, origin TEXT NOT NULL,
        ts BIGINT NOT NULL, recipient TEXT, country TEXT, sender TEXT, router TEXT,
        src_ip TEXT, text TEXT NOT NULL, text_nul BYTEA, text_nul_fold BYTEA, lang TEXT,
        verdict TEXT NOT NULL, score DOUBLE PRECISION NOT NULL, brand TEXT,
        domains TEXT[] NOT NULL, record TEXT NOT NULL, analysis TEXT NOT NULL
    ) ON COMMIT DELETE ROWS";

const COPY: &str = "COPY smishtrap_import_batch (n, id, event_id, origin, ts, recipient, \
    country, sender, router, src_ip, text, text_nul, text_nul_fold, lang, verdict, score, \
    brand, domains, record, analysis) FROM STDIN (FORMAT binary)";

/// The column types of [`COPY`], in order.
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

fn opt(s: &Option<String>) -> Option<Cow<'_, str>> {
    s.as_deref().map(pg)
}

fn s<'a>(v: &'a Option<Cow<'_, str>>) -> Option<&'a str> {
    v.as_deref()
}

impl PostgresStore {
    /// Copies `messages` into the staging table of the open transaction.
    fn stage(
        tx: &mut postgres::Transaction<'_>,
        messages: &[NewMessage],
    ) -> Result<(), postgres::Error> {
        let mut writer = BinaryCopyInWriter::new(tx.copy_in(COPY)?, &TYPES);
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
            writer.write(&values)?;
        }
        writer.finish().map(drop)
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
            PostgresStore::stage(&mut tx, messages)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MESSAGES_INSERT_LOCK])?;
            let rows = tx.query(&insert, &[])?;
            tx.commit()?;
            rows.iter()
                .map(|row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?)))
                .collect::<Result<Vec<(String, i64)>, postgres::Error>>()
        })();
        let stored = result.map_err(err)?;
        // the first message of each id is the one stored
        let mut first: HashMap<String, usize> = HashMap::with_capacity(messages.len());
        for (i, m) in messages.iter().enumerate() {
            first.entry(pg_owned(&m.id)).or_insert(i);
        }
        let mut seqs = vec![None; messages.len()];
        for (id, seq) in stored {
            if let Some(slot) = first.get(&id).and_then(|&i| seqs.get_mut(i)) {
                *slot = Some(seq);
            }
        }
        Ok(seqs)
    }

    fn finish_bulk(&mut self) -> Result<(), StoreError> {
        Ok(())
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
