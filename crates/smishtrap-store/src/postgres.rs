//! The PostgreSQL backend (cargo feature `postgres`): the shared store when many sensors
//! report to one place. Same API and conformance suite as SQLite.
//!
//! One store lives in one PostgreSQL schema (`public` unless told otherwise), so several
//! deployments or test runs can share a database. Durability is PostgreSQL's: a committed
//! transaction is flushed to its WAL (`synchronous_commit=on`, the default) before `COMMIT`
//! returns. A batch is one round trip: the columns travel as arrays and `UNNEST` turns them
//! back into rows, in order, so insertion order (`seq`) follows the batch.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};

use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Statement, Transaction};
use smishtrap_bus::{EncodedBatch, Sink, SinkError};
use smishtrap_event::{Event, SmsRecord};

use crate::filter::{Param, conditions};
use crate::pager::{self, PageSource, Pager};
use crate::{EventFilter, EventStore, EventStream, StoreError};

pub(crate) const BACKEND: &str = "postgres";

/// Entry `n` brings a schema from version `n` to `n + 1`. Append only.
pub(crate) const MIGRATIONS: &[&str] = &[
    // v1: see the SQLite v1 migration; `ts` is microseconds since the Unix epoch, UTC.
    "CREATE TABLE events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts BIGINT NOT NULL,
        kind TEXT NOT NULL,
        sensor TEXT NOT NULL,
        persona TEXT NOT NULL,
        src_ip TEXT NOT NULL,
        session TEXT NOT NULL,
        event TEXT NOT NULL
    );
    CREATE INDEX events_ts ON events (ts, seq);
    CREATE INDEX events_kind_ts ON events (kind, ts, seq);
    CREATE INDEX events_src_ip_ts ON events (src_ip, ts, seq);
    CREATE INDEX events_session_ts ON events (session, ts, seq);",
    // v2: what the analysis keeps (see `postgres_analysis.rs` and the SQLite v2/v3
    // migrations). `COLLATE "C"` where SQLite compares bytes (ids, numbers, keyset order).
    // `text` has the database's collation (its case folding serves searches of 3 characters
    // or more, as FTS5 trigrams do on SQLite). PostgreSQL text cannot hold NUL: `text`
    // keeps U+FFFD in its place (searched through the trigram index), `text_nul` the exact UTF-8 and `text_nul_fold` it ASCII-lowercased,
    // only for texts with a NUL. `{trgm_ops}` is the schema-qualified `gin_trgm_ops`.
    r#"CREATE TABLE messages (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL UNIQUE,
        event_id TEXT COLLATE "C",
        origin TEXT NOT NULL,
        ts BIGINT NOT NULL,
        recipient TEXT COLLATE "C",
        country TEXT COLLATE "C",
        sender TEXT COLLATE "C",
        router TEXT,
        src_ip TEXT,
        text TEXT NOT NULL,
        text_nul BYTEA,
        text_nul_fold BYTEA,
        lang TEXT,
        verdict TEXT COLLATE "C" NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        brand TEXT COLLATE "C",
        campaign TEXT COLLATE "C",
        phase TEXT,
        domains TEXT[] COLLATE "C" NOT NULL DEFAULT '{}',
        record TEXT NOT NULL,
        analysis TEXT NOT NULL
    );
    CREATE INDEX messages_ts ON messages (ts, seq);
    CREATE INDEX messages_verdict_ts ON messages (verdict, ts);
    CREATE INDEX messages_brand_ts ON messages (lower(brand), ts);
    CREATE INDEX messages_campaign_ts ON messages (campaign, ts);
    CREATE INDEX messages_country_ts ON messages (country, ts);
    CREATE INDEX messages_recipient ON messages (recipient);
    CREATE INDEX messages_sender ON messages (sender);
    CREATE INDEX messages_event_id ON messages (event_id);
    CREATE INDEX messages_domains ON messages USING GIN (domains);
    CREATE INDEX messages_text ON messages USING GIN (text {trgm_ops});
    CREATE TABLE campaigns (
        id TEXT COLLATE "C" PRIMARY KEY,
        first_seen BIGINT,
        last_seen BIGINT,
        message_count BIGINT NOT NULL,
        brand TEXT COLLATE "C",
        summary TEXT NOT NULL
    );
    CREATE INDEX campaigns_last_seen ON campaigns (last_seen, id);
    CREATE INDEX campaigns_order ON campaigns
        ((coalesce(last_seen, -9223372036854775808)), id);
    CREATE TABLE campaign_aliases (
        alias TEXT COLLATE "C" PRIMARY KEY,
        id TEXT COLLATE "C" NOT NULL
    );
    CREATE INDEX campaign_aliases_id ON campaign_aliases (id);
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
    CREATE TABLE sensors (
        name TEXT COLLATE "C" PRIMARY KEY,
        updated BIGINT NOT NULL,
        status TEXT NOT NULL
    );"#,
    // v3: the latest `smishtrap audit` of each target (as SQLite's v4, `store/audit.rs`).
    r#"CREATE TABLE audit_targets (
        target TEXT COLLATE "C" PRIMARY KEY,
        audited BIGINT NOT NULL,
        worst TEXT NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX audit_targets_audited ON audit_targets (audited);"#,
];

