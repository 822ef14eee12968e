//! The SQLite backend.
//!
//! Durability note: the store runs in WAL mode with `synchronous=NORMAL`. A commit appends the
//! transaction's frames to the `-wal` file with `write(2)` before `COMMIT` returns; it does not
//! `fsync` (that happens at checkpoints). Once `write(2)` returned, the bytes are in the
//! kernel's page cache, which belongs to the OS, not to our process: `kill -9`, a panic or an
//! abort of the sensor cannot lose them, and the next open replays the WAL. Only a kernel crash
//! or power loss can drop the last commits (never corrupting the file), which is the trade-off
//! SQLite documents for WAL+NORMAL and what lets one core commit tens of thousands of events
//! per second. So "kill -9 loses no acknowledged event" holds; [`Sink::flush`] (shutdown)
//! checkpoints, which does `fsync`.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params_from_iter};
use smishtrap_bus::{EncodedBatch, Sink, SinkError};
use smishtrap_event::{Event, SmsRecord};

use crate::filter::{Param, conditions};
use crate::pager::{self, PageSource, Pager};
use crate::{EventFilter, EventStore, EventStream, StoreError};

/// How long a connection waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a connection waiting for the write lock tries again. SQLite's own busy timeout
/// backs off to 100 ms between tries, so a writer that commits in chunks with short pauses
/// (a clustering write, [`crate::WriteChunks::gap`]) would take the lock again before a
/// waiting sensor ever saw it free; a try every millisecond lands in any pause longer.
pub(crate) const BUSY_POLL: Duration = Duration::from_millis(1);

/// How often the background checkpointer copies the WAL into the database file. Each pass
/// `fsync`s what was appended since the previous one; when the writer reaches its backstop it
/// must `fsync` the rest on the commit path, so the less is left, the shorter that stall
/// (`bench/sensor-load.sh`-style run, 64 connections: 200 ms gave 24k req/s with p90/p99
/// 16/48 ms, 5 ms gave 35k req/s with 2.7/10.5 ms). A pass with nothing new to copy only reads
/// the WAL index, so an idle sensor pays a few microseconds per pass. (Slowing down when idle
/// measured worse: the slow passes came back under load.)
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(5);

/// WAL size at which the writer checkpoints by itself: a backstop for when the background
/// checkpointer cannot keep up, so the WAL stays bounded.
const WAL_BACKSTOP_BYTES: i64 = 64 * 1024 * 1024;

/// Page size of new stores. The `id` and `session` indexes take one insert per live session
/// (connection), so a commit dirties about two leaf pages per event at random places; the WAL
/// gets every dirty page whole. Under the sensor's load (batches of one event per connection,
/// `bench/sensor-load.sh`, 64 connections) 16 KiB pages wrote 44 KiB of WAL per event and
/// capped the writer at ~16k events/s; 4 KiB pages write 16 KiB per event, ~30k events/s.
/// (`benches/insert.rs`, 512-event batches from only 16 clients, favours bigger pages.)
const PAGE_SIZE_BYTES: i64 = 4 * 1024;

/// Page cache of the writer connection (measured with `benches/insert.rs`: 2 MiB spills,
/// 16 MiB was the fastest of 2/16/64 MiB).
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Schema migrations; entry `n` brings a store from version `n` to `n + 1`. Append only: a
/// released migration is never edited. The version lives in `PRAGMA user_version`.
const MIGRATIONS: &[&str] = &[
    // v1: events with their full JSON plus the columns filters and ordering use.
    // `seq` (the rowid) is the insertion order; `ts` is microseconds since the Unix epoch, UTC.
    "CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        kind TEXT NOT NULL,
        sensor TEXT NOT NULL,
        persona TEXT NOT NULL,
        src_ip TEXT NOT NULL,
        session TEXT NOT NULL,
        event TEXT NOT NULL
    ) STRICT;
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_kind_ts ON events (kind, ts);
    CREATE INDEX events_src_ip_ts ON events (src_ip, ts);
    CREATE INDEX events_session_ts ON events (session, ts);",
    // v2: analysed messages, campaigns, progress cursors, sensor heartbeats.
    crate::messages::MIGRATION_V2,
    // v3: aliases of merged campaigns.
    crate::messages::MIGRATION_V3,
    // v4: the latest audit of each target (`smishtrap audit --data`).
    crate::audit::MIGRATION_V4,
];

