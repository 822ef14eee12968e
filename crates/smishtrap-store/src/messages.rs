//! Analysed messages, campaigns, progress cursors and sensor heartbeats (SQLite).
//!
//! The store keeps what the analysis decided as plain values plus the JSON the analysis crates
//! own (`record`, `analysis`, campaign `summary`): this crate never depends on them. Indexed
//! columns serve the console's searches; `messages_text` is an FTS5 trigram index, so a text
//! search is a substring search that does not scan every message.
//!
//! Invariant: a clustering write ([`SqliteStore::apply_clustering_streamed`]) holds the
//! store's one write lock about [`WriteChunks::hold`] at a time, so the sensor's events
//! go in while a pass over millions of messages writes; readers see each message with its
//! previous or its new campaign, every assigned id names a stored campaign (or an alias of
//! one), and stale campaigns go and the clustering cursor moves only in the last
//! transaction: a write that stops midway is redone by the next pass, which stores what it
//! would have.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{OptionalExtension, TransactionBehavior, params, params_from_iter};
use smishtrap_event::{Event, EventKind, SensorStatus};

use crate::StoreError;
use crate::bulk::{INSERT_MESSAGE, bind_message, message_domains};
use crate::decode;
use crate::sqlite::{SqliteStore, sqlite};

/// The progress cursor of clustering: every message with `seq` up to it has its campaign
/// assignment (messages after it may still get one).
pub const CLUSTERED_CURSOR: &str = "clustered";

/// The progress cursor of the analysis of captured events: the last `events` row read.
pub const ANALYSED_CURSOR: &str = "analysed-events";

/// Longest search value accepted, in characters; longer ones cannot match anything useful.
pub const MAX_QUERY_VALUE_CHARS: usize = 256;

/// A query field as every backend filters on it: trimmed, `None` when empty, `Err` when
/// longer than [`MAX_QUERY_VALUE_CHARS`] (no stored value is that long: the query matches
/// nothing).
pub(crate) fn query_value(v: &Option<String>) -> Result<Option<String>, ()> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > MAX_QUERY_VALUE_CHARS => Err(()),
        Some(s) => Ok(Some(s.to_owned())),
        None => Ok(None),
    }
}

/// One analysed SMS, as written by the analysis (sensor captures) or an import.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Unique: the record id (`<event id>` or `<event id>#<n>` for captures).
    pub id: String,
    /// The `sms.send` event it came from, for captures.
    pub event_id: Option<String>,
    /// `sensor`, or `import` for files.
    pub origin: String,
    /// When the message was sent, microseconds since the Unix epoch (UTC).
    pub ts_micros: i64,
    /// E.164 when it parsed, else as given.
    pub recipient: Option<String>,
    /// ISO 3166-1 alpha-2 of the recipient.
    pub country: Option<String>,
    pub sender: Option<String>,
    /// Router or `sensor/persona` that sent it.
    pub router: Option<String>,
    pub src_ip: Option<String>,
    pub text: String,
    pub lang: Option<String>,
    /// `smishing`, `spam` or `ham`.
    pub verdict: String,
    pub score: f32,
    pub brand: Option<String>,
    /// Host names and registrable domains of the message's links, lowercase, for search.
    pub domains: Vec<String>,
    /// The input record as JSON (owned by the analysis crates).
    pub record: String,
    /// The analysis as JSON (owned by the analysis crates).
    pub analysis: String,
}

/// A stored message: what was inserted plus its row number and campaign assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Insertion order; stable, used by cursors and tails.
    pub seq: i64,
    pub message: NewMessage,
    pub campaign: Option<String>,
    /// `wave` or `validation`.
    pub phase: Option<String>,
}

/// What re-clustering reads of a stored message: its JSON and current assignment, without
/// the columns only searches need (a restart reads every message).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysedRow {
    pub seq: i64,
    /// The input record as JSON.
    pub record: String,
    /// The analysis as JSON.
    pub analysis: String,
    pub campaign: Option<String>,
    pub phase: Option<String>,
}

/// Which messages to list (all conditions must hold; `None` matches everything).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageQuery {
    /// Substring of the text, case-insensitive.
    pub text: Option<String>,
    /// Prefix of the recipient or sender number (`+32470`).
    pub number: Option<String>,
    /// Exact host name or registrable domain of a link (lowercase).
    pub domain: Option<String>,
    /// Brand canonical name, case-insensitive.
    pub brand: Option<String>,
    pub verdict: Option<String>,
    pub campaign: Option<String>,
    pub country: Option<String>,
    /// Keyset cursor: only messages strictly older than `(ts_micros, seq)`.
    pub before: Option<(i64, i64)>,
}

/// One campaign's summary as the clustering wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    pub id: String,
    /// Microseconds since the Unix epoch.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub message_count: i64,
    pub brand: Option<String>,
    /// The campaign summary as JSON (owned by the analysis crates).
    pub summary: String,
}

/// An old campaign id that now names another campaign (after a merge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignAlias {
    pub alias: String,
    pub id: String,
}

/// Schema v3: aliases of merged campaigns, so an id once published keeps resolving.
pub(crate) const MIGRATION_V3: &str = "
    CREATE TABLE campaign_aliases (
        alias TEXT PRIMARY KEY,
        id TEXT NOT NULL
    ) STRICT;
    CREATE INDEX campaign_aliases_id ON campaign_aliases (id);";

