//! Event storage: where recorded events live and how they are read back.
//!
//! - [`SqliteStore`] is the default backend: one SQLite file per data directory, in WAL mode so
//!   readers (`smishtrap events`, the analysis) never block the sensor's writer. It implements
//!   [`smishtrap_bus::Sink`], so the bus commits each group of events in one transaction.
//! - `PostgresStore` (cargo feature `postgres`) keeps the same data in a PostgreSQL schema,
//!   the shared store for many sensors.
//! - [`EventStore`] is the narrow, backend-neutral API (insert, ordered filtered streaming,
//!   counting, SMS records). Every backend passes the same conformance suite
//!   (`tests/suite/mod.rs`, instantiated once per backend by `store_test_suite!`).
//! - Both stores also keep what the analysis made of the captures: analysed messages with a
//!   trigram text index, campaign summaries and aliases, progress cursors (so incremental
//!   analysis resumes exactly where it stopped) and sensor heartbeats. [`AnalysisStore`] is
//!   that API, backend-neutral (`analysis.rs`; SQLite in `messages.rs` and `overview.rs`,
//!   PostgreSQL in `postgres_analysis.rs`), checked by the same conformance suite.
//! - `decode.rs`: reading a stored row back into this API's types, one decoder per type for
//!   both backends (their rows implement one small `Columns` trait; the column lists live there).
//! - `audit.rs`: the latest `smishtrap audit` result of each target (the console's Fleet page).
//! - `forward.rs`: the forward spool (committed events after the forward cursor), read by
//!   the sensor's NATS forwarder (`smishtrap-forward`).
//! - [`db_path`], [`events_dir`], [`status_path`] and [`lock_path`] are the only place that knows the
//!   data-directory layout; [`space`] reads the data volume's free space and holds the
//!   watermarks under which the sensor stops writing.
//!
//! Events keep their full JSON (the API boundary) plus a few indexed columns (`ts`, `kind`,
//! `sensor`, `persona`, `src_ip`, `session`). Reads are oldest first (`ts`, then insertion
//! order) and stream page by page (keyset pagination), so memory stays flat on any store size.
//!
//! ```no_run
//! use smishtrap_store::{EventFilter, SqliteStore, db_path};
//! # fn main() -> Result<(), smishtrap_store::StoreError> {
//! let store = SqliteStore::open_read_only(&db_path("/var/lib/smishtrap".as_ref()))?;
//! for event in store.events(&EventFilter::default())? {
//!     let event = event?;
//!     let _ = event.id;
//! }
//! # Ok(()) }
//! ```
//!
//! Invariant: an event acknowledged by [`smishtrap_bus::Sink::write_batch`] survives `kill -9`
//! of the writing process (see the durability note in `sqlite.rs`).
//! Invariant: storing an event twice (same `id`) keeps one copy; a batch is stored whole or not
//! at all.
//! Invariant: this crate never depends on the sensor or the analysis crates.

mod analysis;
mod audit;
mod bulk;
mod decode;
mod error;
mod filter;
mod forward;
mod lock;
mod messages;
mod overview;
mod pager;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
mod postgres_analysis;
#[cfg(feature = "postgres")]
mod postgres_bulk;
#[cfg(feature = "postgres")]
mod postgres_fleet;
pub mod retention;
pub mod space;
mod sqlite;
mod status_file;

use std::path::{Path, PathBuf};

use smishtrap_event::{Event, SmsRecord};

pub use analysis::{AnalysisStore, EventTail};
pub use audit::AuditRow;
pub use bulk::BulkSink;
pub use error::StoreError;
pub use filter::EventFilter;
pub use forward::{FORWARDED_CURSOR, SpooledEvent};
pub use lock::{DataLock, lock_path};
pub use messages::{
    ANALYSED_CURSOR, AnalysedRow, AssignmentChange, CLUSTERED_CURSOR, CampaignAlias, CampaignRow,
    MAX_QUERY_VALUE_CHARS, MessageFacet, MessageQuery, NewMessage, StoredMessage,
};
pub use overview::{BucketCount, EventMessage, HourCount, ValidationSend};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresEvents, PostgresStore};
#[cfg(feature = "postgres")]
pub use postgres_fleet::{MAX_HEARTBEAT_BYTES, PostgresFleet};
pub use sqlite::{SqliteEvents, SqliteStore};
pub use status_file::{STATUS_FILE_BYTES, StatusFile, read_status_file, status_path};

/// The store file inside a data directory (`DIR/smishtrap.db`).
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join("smishtrap.db")
}

/// Where the JSONL copies of the events live inside a data directory (`DIR/events/`).
pub fn events_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("events")
}

/// Events read back from a store, oldest first.
pub type EventStream<'a> = Box<dyn Iterator<Item = Result<Event, StoreError>> + 'a>;

/// What every storage backend offers. Methods take `&mut self` so that backends whose client
/// needs exclusive access (PostgreSQL) fit; [`SqliteStore`] also has `&self` inherent methods.
pub trait EventStore {
    /// Short fixed backend name for messages.
    fn backend(&self) -> &'static str;

    /// Stores the batch in one transaction, skipping events whose `id` is already stored.
    /// Returns how many were new.
    fn insert_batch(&mut self, events: &[Event]) -> Result<usize, StoreError>;

    /// Matching events, oldest first (`ts`, then insertion order), streamed page by page.
    fn events(&mut self, filter: &EventFilter) -> Result<EventStream<'_>, StoreError>;

    /// How many events match (capped by `filter.limit`).
    fn count_events(&mut self, filter: &EventFilter) -> Result<u64, StoreError>;

    /// The SMS records of the matching `sms.send` events (one per recipient), oldest first.
    /// `filter.kinds` is replaced by `sms.send`; `filter.limit` counts events, not records.
    fn sms_records(
        &mut self,
        filter: &EventFilter,
    ) -> Result<Box<dyn Iterator<Item = Result<SmsRecord, StoreError>> + '_>, StoreError> {
        let filter = filter.clone().sms_sends();
        let events = self.events(&filter)?;
        Ok(Box::new(sms_records_of(events)))
    }
}

/// Expands a stream of events into the SMS records of its `sms.send` events.
fn sms_records_of<'a>(
    events: impl Iterator<Item = Result<Event, StoreError>> + 'a,
) -> impl Iterator<Item = Result<SmsRecord, StoreError>> + 'a {
    events.flat_map(|event| match event {
        Ok(event) => SmsRecord::from_event(&event).into_iter().map(Ok).collect::<Vec<_>>(),
        Err(err) => vec![Err(err)],
    })
}