/// The schema version this build writes and reads.
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const INSERT: &str = "INSERT OR IGNORE INTO events
    (id, ts, kind, sensor, persona, src_ip, session, event)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// An event store in one SQLite file (see the module docs for durability).
#[derive(Debug)]
pub struct SqliteStore {
    /// Declared before `conn` so it stops (and closes its connection) first; the writer's
    /// close then checkpoints what is left and removes the WAL.
    checkpointer: Option<Checkpointer>,
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Reused buffer for the text form of `src_ip` on the write path.
    src_ip: String,
    /// The bulk lock (`bulk.rs`) while this connection's import has deferred indexes.
    pub(crate) bulk_lock: Option<std::fs::File>,
    /// How a clustering write takes the write lock (`messages.rs`).
    pub(crate) write_chunks: crate::WriteChunks,
}

impl SqliteStore {
    /// Opens (creating file and parent directories if needed) a store for writing, migrating
    /// its schema to the current version.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_owned(), source })?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path, "open store"))?;
        let mut store = SqliteStore {
            checkpointer: None,
            conn,
            path: path.to_owned(),
            src_ip: String::new(),
            bulk_lock: None,
            write_chunks: crate::WriteChunks::default(),
        };
        store.configure()?;
        // Only takes effect on a new, empty file (before WAL is enabled); kept otherwise.
        store
            .conn
            .pragma_update(None, "page_size", PAGE_SIZE_BYTES)
            .map_err(sqlite(path, "set page size"))?;
        let mode: String = store
            .conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sqlite(path, "enable WAL journal"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend {
                backend: "sqlite",
                location: path.display().to_string(),
                operation: "enable WAL journal",
                message: format!(
                    "journal mode stayed {mode:?} (filesystem without shared memory?)"
                ),
            });
        }
        store
            .conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite(path, "set synchronous mode"))?;
        // Checkpoints `fsync`; done on the commit path they cost more than the inserts. A
        // background thread does them, the writer only when the WAL grew past the backstop.
        let page_size: i64 = store
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(sqlite(path, "read page size"))?;
        store
            .conn
            .pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_BYTES / page_size.max(512))
            .map_err(sqlite(path, "set checkpoint size"))?;
        store
            .conn
            .pragma_update(None, "journal_size_limit", WAL_BACKSTOP_BYTES)
            .map_err(sqlite(path, "set WAL size limit"))?;
        // A batch touches pages of six b-trees; with SQLite's 2 MiB default the cache spills
        // mid-transaction and re-reads index pages from the OS on every batch.
        store
            .conn
            .pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(sqlite(path, "set cache size"))?;
        store.migrate()?;
        // best effort, as below: a store busy past the timeout keeps its option until the
        // next open
        let _ = store.tune_text_index();
        // an import killed before it built its deferred indexes (`bulk.rs`); a running import
        // (holding the bulk lock) builds them at its own end; best effort: searches are right
        // without them (a failure that is not "busy" shows again at the first write)
        if let Err(err) = store.restore_indexes() {
            tracing::warn!(%err, "could not build the indexes an import deferred (searches stay right, slower)");
        }
        store.checkpointer = Some(Checkpointer::start(path)?);
        Ok(store)
    }

    /// Opens an existing store for reading only; safe while a sensor writes to it.
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::NotFound { path: path.to_owned() });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite(path, "open store"))?;
        let store = SqliteStore {
            checkpointer: None,
            conn,
            path: path.to_owned(),
            src_ip: String::new(),
            bulk_lock: None,
            write_chunks: crate::WriteChunks::default(),
        };
        store.configure()?;
        match store.schema_version()? {
            0 => Err(StoreError::NotFound { path: path.to_owned() }),
            SCHEMA_VERSION => Ok(store),
            found if found > SCHEMA_VERSION => Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            }),
            found => Err(StoreError::OlderSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            }),
        }
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn decode_event(&self, seq: i64, json: &str) -> Result<Event, StoreError> {
        crate::decode::event(&self.path, seq, json)
    }

    fn configure(&self) -> Result<(), StoreError> {
        self.conn.busy_handler(Some(busy_wait)).map_err(sqlite(&self.path, "set busy timeout"))?;
        // One cached statement per filter shape (kinds list length x optional filters).
        self.conn.set_prepared_statement_cache_capacity(64);
        Ok(())
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite(&self.path, "read schema version"))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let check = |found: i64, path: &Path| {
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: path.to_owned(),
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Ok(found)
        };
        if check(self.schema_version()?, &self.path)? == SCHEMA_VERSION {
            return Ok(());
        }
        let path = self.path.clone();
        // IMMEDIATE: take the write lock first, then re-read the version, so two processes
        // opening a new store at once migrate it exactly once.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin migration"))?;
        let found: i64 = tx
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite(&path, "read schema version"))?;
        let found = check(found, &path)?;
        for migration in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
            tx.execute_batch(migration).map_err(sqlite(&path, "migrate schema"))?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite(&path, "write schema version"))?;
        tx.commit().map_err(sqlite(&path, "commit migration"))
    }

    /// Stores the batch in one transaction; events whose `id` is already stored are skipped.
    /// Returns how many were new.
    pub fn insert_batch(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        let json = events
            .iter()
            .map(|event| {
                serde_json::to_string(event).map_err(|source| StoreError::Encode {
                    path: self.path.clone(),
                    id: event.id.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<String>, StoreError>>()?;
        self.insert_rows(events.iter().zip(json.iter().map(String::as_str)))
    }

    /// Stores events with their JSON already encoded (the sensor's hot path: the publisher
    /// encoded each event once, the writer thread only inserts).
    fn insert_rows<'e>(
        &mut self,
        rows: impl Iterator<Item = (&'e Event, &'e str)>,
    ) -> Result<usize, StoreError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(path, "begin insert"))?;
        let mut inserted = 0;
        {
            let mut stmt = tx.prepare_cached(INSERT).map_err(sqlite(path, "prepare insert"))?;
            for (event, json) in rows {
                self.src_ip.clear();
                // Writing into a String cannot fail.
                let _ = write!(self.src_ip, "{}", event.src_ip);
                inserted += stmt
                    .execute((
                        &event.id,
                        event.ts.timestamp_micros(),
                        event.kind.as_str(),
                        &event.sensor,
                        &event.persona,
                        self.src_ip.as_str(),
                        &event.session,
                        json,
                    ))
                    .map_err(sqlite(path, "insert event"))?;
            }
        }
        tx.commit().map_err(sqlite(path, "commit events"))?;
        Ok(inserted)
    }

    /// Matching events, oldest first (`ts`, then insertion order), fetched page by page.
    pub fn events(&self, filter: &EventFilter) -> Result<SqliteEvents<'_>, StoreError> {
        let (mut conds, params) = conditions(filter, |n| format!("?{n}"));
        let n = params.len();
        for cond in &mut conds {
            // With several kinds, `(kind, ts)` cannot give ts order and every page would sort
            // all remaining rows; `+kind` makes SQLite walk the ts index and filter instead.
            if cond.starts_with("kind IN") && cond.contains(',') {
                cond.insert(0, '+');
            }
        }
        let mut sql = String::from("SELECT seq, ts, event FROM events WHERE ");
        for cond in &conds {
            sql.push_str(cond);
            sql.push_str(" AND ");
        }
        sql.push_str(&format!(
            "(ts, seq) > (?{}, ?{}) ORDER BY ts, seq LIMIT ?{}",
            n + 1,
            n + 2,
            n + 3
        ));
        Ok(SqliteEvents(Pager::new(SqlitePage { store: self, sql, params }, filter.limit)))
    }

    /// How many events match (capped by `filter.limit`).
    pub fn count_events(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        let (conds, params) = conditions(filter, |n| format!("?{n}"));
        let mut sql = String::from("SELECT count(*) FROM events");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let mut stmt =
            self.conn.prepare_cached(&sql).map_err(sqlite(&self.path, "prepare count"))?;
        let count: i64 = stmt
            .query_row(params_from_iter(params.iter().map(to_sql)), |row| row.get(0))
            .map_err(sqlite(&self.path, "count events"))?;
        let count = u64::try_from(count).unwrap_or(0);
        Ok(filter.limit.map_or(count, |limit| count.min(limit)))
    }

    /// The SMS records of the matching `sms.send` events (see [`EventStore::sms_records`]).
    pub fn sms_records(
        &self,
        filter: &EventFilter,
    ) -> Result<impl Iterator<Item = Result<SmsRecord, StoreError>> + '_, StoreError> {
        let events = self.events(&filter.clone().sms_sends())?;
        Ok(crate::sms_records_of(events))
    }
}