/// Campaign rows staged per transaction by [`SqliteStore::apply_clustering_streamed`].
const STAGE_BATCH: usize = 512;

/// Sets one message's assignment (`seq`, campaign, phase).
const ASSIGN: &str = "UPDATE messages SET campaign = ?2, phase = ?3 WHERE seq = ?1";

/// Campaign rows one statement of a clustering write's summary step stores.
const SUMMARY_BATCH: i64 = 64;

/// How a clustering write ([`SqliteStore::apply_clustering_streamed`]) shares SQLite's one
/// write lock: a transaction commits after `rows` rows or `hold`, whichever comes first (less
/// than `hold` after a transaction whose commit overran it), and the next one starts `gap`
/// later. The first pass over a large unclustered store changes
/// millions of assignments; in one transaction it held the lock for minutes, and the
/// sensor, which answers an attacker only for an event it stored, could store none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteChunks {
    /// Most rows (assignments, aliases, campaign rows) one transaction writes.
    pub rows: usize,
    /// A transaction commits once it has held the lock this long (checked between rows).
    pub hold: Duration,
    /// Pause between two transactions; longer than a waiting connection's poll (1 ms), so
    /// every writer that waits gets the lock in between.
    pub gap: Duration,
}

impl Default for WriteChunks {
    /// 100 ms of lock, 5 ms of pause: a sensor's event waits at most about 0.1 s, and the
    /// write takes about 5% longer than in one transaction.
    fn default() -> WriteChunks {
        WriteChunks {
            rows: 250_000,
            hold: Duration::from_millis(100),
            gap: Duration::from_millis(5),
        }
    }
}

/// A change of one message's campaign assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentChange {
    pub seq: i64,
    pub campaign: Option<String>,
    pub phase: Option<String>,
}

/// Which column [`SqliteStore::message_facet`] counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFacet {
    Country,
    Verdict,
    Brand,
}

/// Schema v2: the tables of this module.
pub(crate) const MIGRATION_V2: &str = "
    CREATE TABLE messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        event_id TEXT,
        origin TEXT NOT NULL,
        ts INTEGER NOT NULL,
        recipient TEXT,
        country TEXT,
        sender TEXT,
        router TEXT,
        src_ip TEXT,
        text TEXT NOT NULL,
        lang TEXT,
        verdict TEXT NOT NULL,
        score REAL NOT NULL,
        brand TEXT COLLATE NOCASE,
        campaign TEXT,
        phase TEXT,
        record TEXT NOT NULL,
        analysis TEXT NOT NULL
    ) STRICT;
    CREATE INDEX messages_ts ON messages (ts);
    CREATE INDEX messages_verdict_ts ON messages (verdict, ts);
    CREATE INDEX messages_brand_ts ON messages (brand, ts);
    CREATE INDEX messages_campaign_ts ON messages (campaign, ts);
    CREATE INDEX messages_country_ts ON messages (country, ts);
    CREATE INDEX messages_recipient ON messages (recipient);
    CREATE INDEX messages_sender ON messages (sender);
    CREATE TABLE message_domains (
        domain TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (domain, seq)
    ) WITHOUT ROWID, STRICT;
    CREATE INDEX message_domains_seq ON message_domains (seq);
    CREATE VIRTUAL TABLE messages_text USING fts5 (
        text, content = 'messages', content_rowid = 'seq', tokenize = 'trigram'
    );
    CREATE TABLE campaigns (
        id TEXT PRIMARY KEY,
        first_seen INTEGER,
        last_seen INTEGER,
        message_count INTEGER NOT NULL,
        brand TEXT,
        summary TEXT NOT NULL
    ) STRICT;
    CREATE INDEX campaigns_last_seen ON campaigns (last_seen, id);
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    CREATE TABLE sensors (
        name TEXT PRIMARY KEY,
        updated INTEGER NOT NULL,
        status TEXT NOT NULL
    ) STRICT;";

/// How many text index segments of one size FTS5 gathers before merging them (its
/// persistent `automerge` option; its default is 4). Each merge rewrites the merged
/// segments, so 16 rewrites the index fewer times: a quarter less CPU per indexed row at
/// 1,000,000 rows, for searches that read more segments (up to a fifth slower on a broad
/// phrase at 1,000,000 rows; see the README's import figures).
const TEXT_INDEX_AUTOMERGE: i64 = 16;