const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Serialises migrations of concurrent openers (any schema; they are rare and short).
const MIGRATION_LOCK: i64 = 0x736d_6973_6874_7270; // "smishtrp"

/// Held by each event insert until it commits (see `insert_rows`).
pub(crate) const EVENTS_INSERT_LOCK: i64 = 0x736d_6973_6576_6e74; // "smisevnt"

const INSERT: &str = "INSERT INTO events (id, ts, kind, sensor, persona, src_ip, session, event)
    SELECT id, ts, kind, sensor, persona, src_ip, session, event
    FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[])
        WITH ORDINALITY AS batch (id, ts, kind, sensor, persona, src_ip, session, event, n)
    ORDER BY n
    ON CONFLICT (id) DO NOTHING";

/// An event store in one schema of a PostgreSQL database.
pub struct PostgresStore {
    pub(crate) client: Client,
    /// `host:port/db schema` for messages; never the password.
    pub(crate) location: String,
    statements: HashMap<String, Statement>,
    /// Single-runner jobs this connection holds (`AnalysisStore::lead`).
    pub(crate) leading: Vec<String>,
    /// This session holds the schema's bulk lock (`postgres_bulk.rs`).
    pub(crate) bulk_lock: bool,
    /// `finish_bulk` leaves deferred indexes to `build_deferred_indexes`.
    pub(crate) hold_indexes: bool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("location", &self.location).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects (`conninfo` as libpq: `host=… user=… dbname=…` or `postgres://…`), creates
    /// the schema if needed and migrates it.
    pub fn open(conninfo: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let mut store = PostgresStore::connect(conninfo, schema)?;
        let quoted = quote_ident(schema);
        store
            .client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {quoted}; SET search_path TO {quoted}"
            ))
            .map_err(store.err("create schema"))?;
        store.migrate()?;
        // indexes an import deferred and did not build (killed, or failed: `postgres_bulk.rs`);
        // a running import (holding the bulk lock) builds them at its own end; best effort,
        // as on SQLite: searches are right without them
        if let Err(err) = store.restore_indexes() {
            tracing::warn!(%err, "could not build the indexes an import deferred (searches stay right, slower)");
        }
        Ok(store)
    }

    /// Connects to an existing store for reading only (every transaction is read-only).
    pub fn open_read_only(conninfo: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let mut store = PostgresStore::connect(conninfo, schema)?;
        store
            .client
            .batch_execute(&format!(
                "SET search_path TO {}; SET default_transaction_read_only = on",
                quote_ident(schema)
            ))
            .map_err(store.err("select schema"))?;
        let found = store.schema_version()?;
        match found {
            None | Some(0) => Err(StoreError::NotFound { path: PathBuf::from(&store.location) }),
            Some(SCHEMA_VERSION) => Ok(store),
            Some(found) if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: PathBuf::from(&store.location),
                found,
                supported: SCHEMA_VERSION,
            }),
            Some(found) => Err(StoreError::OlderSchema {
                path: PathBuf::from(&store.location),
                found,
                supported: SCHEMA_VERSION,
            }),
        }
    }

    fn connect(conninfo: &str, schema: &str) -> Result<PostgresStore, StoreError> {
        let fail = |location: String, operation: &'static str, message: String| {
            StoreError::Backend { backend: BACKEND, location, operation, message }
        };
        let config: Config = conninfo.parse().map_err(|e: postgres::Error| {
            fail("?".into(), "parse connection string", e.to_string())
        })?;
        let location = describe(&config, schema);
        if !valid_ident(schema) {
            return Err(fail(
                location,
                "select schema",
                "schema names are 1 to 63 ASCII letters, digits or _, not starting with a digit"
                    .into(),
            ));
        }
        let client =
            config.connect(NoTls).map_err(|e| fail(location.clone(), "connect", e.to_string()))?;
        Ok(PostgresStore {
            client,
            location,
            statements: HashMap::new(),
            leading: Vec::new(),
            bulk_lock: false,
            hold_indexes: false,
        })
    }

    pub(crate) fn err(
        &self,
        operation: &'static str,
    ) -> impl FnOnce(postgres::Error) -> StoreError + use<> {
        let location = self.location.clone();
        move |e| StoreError::Backend {
            backend: BACKEND,
            location,
            operation,
            message: e.to_string(),
        }
    }

    /// The stored version, `None` when the version table does not exist.
    fn schema_version(&mut self) -> Result<Option<i64>, StoreError> {
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('smishtrap_schema') IS NOT NULL", &[])
            .and_then(|row| row.try_get(0))
            .map_err(self.err("read schema version"))?;
        if !exists {
            return Ok(None);
        }
        self.client
            .query_one("SELECT coalesce(max(version), 0) FROM smishtrap_schema", &[])
            .and_then(|row| row.try_get(0))
            .map(Some)
            .map_err(self.err("read schema version"))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let err = self.err("migrate schema");
        let part =
            Migrations { lock: MIGRATION_LOCK, version_table: "smishtrap_schema", sql: MIGRATIONS };
        let mut trgm_ops = String::new();
        let result = run_migrations(&mut self.client, &self.location, &part, |tx, n, migration| {
            if n == 1 {
                // Trusted extension, one per database: in `public`, so dropping a store's
                // schema never drops another store's index.
                tx.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")?;
                trgm_ops = trgm_ops_of(tx)?;
            }
            Ok(migration.replace("{trgm_ops}", &trgm_ops))
        });
        result.map_err(err)?
    }

    pub(crate) fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(sql).map_err(self.err("prepare query"))?;
        // Filter shapes are few; the bound only guards against a caller looping over many.
        if self.statements.len() >= 64 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Stores the batch in one transaction (one round trip); events whose `id` is already
    /// stored are skipped. Returns how many were new.
    pub fn insert_batch(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        let json = events
            .iter()
            .map(|event| {
                serde_json::to_string(event).map_err(|source| StoreError::Encode {
                    path: PathBuf::from(&self.location),
                    id: event.id.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<String>, StoreError>>()?;
        self.insert_rows(events, &json)
    }

    /// Stores events with their JSON already encoded (`json[i]` encodes `events[i]`).
    fn insert_rows<S: AsRef<str>>(
        &mut self,
        events: &[Event],
        json: &[S],
    ) -> Result<usize, StoreError> {
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len();
        let mut ts = Vec::with_capacity(n);
        let mut src_ips = Vec::with_capacity(n);
        let [mut id, mut kind, mut sensor, mut persona, mut session, mut body]: [Vec<&str>; 6] =
            std::array::from_fn(|_| Vec::with_capacity(n));
        for (event, json) in events.iter().zip(json) {
            ts.push(event.ts.timestamp_micros());
            src_ips.push(event.src_ip.to_string());
            id.push(event.id.as_str());
            kind.push(event.kind.as_str());
            sensor.push(event.sensor.as_str());
            persona.push(event.persona.as_str());
            session.push(event.session.as_str());
            body.push(json.as_ref());
        }
        let src_ip: Vec<&str> = src_ips.iter().map(String::as_str).collect();
        let insert = self.statement(INSERT)?;
        let err = self.err("insert events");
        let result = (|| {
            let mut tx = self.client.transaction()?;
            // Row numbers are taken at insert time: inserts that commit in the order they
            // number rows let a tail by `seq` never skip a row committed late.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&EVENTS_INSERT_LOCK])?;
            let n = tx.execute(
                &insert,
                &[&id, &ts, &kind, &sensor, &persona, &src_ip, &session, &body],
            )?;
            tx.commit()?;
            Ok(n)
        })();
        result.map(|n| usize::try_from(n).unwrap_or(usize::MAX)).map_err(err)
    }

    /// Matching events, oldest first (`ts`, then insertion order), fetched page by page.
    pub fn events(&mut self, filter: &EventFilter) -> Result<PostgresEvents<'_>, StoreError> {
        let (conds, params) = conditions(filter, |n| format!("${n}"));
        let n = params.len();
        let mut sql = String::from("SELECT seq, ts, event FROM events WHERE ");
        for cond in &conds {
            sql.push_str(cond);
            sql.push_str(" AND ");
        }
        sql.push_str(&format!(
            "(ts, seq) > (${}, ${}) ORDER BY ts, seq LIMIT ${}",
            n + 1,
            n + 2,
            n + 3
        ));
        Ok(PostgresEvents(Pager::new(PostgresPage { store: self, sql, params }, filter.limit)))
    }

    /// How many events match (capped by `filter.limit`).
    pub fn count_events(&mut self, filter: &EventFilter) -> Result<u64, StoreError> {
        let (conds, params) = conditions(filter, |n| format!("${n}"));
        let mut sql = String::from("SELECT count(*) FROM events");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let stmt = self.statement(&sql)?;
        let values = sql_values(&params);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        let count: i64 = self
            .client
            .query_one(&stmt, &refs)
            .and_then(|row| row.try_get(0))
            .map_err(self.err("count events"))?;
        let count = u64::try_from(count).unwrap_or(0);
        Ok(filter.limit.map_or(count, |limit| count.min(limit)))
    }

    /// The SMS records of the matching `sms.send` events (see [`EventStore::sms_records`]).
    pub fn sms_records(
        &mut self,
        filter: &EventFilter,
    ) -> Result<impl Iterator<Item = Result<SmsRecord, StoreError>> + '_, StoreError> {
        let events = self.events(&filter.clone().sms_sends())?;
        Ok(crate::sms_records_of(events))
    }
}

/// One part of the PostgreSQL schema and the migrations that build it, in order.
pub(crate) struct Migrations {
    /// Transaction advisory lock taken while migrating (concurrent openers wait).
    pub(crate) lock: i64,
    /// Table that records how many of `sql` ran (a constant identifier, never user input).
    pub(crate) version_table: &'static str,
    pub(crate) sql: &'static [&'static str],
}