/// The busy handler of every store connection: tries again every [`BUSY_POLL`] until about
/// [`BUSY_TIMEOUT`] has passed (`attempts` is how many tries failed so far).
fn busy_wait(attempts: i32) -> bool {
    let waited = BUSY_POLL.saturating_mul(u32::try_from(attempts).unwrap_or(u32::MAX));
    if waited >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_POLL);
    true
}

/// Copies committed WAL frames into the database file from its own connection and thread,
/// so the `fsync`s of checkpointing never stall the writer's commits.
#[derive(Debug)]
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(sqlite(path, "open checkpointer"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite(path, "set busy timeout"))?;
        // This connection never writes, so its own automatic checkpoints never trigger.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite(path, "set checkpoint size"))?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    // PASSIVE never waits for the writer. A failure here is harmless: the
                    // writer's own backstop checkpoint still bounds the WAL.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|source| StoreError::Backend {
                backend: "sqlite",
                location: path.display().to_string(),
                operation: "start checkpointer",
                message: source.to_string(),
            })?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub(crate) fn sqlite(
    path: &Path,
    operation: &'static str,
) -> impl FnOnce(rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    move |source| StoreError::Sqlite { path, operation, source }
}

fn to_sql(param: &Param) -> rusqlite::types::Value {
    match param {
        Param::Int(v) => rusqlite::types::Value::Integer(*v),
        Param::Text(v) => rusqlite::types::Value::Text(v.clone()),
    }
}