impl SqliteStore {
    /// Sets the text index's [`TEXT_INDEX_AUTOMERGE`] when the store has another value (once
    /// per store: the option is kept in the index).
    pub(crate) fn tune_text_index(&mut self) -> Result<(), StoreError> {
        let current: Option<i64> = self
            .conn
            .query_row("SELECT v FROM messages_text_config WHERE k = 'automerge'", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(sqlite(self.path(), "read text index options"))?;
        if current == Some(TEXT_INDEX_AUTOMERGE) {
            return Ok(());
        }
        self.conn
            .execute(
                "INSERT INTO messages_text (messages_text, rank) VALUES ('automerge', ?1)",
                [TEXT_INDEX_AUTOMERGE],
            )
            .map(drop)
            .map_err(sqlite(self.path(), "set text index options"))
    }

    /// Stores analysed messages in one transaction, skipping ids already stored, and (when
    /// given) moves the named progress cursor in the same transaction, so a crash can neither
    /// lose nor repeat a message. Returns how many were new.
    pub fn insert_messages(
        &mut self,
        messages: &[NewMessage],
        progress: Option<(&str, i64)>,
    ) -> Result<usize, StoreError> {
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin message insert"))?;
        let mut inserted = 0;
        {
            let mut insert = tx
                .prepare_cached(INSERT_MESSAGE)
                .map_err(sqlite(&path, "prepare message insert"))?;
            let mut text = tx
                .prepare_cached("INSERT INTO messages_text (rowid, text) VALUES (?1, ?2)")
                .map_err(sqlite(&path, "prepare text index"))?;
            let mut domain = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO message_domains (domain, seq) VALUES (?1, ?2)",
                )
                .map_err(sqlite(&path, "prepare domain index"))?;
            for m in messages {
                if !bind_message(&mut insert, m).map_err(sqlite(&path, "insert message"))? {
                    continue;
                }
                inserted += 1;
                let seq = tx.last_insert_rowid();
                text.execute(params![seq, m.text]).map_err(sqlite(&path, "index message text"))?;
                for d in message_domains(m) {
                    domain.execute(params![d, seq]).map_err(sqlite(&path, "index domain"))?;
                }
            }
            if let Some((name, value)) = progress {
                set_cursor(&tx, name, value).map_err(sqlite(&path, "move progress cursor"))?;
            }
        }
        tx.commit().map_err(sqlite(&path, "commit messages"))?;
        Ok(inserted)
    }

    /// A progress cursor (0 when never set).
    pub fn cursor(&self, name: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT value FROM cursors WHERE name = ?1", [name], |row| row.get(0))
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(sqlite(self.path(), "read progress cursor"))
    }

    /// Sets a progress cursor outside a message insert.
    pub fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError> {
        set_cursor(&self.conn, name, value).map_err(sqlite(self.path(), "move progress cursor"))
    }

