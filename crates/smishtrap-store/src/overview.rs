//! Read-only queries of the console's Overview and campaign page (SQLite): which campaigns
//! are active, their messages per hour, a campaign's messages per time bucket and phase, its
//! validation sends with their source, and the analysed messages of a captured event.
//!
//! Every query walks an index (`campaigns_last_seen`, `messages_campaign_ts`, the unique
//! `id`) and is bounded by its caller's limit.

use rusqlite::params;

use crate::StoreError;
use crate::decode;
use crate::sqlite::{SqliteStore, sqlite};

/// Microseconds in an hour.
const HOUR_MICROS: i64 = 3_600_000_000;

/// Messages of one campaign in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    /// Hours since the Unix epoch (UTC).
    pub hour: i64,
    pub messages: u64,
}

/// Messages of one campaign in one bucket of a time range, by phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    /// 0-based bucket of the range.
    pub bucket: usize,
    pub validation: bool,
    pub messages: u64,
}

/// A validation send of a campaign and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationSend {
    pub message_id: String,
    pub ts_micros: i64,
    pub recipient: Option<String>,
    pub sender: Option<String>,
    pub router: Option<String>,
    pub src_ip: Option<String>,
}

/// An analysed message of a captured event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessage {
    pub id: String,
    pub verdict: String,
}