/// Runs, in one transaction, the migrations of `part` that its version table does not
/// record: the one migration runner of every part of the schema. `prepare` gets each
/// migration's index and text before it runs and returns the SQL to run. A store newer than
/// this build is refused (the inner error).
pub(crate) fn run_migrations(
    client: &mut Client,
    location: &str,
    part: &Migrations,
    mut prepare: impl FnMut(&mut Transaction<'_>, usize, &str) -> Result<String, postgres::Error>,
) -> Result<Result<(), StoreError>, postgres::Error> {
    let supported = i64::try_from(part.sql.len()).unwrap_or(i64::MAX);
    let table = part.version_table;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&part.lock])?;
    tx.batch_execute(&format!("CREATE TABLE IF NOT EXISTS {table} (version BIGINT NOT NULL)"))?;
    let found: i64 =
        tx.query_one(&format!("SELECT coalesce(max(version), 0) FROM {table}"), &[])?.try_get(0)?;
    if found > supported {
        return Ok(Err(StoreError::NewerSchema {
            path: PathBuf::from(location),
            found,
            supported,
        }));
    }
    for (n, migration) in part.sql.iter().enumerate().skip(usize::try_from(found).unwrap_or(0)) {
        let sql = prepare(&mut tx, n, migration)?;
        tx.batch_execute(&sql)?;
    }
    tx.execute(&format!("DELETE FROM {table}"), &[])?;
    tx.execute(&format!("INSERT INTO {table} (version) VALUES ($1)"), &[&supported])?;
    tx.commit()?;
    Ok(Ok(()))
}

