//! [`AnalysisStore`] on PostgreSQL: analysed messages, campaigns and aliases, progress
//! cursors, heartbeats and the console's aggregates, with the SQLite store's semantics
//! (schema v2 in `postgres.rs`).
//!
//! Text search is a case-insensitive substring search, as on SQLite: 3 characters or more
//! are `ILIKE` with `%`, `_` and `\` escaped, served by the `pg_trgm` GIN index (case folded
//! as the database folds, as FTS5 trigrams fold); shorter ones scan, ASCII letters in any
//! case. PostgreSQL text cannot hold NUL, so a NUL in a stored string becomes U+FFFD; the
//! message text also keeps its exact bytes when it has a NUL (`text_nul`), and a search with
//! a NUL matches those bytes ASCII-folded (`text_nul_fold`), so an exact substring of any
//! stored text matches. Batches travel as arrays (`UNNEST`), one round trip per write.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use postgres::Row;
use postgres::types::ToSql;
use smishtrap_event::{Event, EventKind, SensorStatus};

use crate::decode::{self, count};
use crate::postgres::PostgresStore;
use crate::{
    AnalysedRow, AnalysisStore, AssignmentChange, AuditRow, BucketCount, CampaignAlias,
    CampaignRow, EventMessage, EventTail, HourCount, MAX_QUERY_VALUE_CHARS, MessageFacet,
    MessageQuery, NewMessage, StoreError, StoredMessage, ValidationSend,
};

/// Held by each message insert until it commits, so `seq` order is commit order and a tail
/// by `seq` (the clusterer) never skips a row committed late.
pub(crate) const MESSAGES_INSERT_LOCK: i64 = 0x736d_6973_6d73_6773; // "smismsgs"

/// Microseconds in an hour.
const HOUR_MICROS: i64 = 3_600_000_000;

type Values = Vec<Box<dyn ToSql + Sync>>;

const INSERT_MESSAGES: &str = "INSERT INTO messages (id, event_id, origin, ts, recipient, \
    country, sender, router, src_ip, text, text_nul, text_nul_fold, lang, verdict, score, \
    brand, domains, record, analysis)
    SELECT id, event_id, origin, ts, recipient, country, sender, router, src_ip, text,
        text_nul, text_nul_fold, lang, verdict, score, brand,
        ARRAY(SELECT jsonb_array_elements_text(domains::jsonb)), record, analysis
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::text[], $11::bytea[], $12::bytea[],
                $13::text[], $14::text[], $15::float8[], $16::text[], $17::text[], $18::text[],
                $19::text[])
        WITH ORDINALITY AS batch (id, event_id, origin, ts, recipient, country, sender,
            router, src_ip, text, text_nul, text_nul_fold, lang, verdict, score, brand,
            domains, record, analysis, n)
    ORDER BY n
    ON CONFLICT (id) DO NOTHING";

const ASSIGN: &str = "UPDATE messages m SET campaign = c.campaign, phase = c.phase
    FROM UNNEST($1::int8[], $2::text[], $3::text[]) AS c (seq, campaign, phase)
    WHERE m.seq = c.seq";

const SET_CURSOR: &str = "INSERT INTO cursors (name, value) VALUES ($1, $2) \
    ON CONFLICT (name) DO UPDATE SET value = excluded.value";

/// PostgreSQL text holds no NUL: U+FFFD stands in for it.
pub(crate) fn pg(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

pub(crate) fn pg_owned(s: &str) -> String {
    pg(s).into_owned()
}

pub(crate) fn pg_opt(s: Option<&String>) -> Option<String> {
    s.map(|s| pg_owned(s))
}

/// `LIKE` pattern of "contains `s`" (`\` is PostgreSQL's default escape character).
fn contains_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Keeps the last change of each row (the SQLite store applies them in order).
fn last_per_seq(
    changes: &[AssignmentChange],
) -> (Vec<i64>, Vec<Option<String>>, Vec<Option<String>>) {
    let mut at: HashMap<i64, usize> = HashMap::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        at.insert(c.seq, i);
    }
    let mut seqs = Vec::with_capacity(at.len());
    let mut campaigns = Vec::with_capacity(at.len());
    let mut phases = Vec::with_capacity(at.len());
    for (i, c) in changes.iter().enumerate() {
        if at.get(&c.seq) == Some(&i) {
            seqs.push(c.seq);
            campaigns.push(pg_opt(c.campaign.as_ref()));
            phases.push(pg_opt(c.phase.as_ref()));
        }
    }
    (seqs, campaigns, phases)
}