/// Streams events of a [`SqliteStore`], one page (one short read transaction) at a time, so
/// memory stays flat and a long read never pins the writer's WAL.
#[derive(Debug)]
pub struct SqliteEvents<'a>(Pager<SqlitePage<'a>>);

#[derive(Debug)]
pub(crate) struct SqlitePage<'a> {
    store: &'a SqliteStore,
    sql: String,
    params: Vec<Param>,
}

impl PageSource for SqlitePage<'_> {
    fn fetch(
        &mut self,
        cursor: (i64, i64),
        want: usize,
        out: &mut VecDeque<pager::Row>,
    ) -> Result<(), StoreError> {
        let path = &self.store.path;
        let mut stmt =
            self.store.conn.prepare_cached(&self.sql).map_err(sqlite(path, "prepare query"))?;
        let mut values: Vec<rusqlite::types::Value> = self.params.iter().map(to_sql).collect();
        values.push(rusqlite::types::Value::Integer(cursor.0));
        values.push(rusqlite::types::Value::Integer(cursor.1));
        values.push(rusqlite::types::Value::Integer(want as i64));
        let mut rows =
            stmt.query(params_from_iter(values)).map_err(sqlite(path, "query events"))?;
        while let Some(row) = rows.next().map_err(sqlite(path, "read events"))? {
            let seq: i64 = row.get(0).map_err(sqlite(path, "read events"))?;
            let ts: i64 = row.get(1).map_err(sqlite(path, "read events"))?;
            let json: String = row.get(2).map_err(sqlite(path, "read events"))?;
            out.push_back((seq, ts, json));
        }
        Ok(())
    }

    fn decode(&self, seq: i64, json: &str) -> Result<Event, StoreError> {
        self.store.decode_event(seq, json)
    }
}

impl Iterator for SqliteEvents<'_> {
    type Item = Result<Event, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }
}

impl EventStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn insert_batch(&mut self, events: &[Event]) -> Result<usize, StoreError> {
        SqliteStore::insert_batch(self, events)
    }

    fn events(&mut self, filter: &EventFilter) -> Result<EventStream<'_>, StoreError> {
        Ok(Box::new(SqliteStore::events(self, filter)?))
    }

    fn count_events(&mut self, filter: &EventFilter) -> Result<u64, StoreError> {
        SqliteStore::count_events(self, filter)
    }
}