/// The schema-qualified `gin_trgm_ops` of this database (`{trgm_ops}` in the migrations).
pub(crate) fn trgm_ops_of(
    client: &mut impl postgres::GenericClient,
) -> Result<String, postgres::Error> {
    let schema: String = client
        .query_one(
            "SELECT n.nspname::text FROM pg_extension e \
             JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
            &[],
        )?
        .try_get(0)?;
    Ok(format!("{}.gin_trgm_ops", quote_ident(&schema)))
}

fn sql_values(params: &[Param]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Int(v) => Box::new(*v),
                Param::Text(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn valid_ident(name: &str) -> bool {
    let mut bytes = name.bytes();
    (1..=63).contains(&name.len())
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Double-quoted identifier; only ever called on names [`valid_ident`] accepted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn describe(config: &Config, schema: &str) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("postgres");
    format!("postgres://{host}:{port}/{db} (schema {schema})")
}

/// Streams events of a [`PostgresStore`], one page (one query) at a time.
#[derive(Debug)]
pub struct PostgresEvents<'a>(Pager<PostgresPage<'a>>);

pub(crate) struct PostgresPage<'a> {
    store: &'a mut PostgresStore,
    sql: String,
    params: Vec<Param>,
}

impl std::fmt::Debug for PostgresPage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresPage").field("sql", &self.sql).finish_non_exhaustive()
    }
}