/// Assignment changes per `UPDATE` of a streamed clustering write.
const PG_BATCH: usize = 16_384;
/// Campaign rows per upsert of a streamed clustering write.
const PG_CAMPAIGN_BATCH: usize = 512;

/// Campaign rows as the columns of one `UNNEST` upsert: the last row of each id only (one
/// statement may not update a row twice).
struct CampaignColumns {
    ids: Vec<String>,
    first_seen: Vec<Option<i64>>,
    last_seen: Vec<Option<i64>>,
    message_count: Vec<i64>,
    brand: Vec<Option<String>>,
    summary: Vec<String>,
}

impl CampaignColumns {
    fn of(campaigns: &[CampaignRow]) -> CampaignColumns {
        let mut last: HashMap<String, usize> = HashMap::with_capacity(campaigns.len());
        for (i, c) in campaigns.iter().enumerate() {
            last.insert(pg_owned(&c.id), i);
        }
        let mut out = CampaignColumns {
            ids: Vec::with_capacity(last.len()),
            first_seen: Vec::with_capacity(last.len()),
            last_seen: Vec::with_capacity(last.len()),
            message_count: Vec::with_capacity(last.len()),
            brand: Vec::with_capacity(last.len()),
            summary: Vec::with_capacity(last.len()),
        };
        for (i, c) in campaigns.iter().enumerate() {
            let id = pg_owned(&c.id);
            if last.get(&id) != Some(&i) {
                continue;
            }
            out.ids.push(id);
            out.first_seen.push(c.first_seen);
            out.last_seen.push(c.last_seen);
            out.message_count.push(c.message_count);
            out.brand.push(pg_opt(c.brand.as_ref()));
            out.summary.push(pg_owned(&c.summary));
        }
        out
    }
}

/// 64-bit FNV-1a: a stable advisory lock key of a name.
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

impl PostgresStore {
    fn refs(values: &Values) -> Vec<&(dyn ToSql + Sync)> {
        values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect()
    }

    fn rows(
        &mut self,
        sql: &str,
        values: &Values,
        operation: &'static str,
    ) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let refs = Self::refs(values);
        self.client.query(&stmt, &refs).map_err(self.err(operation))
    }

    fn read<T>(
        &mut self,
        sql: &str,
        values: &Values,
        operation: &'static str,
        decode: impl Fn(&Row) -> Result<T, postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.rows(sql, values, operation)?;
        rows.iter().map(|row| decode(row).map_err(self.err(operation))).collect()
    }

    fn scalar(
        &mut self,
        sql: &str,
        values: &Values,
        operation: &'static str,
    ) -> Result<i64, StoreError> {
        let stmt = self.statement(sql)?;
        let refs = Self::refs(values);
        self.client
            .query_one(&stmt, &refs)
            .and_then(|row| row.try_get(0))
            .map_err(self.err(operation))
    }

    fn query_messages(
        &mut self,
        sql: &str,
        values: &Values,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        self.read(sql, values, "read messages", decode::stored_message)
    }
}

/// `SELECT` of every message column from `messages m`.
fn message_select() -> String {
    format!("SELECT {} FROM messages m", decode::message_select_list(|c| format!("m.{c}")))
}