    /// The stored event with this id.
    pub fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let row: Option<(i64, String)> = self
            .conn
            .prepare_cached("SELECT seq, event FROM events WHERE id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([id], |row| Ok((row.get(0)?, row.get(1)?))).optional()
            })
            .map_err(sqlite(self.path(), "read event"))?;
        row.map(|(seq, json)| self.decode_event(seq, &json)).transpose()
    }

    /// The `sms.send` events stored after row `after_seq`, in insertion order, scanning at
    /// most `scan` rows of any kind; also returns the last row scanned (the next `after_seq`).
    /// A tail that follows the writer reads each row once, whatever its kind. A row that does
    /// not decode is returned as its error, so one bad row cannot stall the tail.
    #[allow(clippy::type_complexity, reason = "a page of per-row results and where it ended")]
    pub fn sms_sends_after(
        &self,
        after_seq: i64,
        scan: usize,
    ) -> Result<(Vec<Result<Event, StoreError>>, i64), StoreError> {
        let path = self.path();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, CASE WHEN kind = ?1 THEN event END FROM events \
                 WHERE seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(sqlite(path, "prepare event tail"))?;
        let rows = stmt
            .query_map(params![EventKind::SmsSend.as_str(), after_seq, scan as i64], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(sqlite(path, "read event tail"))?;
        Ok(decode::event_tail(path, after_seq, rows))
    }

    /// Messages stored after row `after_seq`, in insertion order.
    pub fn messages_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let sql = format!("{} WHERE m.seq > ?1 ORDER BY m.seq LIMIT ?2", message_select());
        self.query_messages(&sql, vec![Value::Integer(after_seq), Value::Integer(limit as i64)])
    }

    /// [`AnalysedRow`]s stored after row `after_seq`, in insertion order.
    pub fn analysed_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AnalysedRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM messages WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                decode::ANALYSED_COLUMNS
            ))
            .map_err(sqlite(self.path(), "prepare analysed rows"))?;
        let rows = stmt
            .query_map(params![after_seq, limit as i64], |row| decode::analysed_row(row))
            .map_err(sqlite(self.path(), "read analysed rows"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read analysed rows"))
    }

    /// The message with this id.
    pub fn message(&self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let sql = format!("{} WHERE m.id = ?1", message_select());
        Ok(self.query_messages(&sql, vec![Value::Text(id.to_owned())])?.pop())
    }

    /// Matching messages, newest first (`ts`, then insertion order), at most `limit`.
    pub fn messages(
        &self,
        query: &MessageQuery,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let broad = self.broad_filters(query)?;
        let Some((conds, mut values)) = message_conditions(query, broad) else {
            return Ok(Vec::new());
        };
        // The page is chosen first, then its rows get their domains: a correlated subquery
        // in the sorted select would run for every match before the sort (every stored
        // message while an import has deferred the time index).
        let mut page = "SELECT * FROM messages m".to_owned();
        if !conds.is_empty() {
            page.push_str(" WHERE ");
            page.push_str(&conds.join(" AND "));
        }
        values.push(Value::Integer(limit as i64));
        page.push_str(&format!(" ORDER BY m.ts DESC, m.seq DESC LIMIT ?{}", values.len()));
        let sql = format!(
            "WITH page AS MATERIALIZED ({page}) {} ORDER BY m.ts DESC, m.seq DESC",
            message_select_from("page")
        );
        self.query_messages(&sql, values)
    }

    /// Which index-friendly filters match so many messages that walking the time index and
    /// checking each row finds a page sooner than collecting and sorting every match (a
    /// count capped at [`BROAD_MATCHES`] over the filter's own index decides).
    fn broad_filters(&self, query: &MessageQuery) -> Result<Broad, StoreError> {
        let mut broad = Broad::default();
        let capped = |sql: &str, values: Vec<Value>| -> Result<bool, StoreError> {
            let sql = format!("SELECT count(*) FROM ({sql} LIMIT {})", BROAD_MATCHES + 1);
            let n: i64 = self
                .conn
                .prepare_cached(&sql)
                .and_then(|mut stmt| stmt.query_row(params_from_iter(values), |row| row.get(0)))
                .map_err(sqlite(self.path(), "count matches"))?;
            Ok(n > BROAD_MATCHES)
        };
        let value = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.chars().count() <= MAX_QUERY_VALUE_CHARS)
                .map(str::to_owned)
        };
        if let Some(number) = value(&query.number) {
            broad.number = capped(
                "SELECT 1 FROM messages WHERE recipient >= ?1 AND recipient < ?2 \
                 UNION ALL SELECT 1 FROM messages WHERE sender >= ?1 AND sender < ?2",
                vec![Value::Text(number.clone()), Value::Text(format!("{number}\u{10FFFF}"))],
            )?;
        }
        if let Some(domain) = value(&query.domain) {
            broad.domain = capped(
                "SELECT 1 FROM message_domains WHERE domain = ?1",
                vec![Value::Text(domain.to_ascii_lowercase())],
            )?;
        }
        Ok(broad)
    }

    /// How many messages match, counting at most `cap` (a count over a million rows is
    /// the slow part of a page; "more than N" is enough for a person).
    pub fn count_messages(&self, query: &MessageQuery, cap: u64) -> Result<u64, StoreError> {
        let whole = MessageQuery { before: None, ..query.clone() };
        let Some((conds, mut values)) = message_conditions(&whole, Broad::default()) else {
            return Ok(0);
        };
        let mut sql = String::from("SELECT count(*) FROM (SELECT 1 FROM messages m");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        values.push(Value::Integer(i64::try_from(cap).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT ?{})", values.len()));
        let count: i64 = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.query_row(params_from_iter(values), |row| row.get(0)))
            .map_err(sqlite(self.path(), "count messages"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Message counts per value of `facet` (null values left out), largest first, at most
    /// `limit`, over the messages with `verdict` when given.
    pub fn message_facet(
        &self,
        facet: MessageFacet,
        verdict: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let column = facet.column();
        let sql = format!(
            "SELECT {column}, count(*) AS n FROM messages WHERE {column} IS NOT NULL \
             AND (?1 IS NULL OR verdict = ?1) GROUP BY {column} ORDER BY n DESC, {column} \
             LIMIT ?2"
        );
        let mut stmt =
            self.conn.prepare_cached(&sql).map_err(sqlite(self.path(), "prepare facet"))?;
        let rows = stmt
            .query_map(params![verdict, limit as i64], |row| decode::facet(row))
            .map_err(sqlite(self.path(), "count facet"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "count facet"))
    }

    /// Applies changed assignments and makes the campaign table exactly `campaigns`, moving
    /// the named progress cursor (when given): [`SqliteStore::apply_clustering_streamed`]
    /// without aliases, for callers that hold a concrete store.
    pub fn apply_clustering(
        &mut self,
        changes: &[AssignmentChange],
        campaigns: &[CampaignRow],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        crate::AnalysisStore::apply_clustering(self, changes, campaigns, progress)
    }

    /// How a clustering write takes the write lock from now on (see [`WriteChunks`]).
    pub fn set_write_chunks(&mut self, chunks: WriteChunks) {
        self.write_chunks = chunks;
    }

    /// Applies a pass's changed assignments, makes the campaign table exactly `campaigns`
    /// (rows whose summary did not change are left alone), records `aliases` (old id → the
    /// id that now names its campaign, after a merge; aliases pointing at an id that becomes
    /// an alias are moved on to the new id, so every alias names a stored campaign in one
    /// step) and moves the named progress cursor, taking the changes and campaigns one at a
    /// time so a pass over millions of messages never holds them all.
    ///
    /// The campaigns are staged first in a temporary table (the connection's own temporary
    /// database), which takes no lock on the store. The rest is written in transactions that
    /// each write rows for at most [`WriteChunks::hold`] (then commit), with a pause between
    /// them in which waiting writers (the sensor's events, heartbeats) get the lock:
    /// 1. the aliases;
    /// 2. the changed assignments, in order; a campaign row this pass adds is stored in the
    ///    transaction of its first assigned message;
    /// 3. the campaign summaries;
    /// 4. in the last transaction: stale campaigns deleted (listed before the first
    ///    transaction, see `list_stale_campaigns`) and the cursor moved.
    ///
    /// Invariant: between two transactions readers see each message with its previous or its
    /// new assignment, and every assigned id names a stored campaign (directly or through an
    /// alias); stale campaigns go and the cursor moves only in the last transaction, so a pass
    /// that stops midway (a crash, `kill -9`, an error) is a pass that did not finish: the
    /// next one rewrites what it changed. A campaign row that the pass adds is never stored
    /// before one of its messages names it, so the ids stored midway are those of the
    /// previous pass plus ids that messages name: the next pass over the same messages
    /// carries the same ids (`an_interrupted_clustering_write_converges_on_the_next_pass`).
    pub fn apply_clustering_streamed(
        &mut self,
        changes: &mut dyn Iterator<Item = AssignmentChange>,
        campaigns: &mut dyn Iterator<Item = CampaignRow>,
        aliases: &[CampaignAlias],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        self.stage_campaigns(campaigns)?;
        self.list_stale_campaigns()?;
        let chunks = self.write_chunks;
        let mut write = ClusteringWrite {
            path: &path,
            stage: Stage::Aliases,
            aliases,
            changes,
            stored: HashSet::new(),
            staged_after: 0,
            progress,
        };
        // the longest transaction: its hold, its commit's part of it, the stage it began in
        let mut longest = (Duration::ZERO, Duration::ZERO, Stage::Aliases);
        let mut transactions = 0u64;
        // time left for writing rows: the commit (the chunk's pages into the WAL) holds the
        // lock too, so a transaction that overran leaves the next one less
        let mut work = chunks.hold;
        loop {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite(&path, "begin clustering update"))?;
            let started = Instant::now();
            let stage = write.stage;
            let mut budget = Budget { rows: chunks.rows.max(1), used: 0, until: started + work };
            let done = write.step(&tx, &mut budget)?;
            let committing = Instant::now();
            tx.commit().map_err(sqlite(&path, "commit clustering update"))?;
            let held = started.elapsed();
            if held > longest.0 {
                longest = (held, committing.elapsed(), stage);
            }
            transactions += 1;
            if done {
                break;
            }
            work = if held > chunks.hold {
                work.mul_f64(chunks.hold.as_secs_f64() / held.as_secs_f64())
            } else {
                work.mul_f64(1.25).min(chunks.hold)
            };
            // the lock is free: a waiting writer polls every `BUSY_POLL` and takes it now
            std::thread::sleep(chunks.gap);
        }
        tracing::debug!(
            transactions,
            longest_hold_ms = longest.0.as_secs_f64() * 1000.0,
            longest_commit_ms = longest.1.as_secs_f64() * 1000.0,
            longest_stage = ?longest.2,
            "clustering write"
        );
        // frees the staged summaries' pages
        self.conn
            .execute_batch("DELETE FROM temp.campaign_stage; DELETE FROM temp.campaign_stale;")
            .map_err(sqlite(&path, "clear campaign stage"))?;
        Ok(())
    }

    /// Lists in the temporary table `campaign_stale` the stored campaigns that are not staged:
    /// those the write's last transaction deletes. Read before the write, without the write
    /// lock: found in the last transaction, it read every campaign row with the lock held (at
    /// 10,000,000 stored messages, 107,451 campaigns in 290 MB: a restart's pass held the lock
    /// 335 ms, 119 ms with the list). The same rows: the data directory's lock makes this the
    /// store's one clustering writer, and every campaign row the write stores is staged.
    fn list_stale_campaigns(&mut self) -> Result<(), StoreError> {
        // one statement: a read of the store (no lock in WAL mode) that writes only the
        // temporary database
        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS campaign_stale (id TEXT PRIMARY KEY) STRICT; \
                 DELETE FROM temp.campaign_stale; \
                 INSERT INTO temp.campaign_stale SELECT id FROM main.campaigns \
                 WHERE id NOT IN (SELECT id FROM temp.campaign_stage);",
            )
            .map_err(sqlite(self.path(), "list stale campaigns"))
    }

    /// Stages `campaigns` in the connection's temporary table `campaign_stage`, in batches;
    /// the last row of an id wins.
    fn stage_campaigns(
        &mut self,
        campaigns: &mut dyn Iterator<Item = CampaignRow>,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        self.conn
            .execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS campaign_stage (id TEXT PRIMARY KEY, \
                 first_seen INTEGER, last_seen INTEGER, message_count INTEGER NOT NULL, \
                 brand TEXT, summary TEXT NOT NULL) STRICT; DELETE FROM temp.campaign_stage;",
            )
            .map_err(sqlite(&path, "prepare campaign stage"))?;
        loop {
            let batch: Vec<CampaignRow> = Iterator::take(&mut *campaigns, STAGE_BATCH).collect();
            if batch.is_empty() {
                return Ok(());
            }
            // deferred, and it writes only the temporary database: no lock on the store
            let tx = self.conn.transaction().map_err(sqlite(&path, "begin campaign stage"))?;
            {
                let mut stage = tx
                    .prepare_cached(
                        "INSERT INTO temp.campaign_stage (id, first_seen, last_seen, \
                         message_count, brand, summary) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, \
                         last_seen = excluded.last_seen, message_count = excluded.message_count, \
                         brand = excluded.brand, summary = excluded.summary",
                    )
                    .map_err(sqlite(&path, "prepare campaign stage"))?;
                for c in &batch {
                    stage
                        .execute(params![
                            c.id,
                            c.first_seen,
                            c.last_seen,
                            c.message_count,
                            c.brand,
                            c.summary
                        ])
                        .map_err(sqlite(&path, "stage campaign"))?;
                }
            }
            tx.commit().map_err(sqlite(&path, "commit campaign stage"))?;
        }
    }

    /// Applies changed assignments only (campaign summaries untouched) and moves the named
    /// progress cursor, in one transaction: the quick assignment of new messages to known
    /// campaigns between full clustering passes.
    pub fn apply_assignments(
        &mut self,
        changes: &[AssignmentChange],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let path = self.path().to_owned();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin assignment update"))?;
        {
            write_assignments(&tx, &path, &mut changes.iter().cloned())?;
            if let Some((name, value)) = progress {
                set_cursor(&tx, name, value).map_err(sqlite(&path, "move progress cursor"))?;
            }
        }
        tx.commit().map_err(sqlite(&path, "commit assignment update"))
    }

    /// Campaigns, most recently active first, after the keyset cursor `(last_seen, id)`.
    pub fn campaigns(
        &self,
        brand: Option<&str>,
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        // NULL last_seen sorts as the oldest.
        let sql = format!(
            "SELECT {} FROM campaigns WHERE (?1 IS NULL OR brand = ?1 COLLATE NOCASE) \
             AND (?2 IS NULL OR (coalesce(last_seen, -9223372036854775808), id) < (?2, ?3)) \
             ORDER BY coalesce(last_seen, -9223372036854775808) DESC, id DESC LIMIT ?4",
            decode::CAMPAIGN_COLUMNS
        );
        let mut stmt =
            self.conn.prepare_cached(&sql).map_err(sqlite(self.path(), "prepare campaigns"))?;
        let rows = stmt
            .query_map(
                params![brand, before.map(|b| b.0), before.map(|b| b.1), limit as i64],
                |row| decode::campaign_row(row),
            )
            .map_err(sqlite(self.path(), "read campaigns"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read campaigns"))
    }

    /// The campaign with this id, or the campaign an alias of a merged campaign names.
    pub fn campaign(&self, id: &str) -> Result<Option<CampaignRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {} FROM campaigns WHERE id = coalesce(\
                 (SELECT id FROM campaign_aliases WHERE alias = ?1), ?1)",
                decode::CAMPAIGN_COLUMNS
            ))
            .and_then(|mut stmt| stmt.query_row([id], |row| decode::campaign_row(row)).optional())
            .map_err(sqlite(self.path(), "read campaign"))
    }

    /// Every alias (old id of a merged campaign → the id that names it now), by alias.
    pub fn campaign_aliases(&self) -> Result<Vec<CampaignAlias>, StoreError> {
        self.read_all(
            "SELECT alias, id FROM campaign_aliases ORDER BY alias",
            "read aliases",
            |row| decode::campaign_alias(row),
        )
    }

    /// Every stored campaign, most recently active first (paged reads).
    pub fn all_campaigns(&self) -> Result<Vec<CampaignRow>, StoreError> {
        let mut all: Vec<CampaignRow> = Vec::new();
        loop {
            let before = all.last().map(|c| (c.last_seen.unwrap_or(i64::MIN), c.id.as_str()));
            let page = self.campaigns(None, before, 1000)?;
            let done = page.len() < 1000;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// The id of every stored campaign, in no particular order.
    pub fn campaign_ids(&self) -> Result<Vec<String>, StoreError> {
        self.read_all("SELECT id FROM campaigns", "read campaign ids", |row| row.get(0))
    }

    /// Every row of a query without parameters, decoded.
    fn read_all<T>(
        &self,
        sql: &str,
        operation: &'static str,
        decode: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite(self.path(), operation))?;
        let rows = stmt.query_map([], decode).map_err(sqlite(self.path(), operation))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), operation))
    }

    /// How many campaigns are stored.
    pub fn count_campaigns(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM campaigns", [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sqlite(self.path(), "count campaigns"))
    }

    /// Records a sensor's heartbeat (replacing its previous one).
    pub fn put_sensor_status(&mut self, status: &SensorStatus) -> Result<(), StoreError> {
        let json = serde_json::to_string(status).map_err(|source| StoreError::Encode {
            path: self.path().to_owned(),
            id: status.sensor.clone(),
            source,
        })?;
        self.conn
            .execute(
                "INSERT INTO sensors (name, updated, status) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO UPDATE SET updated = excluded.updated, \
                 status = excluded.status",
                params![status.sensor, status.updated_at.timestamp_micros(), json],
            )
            .map(drop)
            .map_err(sqlite(self.path(), "store sensor status"))
    }

    /// Every sensor's latest heartbeat, by name. Rows that do not decode are skipped (they
    /// come from a newer smishtrap).
    pub fn sensor_statuses(&self) -> Result<Vec<SensorStatus>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT status FROM sensors ORDER BY name")
            .map_err(sqlite(self.path(), "prepare sensor statuses"))?;
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(sqlite(self.path(), "read sensor statuses"))?;
        let mut out = Vec::new();
        for json in rows {
            let json = json.map_err(sqlite(self.path(), "read sensor statuses"))?;
            if let Ok(status) = serde_json::from_str(&json) {
                out.push(status);
            }
        }
        Ok(out)
    }

    fn query_messages(
        &self,
        sql: &str,
        values: Vec<Value>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(sql).map_err(sqlite(self.path(), "prepare messages"))?;
        let rows = stmt
            .query_map(params_from_iter(values), |row| decode::stored_message(row))
            .map_err(sqlite(self.path(), "read messages"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read messages"))
    }
}

/// What one transaction of a clustering write may write: each writes at least one row.
struct Budget {
    rows: usize,
    used: usize,
    until: Instant,
}

impl Budget {
    /// Whether this transaction has written enough.
    fn spent(&self) -> bool {
        self.used >= self.rows || (self.used > 0 && Instant::now() >= self.until)
    }

    fn spend(&mut self, rows: usize) {
        self.used = self.used.saturating_add(rows);
    }
}

/// The steps of a clustering write, in order (see [`SqliteStore::apply_clustering_streamed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Aliases,
    Assignments,
    Summaries,
    Last,
}

