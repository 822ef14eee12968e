//! Retention of a sensor's SQLite store: bounded by size and age, so a sensor never fills
//! its disk while events wait for the hub.
//!
//! Order: events already forwarded (at or before the forward cursor) go first, oldest first,
//! when older than `max_age` or while the store is over `max_bytes`. Events not forwarded
//! yet go only while the store is over `hard_cap_bytes`, oldest first; each one is counted
//! in the [`DROPPED_UNFORWARDED_CURSOR`] counter (the status file and heartbeat report it).
//!
//! Invariant: the newest event row is never deleted. `seq` is the rowid without
//! AUTOINCREMENT, so SQLite gives a new row `max(seq) + 1`; keeping the newest row keeps every
//! new `seq` above every cursor (forward, analysis), which therefore never skip a new event.
//! Size is the store's live pages (`page_count - freelist_count`): deleted rows' pages are
//! reused by new rows, so the file stops growing at the cap without a VACUUM.

use std::time::Duration;

use rusqlite::params;

use crate::sqlite::sqlite;
use crate::{SqliteStore, StoreError};

/// Counter (in the `cursors` table) of unforwarded events deleted past the hard cap.
pub const DROPPED_UNFORWARDED_CURSOR: &str = "retention-dropped-unforwarded";

/// Counter (in the `cursors` table) of forwarded events deleted by retention.
pub const PRUNED_CURSOR: &str = "retention-pruned";

/// Rows deleted per statement: short transactions, so capture never waits long.
const CHUNK: i64 = 512;

/// How much of a sensor's store is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Past this many bytes, forwarded events are deleted, oldest first.
    pub max_bytes: u64,
    /// Past this many bytes, unforwarded events are deleted too (counted). At least
    /// `max_bytes`.
    pub hard_cap_bytes: u64,
    /// Forwarded events older than this are deleted (`None`: no age limit).
    pub max_age: Option<Duration>,
}

impl Default for Retention {
    /// 2 GiB soft, 4 GiB hard, 90 days.
    fn default() -> Self {
        Retention {
            max_bytes: 2 << 30,
            hard_cap_bytes: 4 << 30,
            max_age: Some(Duration::from_secs(90 * 86_400)),
        }
    }
}

/// What one [`SqliteStore::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Forwarded (or, without forwarding, any) events deleted by age or size.
    pub pruned: u64,
    /// Unforwarded events deleted past the hard cap.
    pub dropped_unforwarded: u64,
    /// Live bytes of the store afterwards.
    pub used_bytes: u64,
}

impl SqliteStore {
    /// Bytes of the store's live pages (deleted rows' pages not counted).
    pub fn used_bytes(&self) -> Result<u64, StoreError> {
        let pages = |pragma: &str| -> Result<i64, StoreError> {
            self.conn
                .query_row(&format!("PRAGMA {pragma}"), [], |row| row.get(0))
                .map_err(sqlite(self.path(), "read store size"))
        };
        let live = pages("page_count")?.saturating_sub(pages("freelist_count")?);
        Ok(u64::try_from(live.saturating_mul(pages("page_size")?)).unwrap_or(0))
    }

    /// Applies `policy` (see the module docs). `forward_cursor` is the last forwarded `seq`,
    /// `None` when the sensor does not forward (then every event counts as forwarded).
    /// `now_us`: microseconds since the Unix epoch.
    pub fn prune(
        &mut self,
        policy: &Retention,
        forward_cursor: Option<i64>,
        now_us: i64,
    ) -> Result<PruneReport, StoreError> {
        let mut report = PruneReport::default();
        let newest: Option<i64> = self
            .conn
            .query_row("SELECT max(seq) FROM events", [], |row| row.get(0))
            .map_err(sqlite(self.path(), "read newest event"))?;
        let Some(newest) = newest else {
            report.used_bytes = self.used_bytes()?;
            return Ok(report);
        };
        let below_newest = newest - 1;
        let forwarded = forward_cursor.map_or(below_newest, |c| c.min(below_newest));
        if let Some(age) = policy.max_age {
            let age_us = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cut = now_us.saturating_sub(age_us);
            loop {
                let n = self.delete_oldest(forwarded, Some(cut))?;
                report.pruned += n;
                if n == 0 {
                    break;
                }
            }
        }
        let mut used = self.used_bytes()?;
        while used > policy.max_bytes {
            let n = self.delete_oldest(forwarded, None)?;
            if n == 0 {
                break;
            }
            report.pruned += n;
            used = self.used_bytes()?;
        }
        let hard_cap = policy.hard_cap_bytes.max(policy.max_bytes);
        while used > hard_cap {
            let lost = self.count_between(forwarded, below_newest, CHUNK)?;
            let n = self.delete_oldest(below_newest, None)?;
            if n == 0 {
                break;
            }
            // Forwarded rows are gone by now; whatever this chunk took was not forwarded.
            report.pruned += n - lost.min(n);
            report.dropped_unforwarded += lost.min(n);
            used = self.used_bytes()?;
        }
        if report.pruned > 0 {
            let total = self.cursor(PRUNED_CURSOR)?;
            self.set_cursor(PRUNED_CURSOR, total.saturating_add(to_i64(report.pruned)))?;
        }
        if report.dropped_unforwarded > 0 {
            let total = self.cursor(DROPPED_UNFORWARDED_CURSOR)?;
            let total = total.saturating_add(to_i64(report.dropped_unforwarded));
            self.set_cursor(DROPPED_UNFORWARDED_CURSOR, total)?;
        }
        report.used_bytes = used;
        Ok(report)
    }

    /// Deletes up to [`CHUNK`] of the oldest events with `seq <= up_to` (and `ts < before`).
    fn delete_oldest(&mut self, up_to: i64, before: Option<i64>) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events \
                 WHERE seq <= ?1 AND ts < ?2 ORDER BY seq LIMIT ?3)",
            )
            .and_then(|mut stmt| stmt.execute(params![up_to, before.unwrap_or(i64::MAX), CHUNK]))
            .map_err(sqlite(self.path(), "prune events"))?;
        Ok(n as u64)
    }

    /// How many of the `limit` oldest events up to `up_to` lie after `after`.
    fn count_between(&self, after: i64, up_to: i64, limit: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM (SELECT seq FROM events WHERE seq <= ?2 \
                 ORDER BY seq LIMIT ?3) WHERE seq > ?1",
                params![after, up_to, limit],
                |row| row.get(0),
            )
            .map_err(sqlite(self.path(), "count unforwarded events"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// How many events have a time at or after `ts_us` (microseconds since the epoch).
    pub fn count_since(&self, ts_us: i64) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events WHERE ts >= ?1", [ts_us], |row| row.get(0))
            .map_err(sqlite(self.path(), "count recent events"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The oldest event not forwarded yet (after `cursor`): its time in microseconds.
    pub fn oldest_after(&self, cursor: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT ts FROM events WHERE seq > ?1 ORDER BY seq LIMIT 1",
                [cursor],
                |row| row.get(0),
            )
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(sqlite(self.path(), "read oldest unforwarded event"))
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