/// The `WHERE` conditions of a query and their values, or `None` when it cannot match (a
/// value too long to be real). Same rules as the SQLite store's `message_conditions`.
fn message_conditions(query: &MessageQuery) -> Option<(Vec<String>, Values)> {
    let mut conds = Vec::new();
    let mut values: Values = Vec::new();
    fn bind(values: &mut Values, v: Box<dyn ToSql + Sync>) -> String {
        values.push(v);
        format!("${}", values.len())
    }
    let clean = crate::messages::query_value;
    if let Some(text) = clean(&query.text).ok()? {
        if text.contains('\0') {
            // Only texts with a NUL can contain one: their exact bytes, ASCII-folded.
            let p = bind(&mut values, Box::new(text.to_ascii_lowercase().into_bytes()));
            conds.push(format!(
                "(m.text_nul_fold IS NOT NULL AND position({p}::bytea IN m.text_nul_fold) > 0)"
            ));
        } else if text.chars().count() >= 3 {
            // the trigram index serves it; case folded as the database folds
            let p = bind(&mut values, Box::new(contains_pattern(&text)));
            conds.push(format!("m.text ILIKE {p}"));
        } else {
            // too short for trigrams: a scan, ASCII letters in any case (as on SQLite)
            let p = bind(&mut values, Box::new(text));
            conds.push(format!(
                "strpos(lower(m.text COLLATE \"C\"), lower({p}::text COLLATE \"C\")) > 0"
            ));
        }
    }
    if let Some(number) = clean(&query.number).ok()? {
        let number = pg_owned(&number);
        let lo = bind(&mut values, Box::new(number.clone()));
        let hi = bind(&mut values, Box::new(format!("{number}\u{10FFFF}")));
        conds.push(format!(
            "((m.recipient >= {lo} AND m.recipient < {hi}) OR \
             (m.sender >= {lo} AND m.sender < {hi}))"
        ));
    }
    if let Some(domain) = clean(&query.domain).ok()? {
        let p = bind(&mut values, Box::new(vec![pg_owned(&domain.to_ascii_lowercase())]));
        conds.push(format!("m.domains @> {p}::text[]"));
    }
    if let Some(brand) = clean(&query.brand).ok()? {
        let p = bind(&mut values, Box::new(pg_owned(&brand)));
        conds.push(format!("lower(m.brand) = lower({p}::text COLLATE \"C\")"));
    }
    for (column, value) in
        [("verdict", &query.verdict), ("campaign", &query.campaign), ("country", &query.country)]
    {
        if let Some(v) = clean(value).ok()? {
            let p = bind(&mut values, Box::new(pg_owned(&v)));
            conds.push(format!("m.{column} = {p}"));
        }
    }
    if let Some((ts, seq)) = query.before {
        let t = bind(&mut values, Box::new(ts));
        let s = bind(&mut values, Box::new(seq));
        conds.push(format!("(m.ts, m.seq) < ({t}, {s})"));
    }
    Some((conds, values))
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) }
}