/// A clustering write in progress, taken up again by each transaction.
struct ClusteringWrite<'a> {
    path: &'a std::path::Path,
    stage: Stage,
    aliases: &'a [CampaignAlias],
    changes: &'a mut dyn Iterator<Item = AssignmentChange>,
    /// Campaign ids whose staged row is in the store already (or was made sure of).
    stored: HashSet<String>,
    /// Staged campaign rows up to this rowid are stored.
    staged_after: i64,
    progress: Option<(&'a str, i64)>,
}

impl ClusteringWrite<'_> {
    /// Writes in `tx` until the budget runs out; true once the write is complete.
    fn step(
        &mut self,
        tx: &rusqlite::Transaction<'_>,
        budget: &mut Budget,
    ) -> Result<bool, StoreError> {
        let path = self.path;
        if self.stage == Stage::Aliases {
            // all at once, before any assignment: an id that an assignment stops naming
            // resolves from the first transaction on (there are few)
            let mut forward = tx
                .prepare_cached("UPDATE campaign_aliases SET id = ?2 WHERE id = ?1")
                .map_err(sqlite(path, "prepare alias update"))?;
            let mut alias = tx
                .prepare_cached(
                    "INSERT INTO campaign_aliases (alias, id) VALUES (?1, ?2) \
                     ON CONFLICT (alias) DO UPDATE SET id = excluded.id",
                )
                .map_err(sqlite(path, "prepare alias insert"))?;
            for a in self.aliases {
                forward.execute(params![a.alias, a.id]).map_err(sqlite(path, "move aliases"))?;
                alias.execute(params![a.alias, a.id]).map_err(sqlite(path, "store alias"))?;
            }
            budget.spend(self.aliases.len());
            self.stage = Stage::Assignments;
        }
        if self.stage == Stage::Assignments {
            let mut assign =
                tx.prepare_cached(ASSIGN).map_err(sqlite(path, "prepare assignment"))?;
            // a campaign this pass adds is stored with its first message, never before: see
            // the invariant of `apply_clustering_streamed`
            let mut add = tx
                .prepare_cached(
                    "INSERT INTO campaigns (id, first_seen, last_seen, message_count, brand, \
                     summary) SELECT id, first_seen, last_seen, message_count, brand, summary \
                     FROM temp.campaign_stage WHERE id = ?1 ON CONFLICT (id) DO NOTHING",
                )
                .map_err(sqlite(path, "prepare campaign insert"))?;
            loop {
                if budget.spent() {
                    return Ok(false);
                }
                let Some(c) = self.changes.next() else { break };
                budget.spend(1);
                assign
                    .execute(params![c.seq, c.campaign, c.phase])
                    .map_err(sqlite(path, "assign campaign"))?;
                if let Some(id) = c.campaign
                    && !self.stored.contains(&id)
                {
                    add.execute([&id]).map_err(sqlite(path, "store campaign"))?;
                    self.stored.insert(id);
                }
            }
            self.stage = Stage::Summaries;
        }
        if self.stage == Stage::Summaries {
            // `WHERE true`: an upsert from a SELECT needs a WHERE clause to parse
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO campaigns (id, first_seen, last_seen, message_count, brand, \
                     summary) SELECT id, first_seen, last_seen, message_count, brand, summary \
                     FROM temp.campaign_stage WHERE rowid > ?1 AND rowid <= ?2 \
                     ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen, \
                     last_seen = excluded.last_seen, message_count = excluded.message_count, \
                     brand = excluded.brand, summary = excluded.summary \
                     WHERE summary != excluded.summary",
                )
                .map_err(sqlite(path, "prepare campaign update"))?;
            let mut next = tx
                .prepare_cached(
                    "SELECT max(rowid) FROM (SELECT rowid FROM temp.campaign_stage \
                     WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
                )
                .map_err(sqlite(path, "prepare campaign update"))?;
            let batch = SUMMARY_BATCH.min(i64::try_from(budget.rows).unwrap_or(i64::MAX)).max(1);
            loop {
                if budget.spent() {
                    return Ok(false);
                }
                let upto: Option<i64> = next
                    .query_row(params![self.staged_after, batch], |row| row.get(0))
                    .map_err(sqlite(path, "read campaign stage"))?;
                let Some(upto) = upto else { break };
                upsert
                    .execute(params![self.staged_after, upto])
                    .map_err(sqlite(path, "store campaigns"))?;
                budget.spend(usize::try_from(batch).unwrap_or(1));
                self.staged_after = upto;
            }
            self.stage = Stage::Last;
        }
        tx.execute("DELETE FROM campaigns WHERE id IN (SELECT id FROM temp.campaign_stale)", [])
            .map_err(sqlite(path, "delete campaigns"))?;
        if let Some((name, value)) = self.progress {
            set_cursor(tx, name, value).map_err(sqlite(path, "move progress cursor"))?;
        }
        Ok(true)
    }
}