impl PageSource for PostgresPage<'_> {
    fn fetch(
        &mut self,
        cursor: (i64, i64),
        want: usize,
        out: &mut VecDeque<pager::Row>,
    ) -> Result<(), StoreError> {
        let stmt = self.store.statement(&self.sql)?;
        let mut values = sql_values(&self.params);
        values.push(Box::new(cursor.0));
        values.push(Box::new(cursor.1));
        values.push(Box::new(want as i64));
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref()).collect();
        let rows = self.store.client.query(&stmt, &refs).map_err(self.store.err("query events"))?;
        for row in rows {
            let decoded: Result<(i64, i64, String), postgres::Error> =
                (|| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))();
            out.push_back(decoded.map_err(self.store.err("read events"))?);
        }
        Ok(())
    }

    fn decode(&self, seq: i64, json: &str) -> Result<Event, StoreError> {
        crate::decode::event(Path::new(&self.store.location), seq, json)
    }
}

impl Iterator for PostgresEvents<'_> {
    type Item = Result<Event, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl EventStore for PostgresStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn insert_batch(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        PostgresStore::insert_batch(self, events)
    }

    fn events(&mut self, filter: &EventFilter) -> Result<EventStream<'_>, StoreError> {
        Ok(Box::new(PostgresStore::events(self, filter)?))
    }

    fn count_events(&mut self, filter: &EventFilter) -> Result<u64, StoreError> {
        PostgresStore::count_events(self, filter)
    }
}

impl Sink for PostgresStore {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
        self.insert_batch(events).map(drop).map_err(|err| SinkError::new(BACKEND, err))
    }

    /// Stores the publisher's JSON as the `event` column; nothing is encoded here.
    fn write_encoded(&mut self, batch: EncodedBatch<'_>) -> Result<(), SinkError> {
        self.insert_rows(batch.events(), batch.json())
            .map(drop)
            .map_err(|err| SinkError::new(BACKEND, err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked_before_use() {
        for (name, ok) in [
            ("public", true),
            ("smishtrap_test_1", true),
            ("_x", true),
            ("1abc", false),
            ("", false),
            ("a\"; DROP SCHEMA public; --", false),
            ("é", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(valid_ident(name), ok, "{name:?}");
        }
    }

    #[test]
    fn location_never_shows_the_password() {
        let config: Config = "host=db.internal port=6543 user=smish password=hunter2 dbname=intel"
            .parse()
            .unwrap_or_default();
        let shown = describe(&config, "s1");
        assert_eq!(shown, "postgres://db.internal:6543/intel (schema s1)");
        assert!(!shown.contains("hunter2"));
    }
}