impl AnalysisStore for PostgresStore {
    fn insert_messages(
        &mut self,
        messages: &[NewMessage],
        progress: Option<(&str, i64)>,
    ) -> Result<usize, StoreError> {
        let n = messages.len();
        let mut ts = Vec::with_capacity(n);
        let mut score = Vec::with_capacity(n);
        let mut text_nul: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
        let mut text_nul_fold: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
        let [mut id, mut origin, mut text, mut verdict, mut domains, mut record, mut analysis]: [Vec<String>; 7] =
            std::array::from_fn(|_| Vec::with_capacity(n));
        let [
            mut event_id,
            mut recipient,
            mut country,
            mut sender,
            mut router,
            mut src_ip,
            mut lang,
            mut brand,
        ]: [Vec<Option<String>>; 8] = std::array::from_fn(|_| Vec::with_capacity(n));
        for m in messages {
            id.push(pg_owned(&m.id));
            event_id.push(pg_opt(m.event_id.as_ref()));
            origin.push(pg_owned(&m.origin));
            ts.push(m.ts_micros);
            recipient.push(pg_opt(m.recipient.as_ref()));
            country.push(pg_opt(m.country.as_ref()));
            sender.push(pg_opt(m.sender.as_ref()));
            router.push(pg_opt(m.router.as_ref()));
            src_ip.push(pg_opt(m.src_ip.as_ref()));
            text.push(pg_owned(&m.text));
            let has_nul = m.text.contains('\0');
            text_nul.push(has_nul.then(|| m.text.as_bytes().to_vec()));
            text_nul_fold.push(has_nul.then(|| m.text.to_ascii_lowercase().into_bytes()));
            lang.push(pg_opt(m.lang.as_ref()));
            verdict.push(pg_owned(&m.verdict));
            score.push(f64::from(m.score));
            brand.push(pg_opt(m.brand.as_ref()));
            let mut ds: Vec<String> = m
                .domains
                .iter()
                .map(|d| pg_owned(&d.to_ascii_lowercase()))
                .filter(|d| !d.is_empty() && d.chars().count() <= MAX_QUERY_VALUE_CHARS)
                .collect();
            ds.sort();
            ds.dedup();
            domains.push(serde_json::to_string(&ds).unwrap_or_else(|_| "[]".into()));
            record.push(pg_owned(&m.record));
            analysis.push(pg_owned(&m.analysis));
        }
        let insert = self.statement(INSERT_MESSAGES)?;
        let err = self.err("insert messages");
        let result = (|| {
            let mut tx = self.client.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MESSAGES_INSERT_LOCK])?;
            let inserted = if messages.is_empty() {
                0
            } else {
                tx.execute(
                    &insert,
                    &[
                        &id,
                        &event_id,
                        &origin,
                        &ts,
                        &recipient,
                        &country,
                        &sender,
                        &router,
                        &src_ip,
                        &text,
                        &text_nul,
                        &text_nul_fold,
                        &lang,
                        &verdict,
                        &score,
                        &brand,
                        &domains,
                        &record,
                        &analysis,
                    ],
                )?
            };
            if let Some((name, value)) = progress {
                tx.execute(SET_CURSOR, &[&pg(name).as_ref(), &value])?;
            }
            tx.commit()?;
            Ok(inserted)
        })();
        result.map(|n| usize::try_from(n).unwrap_or(usize::MAX)).map_err(err)
    }

    fn cursor(&mut self, name: &str) -> Result<i64, StoreError> {
        let values: Values = vec![Box::new(pg_owned(name))];
        let rows = self.read(
            "SELECT value FROM cursors WHERE name = $1",
            &values,
            "read progress cursor",
            |row| row.try_get::<_, i64>(0),
        )?;
        Ok(rows.first().copied().unwrap_or_default())
    }

    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError> {
        let values: Values = vec![Box::new(pg_owned(name)), Box::new(value)];
        let stmt = self.statement(SET_CURSOR)?;
        let refs = Self::refs(&values);
        self.client.execute(&stmt, &refs).map(drop).map_err(self.err("move progress cursor"))
    }

    fn event(&mut self, id: &str) -> Result<Option<Event>, StoreError> {
        let values: Values = vec![Box::new(pg_owned(id))];
        let rows = self.read(
            "SELECT seq, event FROM events WHERE id = $1",
            &values,
            "read event",
            |row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, String>(1)?)),
        )?;
        let path = Path::new(&self.location);
        rows.into_iter().next().map(|(seq, json)| decode::event(path, seq, &json)).transpose()
    }

    fn sms_sends_after(&mut self, after_seq: i64, scan: usize) -> Result<EventTail, StoreError> {
        let values: Values = vec![
            Box::new(EventKind::SmsSend.as_str()),
            Box::new(after_seq),
            Box::new(i64::try_from(scan).unwrap_or(i64::MAX)),
        ];
        let rows = self.read(
            "SELECT seq, CASE WHEN kind = $1 THEN event END FROM events \
             WHERE seq > $2 ORDER BY seq LIMIT $3",
            &values,
            "read event tail",
            |row| Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, Option<String>>(1)?)),
        )?;
        Ok(decode::event_tail(Path::new(&self.location), after_seq, rows))
    }

    fn messages_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let values: Values =
            vec![Box::new(after_seq), Box::new(i64::try_from(limit).unwrap_or(i64::MAX))];
        let sql = format!("{} WHERE m.seq > $1 ORDER BY m.seq LIMIT $2", message_select());
        self.query_messages(&sql, &values)
    }

    fn analysed_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AnalysedRow>, StoreError> {
        let values: Values =
            vec![Box::new(after_seq), Box::new(i64::try_from(limit).unwrap_or(i64::MAX))];
        self.read(
            &format!(
                "SELECT {} FROM messages WHERE seq > $1 ORDER BY seq LIMIT $2",
                decode::ANALYSED_COLUMNS
            ),
            &values,
            "read analysed rows",
            decode::analysed_row,
        )
    }

    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let values: Values = vec![Box::new(pg_owned(id))];
        let sql = format!("{} WHERE m.id = $1", message_select());
        Ok(self.query_messages(&sql, &values)?.pop())
    }

    fn messages(
        &mut self,
        query: &MessageQuery,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let Some((conds, mut values)) = message_conditions(query) else {
            return Ok(Vec::new());
        };
        values.push(Box::new(i64::try_from(limit).unwrap_or(i64::MAX)));
        let sql = format!(
            "{}{} ORDER BY m.ts DESC, m.seq DESC LIMIT ${}",
            message_select(),
            where_clause(&conds),
            values.len()
        );
        self.query_messages(&sql, &values)
    }

    fn count_messages(&mut self, query: &MessageQuery, cap: u64) -> Result<u64, StoreError> {
        let whole = MessageQuery { before: None, ..query.clone() };
        let Some((conds, mut values)) = message_conditions(&whole) else {
            return Ok(0);
        };
        values.push(Box::new(i64::try_from(cap).unwrap_or(i64::MAX)));
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM messages m{} LIMIT ${}) AS capped",
            where_clause(&conds),
            values.len()
        );
        Ok(count(self.scalar(&sql, &values, "count messages")?))
    }

    fn message_facet(
        &mut self,
        facet: MessageFacet,
        verdict: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let column = facet.column();
        let sql = format!(
            "SELECT {column}, count(*) AS n FROM messages WHERE {column} IS NOT NULL \
             AND ($1::text IS NULL OR verdict = $1) GROUP BY {column} ORDER BY n DESC, {column} \
             LIMIT $2"
        );
        let values: Values = vec![
            Box::new(verdict.map(pg_owned)),
            Box::new(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        self.read(&sql, &values, "count facet", decode::facet)
    }

    fn apply_clustering_streamed(
        &mut self,
        changes: &mut dyn Iterator<Item = AssignmentChange>,
        campaigns: &mut dyn Iterator<Item = CampaignRow>,
        aliases: &[CampaignAlias],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let err = self.err("apply clustering update");
        let client = &mut self.client;
        let result = (|| {
            let mut tx = client.transaction()?;
            // in batches: later batches win over earlier ones, as later rows do in one
            loop {
                let batch: Vec<AssignmentChange> =
                    Iterator::take(&mut *changes, PG_BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                let (seqs, assigned, phases) = last_per_seq(&batch);
                tx.execute(ASSIGN, &[&seqs, &assigned, &phases])?;
            }
            let mut kept: Vec<String> = Vec::new();
            loop {
                let batch: Vec<CampaignRow> =
                    Iterator::take(&mut *campaigns, PG_CAMPAIGN_BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                let rows = CampaignColumns::of(&batch);
                tx.execute(
                    "INSERT INTO campaigns (id, first_seen, last_seen, message_count, brand, \
                     summary) SELECT * FROM UNNEST($1::text[], $2::int8[], $3::int8[], \
                     $4::int8[], $5::text[], $6::text[]) \
                     ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, \
                     last_seen = excluded.last_seen, message_count = excluded.message_count, \
                     brand = excluded.brand, summary = excluded.summary \
                     WHERE campaigns.summary != excluded.summary",
                    &[
                        &rows.ids,
                        &rows.first_seen,
                        &rows.last_seen,
                        &rows.message_count,
                        &rows.brand,
                        &rows.summary,
                    ],
                )?;
                kept.extend(rows.ids);
            }
            tx.execute("DELETE FROM campaigns WHERE NOT (id = ANY($1::text[]))", &[&kept])?;
            for a in aliases {
                let (alias, id) = (pg_owned(&a.alias), pg_owned(&a.id));
                tx.execute("UPDATE campaign_aliases SET id = $2 WHERE id = $1", &[&alias, &id])?;
                tx.execute(
                    "INSERT INTO campaign_aliases (alias, id) VALUES ($1, $2) \
                     ON CONFLICT (alias) DO UPDATE SET id = excluded.id",
                    &[&alias, &id],
                )?;
            }
            if let Some((name, value)) = progress {
                tx.execute(SET_CURSOR, &[&pg(name).as_ref(), &value])?;
            }
            tx.commit()
        })();
        result.map_err(err)
    }

    fn apply_assignments(
        &mut self,
        changes: &[AssignmentChange],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let (seqs, assigned, phases) = last_per_seq(changes);
        let err = self.err("apply assignment update");
        let result = (|| {
            let mut tx = self.client.transaction()?;
            if !seqs.is_empty() {
                tx.execute(ASSIGN, &[&seqs, &assigned, &phases])?;
            }
            if let Some((name, value)) = progress {
                tx.execute(SET_CURSOR, &[&pg(name).as_ref(), &value])?;
            }
            tx.commit()
        })();
        result.map_err(err)
    }

    fn campaigns(
        &mut self,
        brand: Option<&str>,
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        // NULL last_seen sorts as the oldest.
        let sql = format!(
            "SELECT {} FROM campaigns \
             WHERE ($1::text IS NULL OR lower(brand) = lower($1::text COLLATE \"C\")) \
             AND ($2::int8 IS NULL OR (coalesce(last_seen, -9223372036854775808), id) \
             < ($2::int8, $3::text COLLATE \"C\")) \
             ORDER BY coalesce(last_seen, -9223372036854775808) DESC, id DESC LIMIT $4",
            decode::CAMPAIGN_COLUMNS
        );
        let values: Values = vec![
            Box::new(brand.map(pg_owned)),
            Box::new(before.map(|b| b.0)),
            Box::new(before.map(|b| pg_owned(b.1))),
            Box::new(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        self.read(&sql, &values, "read campaigns", decode::campaign_row)
    }

    fn campaign(&mut self, id: &str) -> Result<Option<CampaignRow>, StoreError> {
        let values: Values = vec![Box::new(pg_owned(id))];
        let rows = self.read(
            &format!(
                "SELECT {} FROM campaigns WHERE id = coalesce(\
                 (SELECT id FROM campaign_aliases WHERE alias = $1), $1)",
                decode::CAMPAIGN_COLUMNS
            ),
            &values,
            "read campaign",
            decode::campaign_row,
        )?;
        Ok(rows.into_iter().next())
    }

    fn campaign_aliases(&mut self) -> Result<Vec<CampaignAlias>, StoreError> {
        self.read(
            "SELECT alias, id FROM campaign_aliases ORDER BY alias",
            &Vec::new(),
            "read aliases",
            decode::campaign_alias,
        )
    }

    fn count_campaigns(&mut self) -> Result<u64, StoreError> {
        Ok(count(self.scalar("SELECT count(*) FROM campaigns", &Vec::new(), "count campaigns")?))
    }

    fn campaign_ids(&mut self) -> Result<Vec<String>, StoreError> {
        self.read("SELECT id FROM campaigns", &Vec::new(), "read campaign ids", |row| {
            row.try_get(0)
        })
    }

    fn put_sensor_status(&mut self, status: &SensorStatus) -> Result<(), StoreError> {
        let json = serde_json::to_string(status).map_err(|source| StoreError::Encode {
            path: PathBuf::from(&self.location),
            id: status.sensor.clone(),
            source,
        })?;
        let values: Values = vec![
            Box::new(pg_owned(&status.sensor)),
            Box::new(status.updated_at.timestamp_micros()),
            Box::new(json),
        ];
        let stmt = self.statement(
            "INSERT INTO sensors (name, updated, status) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET updated = excluded.updated, \
             status = excluded.status",
        )?;
        let refs = Self::refs(&values);
        self.client.execute(&stmt, &refs).map(drop).map_err(self.err("store sensor status"))
    }

    fn sensor_statuses(&mut self) -> Result<Vec<SensorStatus>, StoreError> {
        // A hub keeps the heartbeats sensors send over NATS in `sensor_heartbeats`
        // (`PostgresFleet`, made by the first hub on this schema): read with this store's
        // own, the newest of each sensor wins.
        let fleet = self.scalar(
            "SELECT CASE WHEN to_regclass('sensor_heartbeats') IS NULL THEN 0 ELSE 1 END::int8",
            &Vec::new(),
            "look for fleet heartbeats",
        )? == 1;
        let sql = if fleet {
            "SELECT DISTINCT ON (name) status FROM \
             (SELECT name COLLATE \"C\" AS name, updated, status FROM sensors \
             UNION ALL SELECT name COLLATE \"C\", updated, status FROM sensor_heartbeats) s \
             ORDER BY name, updated DESC"
        } else {
            "SELECT status FROM sensors ORDER BY name"
        };
        let rows =
            self.read(sql, &Vec::new(), "read sensor statuses", |row| row.try_get::<_, String>(0))?;
        // rows from a newer smishtrap do not decode: skipped
        Ok(rows.iter().filter_map(|json| serde_json::from_str(json).ok()).collect())
    }

    fn active_campaign_ids(
        &mut self,
        since_micros: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let values: Values =
            vec![Box::new(since_micros), Box::new(i64::try_from(limit).unwrap_or(i64::MAX))];
        self.read(
            "SELECT id FROM campaigns WHERE last_seen >= $1 \
             ORDER BY last_seen DESC, id DESC LIMIT $2",
            &values,
            "read active campaigns",
            |row| row.try_get(0),
        )
    }

    fn campaign_hours(
        &mut self,
        campaign: &str,
        since_micros: i64,
    ) -> Result<Vec<HourCount>, StoreError> {
        let values: Values = vec![
            Box::new(pg_owned(campaign)),
            Box::new(since_micros.max(0)),
            Box::new(HOUR_MICROS),
        ];
        self.read(
            "SELECT ts / $3 AS hour, count(*) FROM messages \
             WHERE campaign = $1 AND ts >= $2 GROUP BY hour ORDER BY hour",
            &values,
            "read campaign hours",
            decode::hour_count,
        )
    }

    fn campaign_buckets(
        &mut self,
        campaign: &str,
        from: i64,
        to: i64,
        buckets: usize,
    ) -> Result<Vec<BucketCount>, StoreError> {
        let (buckets, to, span) = decode::bucket_range(from, to, buckets);
        let values: Values = vec![
            Box::new(pg_owned(campaign)),
            Box::new(from),
            Box::new(to),
            Box::new(buckets as f64),
            Box::new(span),
        ];
        self.read(
            "SELECT trunc((ts::float8 - $2::int8::float8) * $4 / $5)::int8 AS b, \
             phase = 'validation' AS v, count(*) FROM messages \
             WHERE campaign = $1 AND ts BETWEEN $2 AND $3 GROUP BY b, v ORDER BY b",
            &values,
            "read campaign buckets",
            |row| decode::bucket_count(row, buckets),
        )
    }

    fn validation_sends(
        &mut self,
        campaign: &str,
        limit: usize,
    ) -> Result<Vec<ValidationSend>, StoreError> {
        let values: Values =
            vec![Box::new(pg_owned(campaign)), Box::new(i64::try_from(limit).unwrap_or(i64::MAX))];
        self.read(
            &format!(
                "SELECT {} FROM messages \
                 WHERE campaign = $1 AND phase = 'validation' ORDER BY ts, seq LIMIT $2",
                decode::VALIDATION_SEND_COLUMNS
            ),
            &values,
            "read validation sends",
            decode::validation_send,
        )
    }

    fn event_messages(
        &mut self,
        event_id: &str,
        limit: usize,
    ) -> Result<Vec<EventMessage>, StoreError> {
        let event_id = pg_owned(event_id);
        let values: Values = vec![
            Box::new(event_id.clone()),
            Box::new(format!("{event_id}#")),
            Box::new(format!("{event_id}$")),
            Box::new(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        self.read(
            "SELECT id, verdict FROM messages WHERE event_id = $1 \
             AND (id = $1 OR (id >= $2 AND id < $3)) ORDER BY id LIMIT $4",
            &values,
            "read event messages",
            decode::event_message,
        )
    }

    /// A session advisory lock per schema and job: PostgreSQL releases it when this
    /// connection closes, however the process ends, and another hub's next call takes it.
    fn lead(&mut self, job: &str) -> Result<bool, StoreError> {
        let key = lock_key(&format!("smishtrap-lead {} {job}", self.location));
        let got: bool = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .and_then(|row| row.try_get(0))
            .map_err(self.err("take the lead"))?;
        if got && self.leading.iter().any(|j| j == job) {
            // session locks stack: keep one
            self.client
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .map_err(self.err("take the lead"))?;
        } else if got {
            self.leading.push(job.to_owned());
        }
        Ok(got)
    }

    fn put_audit_results(&mut self, rows: &[AuditRow]) -> Result<usize, StoreError> {
        // the errors are made before the transaction borrows the client
        let (begin, prepare, store, commit) = (
            self.err("begin audit results"),
            self.err("prepare audit results"),
            self.err("store audit result"),
            self.err("commit audit results"),
        );
        let mut tx = self.client.transaction().map_err(begin)?;
        let stmt = tx
            .prepare(
                "INSERT INTO audit_targets (target, audited, worst, report) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (target) DO UPDATE SET \
                 audited = excluded.audited, worst = excluded.worst, report = excluded.report \
                 WHERE excluded.audited >= audit_targets.audited",
            )
            .map_err(prepare)?;
        let mut written = 0;
        let mut failed = None;
        for r in rows {
            let (target, worst, report) =
                (pg_owned(&r.target), pg_owned(&r.worst), pg_owned(&r.report));
            match tx.execute(&stmt, &[&target, &r.audited, &worst, &report]) {
                Ok(n) => written += n,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            return Err(store(e));
        }
        tx.commit().map_err(commit)?;
        Ok(usize::try_from(written).unwrap_or(usize::MAX))
    }

    fn audit_results(&mut self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let values: Values = vec![Box::new(i64::try_from(limit).unwrap_or(i64::MAX))];
        self.read(
            &format!(
                "SELECT {} FROM audit_targets ORDER BY target LIMIT $1",
                decode::AUDIT_COLUMNS
            ),
            &values,
            "read audit results",
            decode::audit_row,
        )
    }

    fn count_audit_results(&mut self) -> Result<u64, StoreError> {
        Ok(count(self.scalar(
            "SELECT count(*) FROM audit_targets",
            &Vec::new(),
            "count audit results",
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_metacharacters_are_escaped() {
        for (input, expect) in [
            ("abc", "%abc%"),
            ("50%", "%50\\%%"),
            ("a_b", "%a\\_b%"),
            ("c:\\x", "%c:\\\\x%"),
            ("'\"*", "%'\"*%"),
        ] {
            assert_eq!(contains_pattern(input), expect, "{input:?}");
        }
    }

    #[test]
    fn nul_is_replaced_only_when_present() {
        assert!(matches!(pg("plain"), Cow::Borrowed("plain")));
        assert_eq!(pg("a\0b"), "a\u{FFFD}b");
    }
}