fn write_assignments(
    tx: &rusqlite::Transaction<'_>,
    path: &std::path::Path,
    changes: &mut dyn Iterator<Item = AssignmentChange>,
) -> Result<(), StoreError> {
    let mut assign = tx.prepare_cached(ASSIGN).map_err(sqlite(path, "prepare assignment"))?;
    for c in changes {
        assign
            .execute(params![c.seq, c.campaign, c.phase])
            .map_err(sqlite(path, "assign campaign"))?;
    }
    Ok(())
}

fn set_cursor(conn: &rusqlite::Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO cursors (name, value) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )
    .map(drop)
}

fn message_select() -> String {
    message_select_from("messages")
}

/// [`message_select`] over `source`, a table or named query with the message columns.
fn message_select_from(source: &str) -> String {
    let columns = decode::message_select_list(|c| match c {
        "domains" => "(SELECT group_concat(domain, ' ') FROM message_domains d \
                      WHERE d.seq = m.seq) AS domains"
            .to_owned(),
        // SQLite keeps any text exactly
        "text_nul" => "NULL".to_owned(),
        c => format!("m.{c}"),
    });
    format!("SELECT {columns} FROM {source} m")
}

/// Matches above which a filter counts as broad (see `broad_filters`).
const BROAD_MATCHES: i64 = 5000;