impl Sink for SqliteStore {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
        self.insert_batch(events).map(drop).map_err(sink_error)
    }

    /// Stores the publisher's JSON as the `event` column; nothing is encoded here.
    fn write_encoded(&mut self, batch: EncodedBatch<'_>) -> Result<(), SinkError> {
        self.insert_rows(batch.iter()).map(drop).map_err(sink_error)
    }

    /// Checkpoints the WAL into the main file, which `fsync`s both (survives power loss).
    fn flush(&mut self) -> Result<(), SinkError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(sqlite(&self.path, "checkpoint"))
            .map_err(sink_error)
    }
}

/// A failed commit for the pipeline, telling a full disk apart (the store recovers from it by
/// itself: the failed transaction is rolled back and the next one goes through once there is
/// room, see `tests/disk_full.rs`).
fn sink_error(err: StoreError) -> SinkError {
    if err.is_no_space() {
        SinkError::no_space("sqlite", err)
    } else {
        SinkError::new("sqlite", err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SQLite 3.7.0 to 3.51.2 can corrupt a WAL database when one connection checkpoints
    /// while another writes and checkpoints (the "WAL-reset bug", fixed in 3.51.3): the
    /// writer and its checkpointer thread do exactly that, so an older library must not be
    /// linked (a CI run once read "database disk image is malformed" from a sensor's store).
    #[test]
    fn linked_sqlite_has_the_wal_reset_fix() {
        assert!(
            rusqlite::version_number() >= 3_051_003,
            "SQLite {} has the WAL-reset bug",
            rusqlite::version()
        );
    }

    /// The query plan of the page query for a filter, so a missing index shows up here.
    fn check_plan(filter: EventFilter, expect_index: &str) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let events = store.events(&filter).unwrap_or_else(|e| panic!("{e}"));
        let sql = format!("EXPLAIN QUERY PLAN {}", events.0.source.sql);
        let mut stmt = store.conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}"));
        let n = stmt.parameter_count();
        let values = (0..n).map(|_| rusqlite::types::Value::Integer(0));
        let plan: Vec<String> = stmt
            .query_map(params_from_iter(values), |row| row.get::<_, String>(3))
            .unwrap_or_else(|e| panic!("{e}"))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{e}"));
        let plan = plan.join("; ");
        assert!(plan.contains(&format!("SEARCH events USING INDEX {expect_index}")), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "every page would sort: {plan}");
    }

    #[test]
    fn page_queries_use_an_index() {
        check_plan(EventFilter::default(), "events_ts");
        check_plan(
            EventFilter { src_ip: Some([10, 0, 0, 1].into()), ..Default::default() },
            "events_src_ip_ts",
        );
        check_plan(
            EventFilter { kinds: vec![smishtrap_event::EventKind::SmsSend], ..Default::default() },
            "events_kind_ts",
        );
        check_plan(
            EventFilter {
                kinds: vec![
                    smishtrap_event::EventKind::SmsSend,
                    smishtrap_event::EventKind::AuthLogin,
                ],
                ..Default::default()
            },
            "events_ts",
        );
        check_plan(
            EventFilter { session: Some("c1".into()), ..Default::default() },
            "events_session_ts",
        );
        check_plan(EventFilter { sensor: Some("s".into()), ..Default::default() }, "events_ts");
    }

    #[test]
    fn newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path).unwrap_or_else(|e| panic!("{e}")));
        {
            let conn = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for result in [SqliteStore::open(&path), SqliteStore::open_read_only(&path)] {
            let err = result.map(drop).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(&format!("newer than the {SCHEMA_VERSION}")), "{err}");
            assert!(err.contains("s.db"), "{err}");
        }
    }

    #[test]
    fn a_file_that_is_not_a_store_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("junk.db");
        std::fs::write(&path, b"this is not sqlite, just some text that is long enough to fail")
            .unwrap_or_else(|e| panic!("{e}"));
        let err = SqliteStore::open(&path).map(drop).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("junk.db") && err.contains("not a database"), "{err}");
        let empty = dir.path().join("empty.db");
        std::fs::write(&empty, b"").unwrap_or_else(|e| panic!("{e}"));
        let err = SqliteStore::open_read_only(&empty).map(drop).err().map(|e| e.to_string());
        assert_eq!(err.unwrap_or_default(), format!("no event store at {}", empty.display()));
    }
}
