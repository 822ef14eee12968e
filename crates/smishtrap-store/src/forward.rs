//! The forward spool of a sensor's SQLite store: committed events read back in insertion
//! order after the forward cursor, so a forwarder resumes exactly where it stopped.
//!
//! The cursor is a row of the `cursors` table ([`FORWARDED_CURSOR`]); the forwarder moves it
//! with [`SqliteStore::set_cursor`] only after the hub's transport acknowledged the events.

use rusqlite::params;

use crate::sqlite::sqlite;
use crate::{SqliteStore, StoreError};

/// The progress cursor of forwarding: every event with `seq` up to it was acknowledged by
/// NATS JetStream.
pub const FORWARDED_CURSOR: &str = "forwarded-events";

/// One committed event as stored: its row, id and JSON (forwarded as is, never re-encoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpooledEvent {
    /// Insertion order (the cursor's unit).
    pub seq: i64,
    /// The event id (the transport's deduplication key).
    pub id: String,
    /// The event's JSON.
    pub json: String,
}

impl SqliteStore {
    /// Up to `limit` events stored after row `after_seq`, in insertion order.
    pub fn events_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<SpooledEvent>, StoreError> {
        let path = self.path();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, id, event FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(sqlite(path, "prepare forward spool read"))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt
            .query_map(params![after_seq, limit], |row| {
                Ok(SpooledEvent { seq: row.get(0)?, id: row.get(1)?, json: row.get(2)? })
            })
            .map_err(sqlite(path, "read forward spool"))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sqlite(path, "read forward spool"))
    }

    /// How many events are stored after row `after_seq` (the forward lag).
    pub fn count_after(&self, after_seq: i64) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM events WHERE seq > ?1")
            .and_then(|mut stmt| stmt.query_row([after_seq], |row| row.get(0)))
            .map_err(sqlite(self.path(), "count forward lag"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