impl SqliteStore {
    /// Ids of the campaigns last seen at or after `since_micros`, most recently active first.
    pub fn active_campaign_ids(
        &self,
        since_micros: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let sql = "SELECT id FROM campaigns WHERE last_seen >= ?1 \
                   ORDER BY last_seen DESC, id DESC LIMIT ?2";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(sqlite(self.path(), "prepare active campaigns"))?;
        let rows = stmt
            .query_map(params![since_micros, limit as i64], |row| row.get(0))
            .map_err(sqlite(self.path(), "read active campaigns"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read active campaigns"))
    }

    /// The campaign's messages per hour from `since_micros` on (times before the epoch are
    /// not counted), oldest hour first; hours without messages are left out.
    pub fn campaign_hours(
        &self,
        campaign: &str,
        since_micros: i64,
    ) -> Result<Vec<HourCount>, StoreError> {
        let sql = "SELECT ts / ?3 AS hour, count(*) FROM messages \
                   WHERE campaign = ?1 AND ts >= ?2 GROUP BY hour ORDER BY hour";
        let mut stmt =
            self.conn.prepare_cached(sql).map_err(sqlite(self.path(), "prepare campaign hours"))?;
        let rows = stmt
            .query_map(params![campaign, since_micros.max(0), HOUR_MICROS], |row| {
                decode::hour_count(row)
            })
            .map_err(sqlite(self.path(), "read campaign hours"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read campaign hours"))
    }

    /// The campaign's messages from `from` to `to` (microseconds, inclusive) in `buckets`
    /// equal buckets, split by phase (validation or not); empty buckets are left out.
    pub fn campaign_buckets(
        &self,
        campaign: &str,
        from: i64,
        to: i64,
        buckets: usize,
    ) -> Result<Vec<BucketCount>, StoreError> {
        let (buckets, to, span) = decode::bucket_range(from, to, buckets);
        let sql = "SELECT CAST((ts - ?2) * ?4 / ?5 AS INTEGER) AS b, phase = 'validation', \
                   count(*) FROM messages WHERE campaign = ?1 AND ts BETWEEN ?2 AND ?3 \
                   GROUP BY b, phase = 'validation' ORDER BY b";
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(sqlite(self.path(), "prepare campaign buckets"))?;
        let rows = stmt
            .query_map(params![campaign, from, to, buckets as f64, span], |row| {
                decode::bucket_count(row, buckets)
            })
            .map_err(sqlite(self.path(), "read campaign buckets"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read campaign buckets"))
    }

    /// The campaign's validation sends, oldest first.
    pub fn validation_sends(
        &self,
        campaign: &str,
        limit: usize,
    ) -> Result<Vec<ValidationSend>, StoreError> {
        let sql = format!(
            "SELECT {} FROM messages \
             WHERE campaign = ?1 AND phase = 'validation' ORDER BY ts, seq LIMIT ?2",
            decode::VALIDATION_SEND_COLUMNS
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(sqlite(self.path(), "prepare validation sends"))?;
        let rows = stmt
            .query_map(params![campaign, limit as i64], |row| decode::validation_send(row))
            .map_err(sqlite(self.path(), "read validation sends"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read validation sends"))
    }

    /// The analysed messages made of the captured event `event_id` (their ids are the event
    /// id or `<event id>#<n>`, so the unique id index finds them).
    pub fn event_messages(
        &self,
        event_id: &str,
        limit: usize,
    ) -> Result<Vec<EventMessage>, StoreError> {
        let sql = "SELECT id, verdict FROM messages WHERE event_id = ?1 \
                   AND (id = ?1 OR (id >= ?2 AND id < ?3)) ORDER BY id LIMIT ?4";
        let mut stmt =
            self.conn.prepare_cached(sql).map_err(sqlite(self.path(), "prepare event messages"))?;
        let rows = stmt
            .query_map(
                params![event_id, format!("{event_id}#"), format!("{event_id}$"), limit as i64],
                |row| decode::event_message(row),
            )
            .map_err(sqlite(self.path(), "read event messages"))?;
        rows.collect::<Result<_, _>>().map_err(sqlite(self.path(), "read event messages"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AssignmentChange, CampaignRow, NewMessage};

    const H: i64 = HOUR_MICROS;

    fn message(id: &str, event: Option<&str>, ts: i64) -> NewMessage {
        NewMessage {
            id: id.into(),
            event_id: event.map(str::to_owned),
            origin: "sensor".into(),
            ts_micros: ts,
            recipient: Some("+32470000001".into()),
            country: Some("BE".into()),
            sender: None,
            router: Some("r1".into()),
            src_ip: Some("203.0.113.9".into()),
            text: "t".into(),
            lang: None,
            verdict: "smishing".into(),
            score: 0.9,
            brand: None,
            domains: Vec::new(),
            record: "{}".into(),
            analysis: "{}".into(),
        }
    }

    fn campaign(id: &str, first: i64, last: i64) -> CampaignRow {
        CampaignRow {
            id: id.into(),
            first_seen: Some(first),
            last_seen: Some(last),
            message_count: 1,
            brand: None,
            summary: "{}".into(),
        }
    }

    /// A store with campaign `a` (messages at hours 10, 10, 12; the first a validation send)
    /// last seen at hour 12, `b` last seen at hour 3, and an unclustered message of event e9.
    fn seeded() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut store =
            SqliteStore::open(&dir.path().join("s.db")).unwrap_or_else(|e| panic!("{e}"));
        let messages = [
            message("e1", Some("e1"), 10 * H),
            message("e2#0", Some("e2"), 10 * H + 5),
            message("e2#1", Some("e2"), 12 * H + 7),
            message("e20", Some("e20"), 3 * H),
            message("e9", Some("e9"), 12 * H),
        ];
        store.insert_messages(&messages, None).unwrap_or_else(|e| panic!("{e}"));
        let assign = |seq: i64, c: &str, phase: &str| AssignmentChange {
            seq,
            campaign: Some(c.into()),
            phase: Some(phase.into()),
        };
        store
            .apply_clustering(
                &[
                    assign(1, "a", "validation"),
                    assign(2, "a", "wave"),
                    assign(3, "a", "wave"),
                    assign(4, "b", "wave"),
                ],
                &[campaign("a", 10 * H, 12 * H + 7), campaign("b", 3 * H, 3 * H)],
                None,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        (dir, store)
    }

    #[test]
    fn active_campaigns_are_those_seen_since() {
        let (_dir, store) = seeded();
        let check = |since: i64, expect: &[&str]| {
            let got = store.active_campaign_ids(since, 10).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, expect, "since {since}");
        };
        check(0, &["a", "b"]);
        check(4 * H, &["a"]);
        check(13 * H, &[]);
    }

    #[test]
    fn hours_and_buckets_count_a_campaigns_messages() {
        let (_dir, store) = seeded();
        let hours = store.campaign_hours("a", 0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            hours,
            [HourCount { hour: 10, messages: 2 }, HourCount { hour: 12, messages: 1 }]
        );
        assert_eq!(store.campaign_hours("a", 11 * H).unwrap_or_default().len(), 1);
        assert!(store.campaign_hours("none", 0).unwrap_or_default().is_empty());
        // Three hours in three buckets: hour 10 (validation and wave), hour 12 (wave).
        let got = store.campaign_buckets("a", 10 * H, 13 * H - 1, 3).unwrap_or_default();
        let b = |bucket, validation, messages| BucketCount { bucket, validation, messages };
        let mut got = got;
        got.sort_by_key(|c| (c.bucket, c.validation));
        assert_eq!(got, [b(0, false, 1), b(0, true, 1), b(2, false, 1)]);
        // A span of centuries does not overflow.
        let wide = store.campaign_buckets("a", i64::MIN / 2, i64::MAX / 2, 64).unwrap_or_default();
        assert_eq!(wide.iter().map(|c| c.messages).sum::<u64>(), 3);
    }

    #[test]
    fn validation_sends_carry_their_source() {
        let (_dir, store) = seeded();
        let sends = store.validation_sends("a", 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].message_id, "e1");
        assert_eq!(sends[0].src_ip.as_deref(), Some("203.0.113.9"));
        assert!(store.validation_sends("b", 10).unwrap_or_default().is_empty());
    }

    #[test]
    fn an_events_messages_are_found_by_id() {
        let (_dir, store) = seeded();
        let ids = |event: &str| -> Vec<String> {
            store
                .event_messages(event, 10)
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(ids("e2"), ["e2#0", "e2#1"]);
        // `e2` must not find `e20` (same prefix, another event).
        assert_eq!(ids("e20"), ["e20"]);
        assert_eq!(ids("e1"), ["e1"]);
        assert!(ids("nothing").is_empty());
    }
}
