//! Results of `smishtrap audit --data`: the latest audit of each target, so the console can
//! show the fleet. The report is JSON owned by the audit crate (this crate never depends on
//! it); the few columns beside it are what the console sorts and counts by.

use rusqlite::params;

use crate::StoreError;
use crate::decode;
use crate::sqlite::{SqliteStore, sqlite};

/// Schema v4: the latest audit of each target.
pub(crate) const MIGRATION_V4: &str = "
    CREATE TABLE audit_targets (
        target TEXT PRIMARY KEY,
        audited INTEGER NOT NULL,
        worst TEXT NOT NULL,
        report TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_targets_audited ON audit_targets (audited);";

/// The latest audit of one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// As the operator named it (`host`, `host:port` or URL).
    pub target: String,
    /// When the audit of this target started, microseconds since the Unix epoch.
    pub audited: i64,
    /// The worst finding's severity (`info` … `critical`).
    pub worst: String,
    /// The target's report as JSON (never a secret: the audit redacts before storing).
    pub report: String,
}

impl SqliteStore {
    /// Stores the latest audit of each target in one transaction, replacing an older one of
    /// the same target (a result older than the stored one is kept out). Returns how many rows
    /// were written.
    pub fn put_audit_results(&mut self, rows: &[AuditRow]) -> Result<usize, StoreError> {
        let path = self.path().to_owned();
        let tx = self.conn.transaction().map_err(sqlite(&path, "begin audit results"))?;
        let mut written = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO audit_targets (target, audited, worst, report) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (target) DO UPDATE SET \
                     audited = excluded.audited, worst = excluded.worst, report = excluded.report \
                     WHERE excluded.audited >= audit_targets.audited",
                )
                .map_err(sqlite(&path, "prepare audit results"))?;
            for r in rows {
                written += stmt
                    .execute(params![r.target, r.audited, r.worst, r.report])
                    .map_err(sqlite(&path, "store audit result"))?;
            }
        }
        tx.commit().map_err(sqlite(&path, "commit audit results"))?;
        Ok(written)
    }

    /// Up to `limit` audited targets, by target.
    pub fn audit_results(&self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} FROM audit_targets ORDER BY target LIMIT ?1",
                decode::AUDIT_COLUMNS
            ))
            .map_err(sqlite(self.path(), "prepare audit results"))?;
        let rows = stmt
            .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| decode::audit_row(row))
            .map_err(sqlite(self.path(), "read audit results"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read audit results"))
    }

    /// How many targets have a stored audit.
    pub fn count_audit_results(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM audit_targets", [], |row| row.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(sqlite(self.path(), "count audit results"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: &str, audited: i64, worst: &str) -> AuditRow {
        AuditRow {
            target: target.to_owned(),
            audited,
            worst: worst.to_owned(),
            report: format!("{{\"worst\":\"{worst}\"}}"),
        }
    }

    #[test]
    fn the_latest_audit_of_each_target_is_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut store =
            SqliteStore::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.count_audit_results().ok(), Some(0));
        let first = [row("10.0.0.2", 10, "high"), row("10.0.0.1", 10, "info")];
        assert_eq!(store.put_audit_results(&first).ok(), Some(2));
        // a newer audit replaces, an older one does not
        let again = [row("10.0.0.2", 20, "critical"), row("10.0.0.1", 5, "low")];
        assert_eq!(store.put_audit_results(&again).ok(), Some(1));
        let got = store.audit_results(10).unwrap_or_else(|e| panic!("{e}"));
        let summary: Vec<(&str, i64, &str)> =
            got.iter().map(|r| (r.target.as_str(), r.audited, r.worst.as_str())).collect();
        assert_eq!(summary, [("10.0.0.1", 10, "info"), ("10.0.0.2", 20, "critical")]);
        assert_eq!(store.audit_results(1).map(|v| v.len()).ok(), Some(1));
        assert_eq!(store.count_audit_results().ok(), Some(2));
    }
}