/// Filters to check row by row while walking the time index rather than through their index.
#[derive(Debug, Default, Clone, Copy)]
struct Broad {
    number: bool,
    domain: bool,
}

/// The `WHERE` conditions of a query and their values, or `None` when it cannot match
/// (a value too long to be real).
fn message_conditions(query: &MessageQuery, broad: Broad) -> Option<(Vec<String>, Vec<Value>)> {
    let mut conds = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let bind = |values: &mut Vec<Value>, v: Value| {
        values.push(v);
        format!("?{}", values.len())
    };
    let clean = query_value;
    if let Some(text) = clean(&query.text).ok()? {
        conds.push(text_condition(&text, &mut values));
    }
    if let Some(number) = clean(&query.number).ok()? {
        let lo = bind(&mut values, Value::Text(number.clone()));
        let hi = bind(&mut values, Value::Text(format!("{number}\u{10FFFF}")));
        // `+column` keeps SQLite off the column's index (it walks the time index instead)
        let plus = if broad.number { "+" } else { "" };
        conds.push(format!(
            "(({plus}m.recipient >= {lo} AND {plus}m.recipient < {hi}) OR \
             ({plus}m.sender >= {lo} AND {plus}m.sender < {hi}))"
        ));
    }
    if let Some(domain) = clean(&query.domain).ok()? {
        let p = bind(&mut values, Value::Text(domain.to_ascii_lowercase()));
        conds.push(if broad.domain {
            format!(
                "EXISTS (SELECT 1 FROM message_domains d WHERE d.domain = {p} AND d.seq = m.seq)"
            )
        } else {
            format!("m.seq IN (SELECT seq FROM message_domains WHERE domain = {p})")
        });
    }
    if let Some(brand) = clean(&query.brand).ok()? {
        let p = bind(&mut values, Value::Text(brand));
        conds.push(format!("m.brand = {p}"));
    }
    for (column, value) in
        [("verdict", &query.verdict), ("campaign", &query.campaign), ("country", &query.country)]
    {
        if let Some(v) = clean(value).ok()? {
            let p = bind(&mut values, Value::Text(v));
            conds.push(format!("m.{column} = {p}"));
        }
    }
    if let Some((ts, seq)) = query.before {
        let t = bind(&mut values, Value::Integer(ts));
        let s = bind(&mut values, Value::Integer(seq));
        conds.push(format!("(m.ts, m.seq) < ({t}, {s})"));
    }
    Some((conds, values))
}

/// The condition "the text contains `text`", for any string.
///
/// A quoted FTS5 phrase over trigrams is a case-insensitive substring match, but FTS5 reads
/// its query up to the first NUL and trigrams need 3 characters. A search with a NUL uses
/// its NUL-free runs of 3 characters or more as a phrase prefilter (all must occur) and
/// checks the whole string with `instr`; one shorter than 3 characters (or with no such run)
/// scans with `instr` alone. `instr` and `lower` compare lengths, not C strings, so they are
/// NUL-safe; `lower` folds ASCII only, on both sides, so an exact substring always matches.
fn text_condition(text: &str, values: &mut Vec<Value>) -> String {
    let mut bind = |v: String| {
        values.push(Value::Text(v));
        format!("?{}", values.len())
    };
    let phrase = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let runs: Vec<String> =
        text.split('\0').filter(|run| run.chars().count() >= 3).map(phrase).collect();
    let whole_is_one_run = runs.len() == 1 && !text.contains('\0');
    let mut conds = Vec::new();
    if !runs.is_empty() {
        // FTS5 ANDs space-separated phrases.
        let p = bind(runs.join(" "));
        conds.push(format!(
            "m.seq IN (SELECT rowid FROM messages_text WHERE messages_text MATCH {p})"
        ));
    }
    if !whole_is_one_run {
        let p = bind(text.to_owned());
        conds.push(format!("instr(lower(m.text), lower({p})) > 0"));
    }
    conds.join(" AND ")
}
