//! Reading stored rows back into the store API's types, once for every backend.
//!
//! A backend selects the columns listed here, in this order, and implements [`Columns`] for
//! its row type; the decoders below are then the only place that knows which column holds
//! what, so a new column of a read is added here (plus each backend's schema and writes).

use std::path::Path;

use smishtrap_event::Event;

use crate::{
    AnalysedRow, AuditRow, BucketCount, CampaignAlias, CampaignRow, EventMessage, EventTail,
    HourCount, MessageFacet, NewMessage, StoreError, StoredMessage, ValidationSend,
};

/// One result row, read by column index, with the few value types the store keeps.
pub(crate) trait Columns {
    type Error;

    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn real(&self, i: usize) -> Result<f64, Self::Error>;
    fn opt_bool(&self, i: usize) -> Result<Option<bool>, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// A list of words: SQLite has no arrays and selects it space-joined (`group_concat`),
    /// PostgreSQL as `text[]`.
    fn words(&self, i: usize) -> Result<Vec<String>, Self::Error>;
}

/// The columns of a stored message, in the order [`stored_message`] reads them (table
/// `messages`, alias `m`). `text_nul` holds the exact bytes of a text PostgreSQL could not
/// keep as text (it had a NUL); SQLite keeps any text and selects NULL for it.
pub(crate) const MESSAGE_COLUMNS: [&str; 21] = [
    "seq",
    "id",
    "event_id",
    "origin",
    "ts",
    "recipient",
    "country",
    "sender",
    "router",
    "src_ip",
    "text",
    "text_nul",
    "lang",
    "verdict",
    "score",
    "brand",
    "domains",
    "record",
    "analysis",
    "campaign",
    "phase",
];

/// The select list of [`MESSAGE_COLUMNS`], each through `column` (the backend's expression).
pub(crate) fn message_select_list(column: impl Fn(&str) -> String) -> String {
    MESSAGE_COLUMNS.iter().map(|c| column(c)).collect::<Vec<_>>().join(", ")
}

pub(crate) fn stored_message<R: Columns>(row: &R) -> Result<StoredMessage, R::Error> {
    let text = match row.opt_bytes(11)?.map(String::from_utf8) {
        Some(Ok(text)) => text,
        _ => row.text(10)?,
    };
    Ok(StoredMessage {
        seq: row.int(0)?,
        message: NewMessage {
            id: row.text(1)?,
            event_id: row.opt_text(2)?,
            origin: row.text(3)?,
            ts_micros: row.int(4)?,
            recipient: row.opt_text(5)?,
            country: row.opt_text(6)?,
            sender: row.opt_text(7)?,
            router: row.opt_text(8)?,
            src_ip: row.opt_text(9)?,
            text,
            lang: row.opt_text(12)?,
            verdict: row.text(13)?,
            // three decimals: the stored value's float noise is no information
            score: ((row.real(14)? * 1000.0).round() / 1000.0) as f32,
            brand: row.opt_text(15)?,
            domains: row.words(16)?,
            record: row.text(17)?,
            analysis: row.text(18)?,
        },
        campaign: row.opt_text(19)?,
        phase: row.opt_text(20)?,
    })
}

/// The columns [`analysed_row`] reads (table `messages`).
pub(crate) const ANALYSED_COLUMNS: &str = "seq, record, analysis, campaign, phase";

pub(crate) fn analysed_row<R: Columns>(row: &R) -> Result<AnalysedRow, R::Error> {
    Ok(AnalysedRow {
        seq: row.int(0)?,
        record: row.text(1)?,
        analysis: row.text(2)?,
        campaign: row.opt_text(3)?,
        phase: row.opt_text(4)?,
    })
}

/// The columns [`campaign_row`] reads (table `campaigns`).
pub(crate) const CAMPAIGN_COLUMNS: &str =
    "id, first_seen, last_seen, message_count, brand, summary";

pub(crate) fn campaign_row<R: Columns>(row: &R) -> Result<CampaignRow, R::Error> {
    Ok(CampaignRow {
        id: row.text(0)?,
        first_seen: row.opt_int(1)?,
        last_seen: row.opt_int(2)?,
        message_count: row.int(3)?,
        brand: row.opt_text(4)?,
        summary: row.text(5)?,
    })
}

/// Columns `alias, id` (table `campaign_aliases`).
pub(crate) fn campaign_alias<R: Columns>(row: &R) -> Result<CampaignAlias, R::Error> {
    Ok(CampaignAlias { alias: row.text(0)?, id: row.text(1)? })
}

/// The columns [`audit_row`] reads (table `audit_targets`).
pub(crate) const AUDIT_COLUMNS: &str = "target, audited, worst, report";

pub(crate) fn audit_row<R: Columns>(row: &R) -> Result<AuditRow, R::Error> {
    Ok(AuditRow {
        target: row.text(0)?,
        audited: row.int(1)?,
        worst: row.text(2)?,
        report: row.text(3)?,
    })
}

/// The columns [`validation_send`] reads (table `messages`).
pub(crate) const VALIDATION_SEND_COLUMNS: &str = "id, ts, recipient, sender, router, src_ip";

pub(crate) fn validation_send<R: Columns>(row: &R) -> Result<ValidationSend, R::Error> {
    Ok(ValidationSend {
        message_id: row.text(0)?,
        ts_micros: row.int(1)?,
        recipient: row.opt_text(2)?,
        sender: row.opt_text(3)?,
        router: row.opt_text(4)?,
        src_ip: row.opt_text(5)?,
    })
}

/// Columns `id, verdict` (table `messages`).
pub(crate) fn event_message<R: Columns>(row: &R) -> Result<EventMessage, R::Error> {
    Ok(EventMessage { id: row.text(0)?, verdict: row.text(1)? })
}

/// Columns: the hour, its count.
pub(crate) fn hour_count<R: Columns>(row: &R) -> Result<HourCount, R::Error> {
    Ok(HourCount { hour: row.int(0)?, messages: count(row.int(1)?) })
}

/// A bucket query's range: `buckets` clamped to 1..=1024, `to` not before `from`, and the span
/// in floating point, so a span of centuries cannot overflow (bucket = offset * buckets / span).
pub(crate) fn bucket_range(from: i64, to: i64, buckets: usize) -> (usize, i64, f64) {
    let to = to.max(from);
    (buckets.clamp(1, 1024), to, (to as f64 - from as f64) + 1.0)
}

/// Columns: the bucket of `buckets`, whether its phase is validation (NULL: no phase), count.
pub(crate) fn bucket_count<R: Columns>(row: &R, buckets: usize) -> Result<BucketCount, R::Error> {
    Ok(BucketCount {
        bucket: usize::try_from(row.int(0)?).unwrap_or(0).min(buckets.saturating_sub(1)),
        validation: row.opt_bool(1)?.unwrap_or(false),
        messages: count(row.int(2)?),
    })
}

impl MessageFacet {
    /// The `messages` column this facet counts by.
    pub(crate) fn column(self) -> &'static str {
        match self {
            MessageFacet::Country => "country",
            MessageFacet::Verdict => "verdict",
            MessageFacet::Brand => "brand",
        }
    }
}

/// Columns: a facet value, its count.
pub(crate) fn facet<R: Columns>(row: &R) -> Result<(String, u64), R::Error> {
    Ok((row.text(0)?, count(row.int(1)?)))
}

/// A SQL count as a count (never negative).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A stored event's JSON, `path` naming the store in the error.
pub(crate) fn event(path: &Path, seq: i64, json: &str) -> Result<Event, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Decode {
        path: path.to_owned(),
        row: seq,
        source,
    })
}

/// An event tail from its scanned rows, `(seq, event JSON when an sms.send)`, in order.
pub(crate) fn event_tail(
    path: &Path,
    after_seq: i64,
    rows: impl IntoIterator<Item = (i64, Option<String>)>,
) -> EventTail {
    let mut last = after_seq;
    let mut events = Vec::new();
    for (seq, json) in rows {
        last = seq;
        if let Some(json) = json {
            events.push(event(path, seq, &json));
        }
    }
    (events, last)
}

impl Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.get(i)
    }

    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.get(i)
    }

    fn real(&self, i: usize) -> rusqlite::Result<f64> {
        self.get(i)
    }

    fn opt_bool(&self, i: usize) -> rusqlite::Result<Option<bool>> {
        self.get(i)
    }

    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.get(i)
    }

    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.get(i)
    }

    fn opt_bytes(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.get(i)
    }

    fn words(&self, i: usize) -> rusqlite::Result<Vec<String>> {
        let joined: Option<String> = self.get(i)?;
        Ok(joined.map(|w| w.split(' ').map(str::to_owned).collect()).unwrap_or_default())
    }
}

#[cfg(feature = "postgres")]
impl Columns for postgres::Row {
    type Error = postgres::Error;

    fn int(&self, i: usize) -> Result<i64, postgres::Error> {
        self.try_get(i)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, postgres::Error> {
        self.try_get(i)
    }

    fn real(&self, i: usize) -> Result<f64, postgres::Error> {
        self.try_get(i)
    }

    fn opt_bool(&self, i: usize) -> Result<Option<bool>, postgres::Error> {
        self.try_get(i)
    }

    fn text(&self, i: usize) -> Result<String, postgres::Error> {
        self.try_get(i)
    }

    fn opt_text(&self, i: usize) -> Result<Option<String>, postgres::Error> {
        self.try_get(i)
    }

    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, postgres::Error> {
        self.try_get(i)
    }

    fn words(&self, i: usize) -> Result<Vec<String>, postgres::Error> {
        self.try_get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the first row of `sql` on an in-memory SQLite database.
    fn first<T>(sql: &str, decode: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> T {
        let conn = rusqlite::Connection::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        conn.query_row(sql, [], decode).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    #[test]
    fn sqlite_words_are_space_joined_and_null_is_none() {
        let check = |sql: &str, expect: &[&str]| {
            assert_eq!(first(sql, |row| row.words(0)), expect, "{sql}");
        };
        check("SELECT 'a.example b.example'", &["a.example", "b.example"]);
        check("SELECT 'one'", &["one"]);
        check("SELECT NULL", &[]);
    }

    #[test]
    fn exact_text_bytes_win_when_they_are_utf8() {
        let columns = |text: &str, text_nul: &str| {
            // NULL where a column may be; the text columns' values as given
            let mut values: Vec<&str> = MESSAGE_COLUMNS.iter().map(|_| "NULL").collect();
            for (i, v) in [
                (0, "1"),
                (1, "'m1'"),
                (3, "'sensor'"),
                (4, "0"),
                (10, text),
                (11, text_nul),
                (13, "'ham'"),
                (14, "0.12345"),
                (17, "'{}'"),
                (18, "'{}'"),
            ] {
                values[i] = v;
            }
            format!("SELECT {}", values.join(", "))
        };
        let check = |text: &str, text_nul: &str, expect: &str| {
            let sql = columns(text, text_nul);
            let m = first(&sql, |row| stored_message(row));
            assert_eq!(m.message.text, expect, "{sql}");
            assert_eq!(m.message.score, 0.123);
            assert!(m.message.domains.is_empty());
        };
        check("'plain'", "NULL", "plain");
        check("'a\u{FFFD}b'", "X'610062'", "a\0b");
        // bytes that are not UTF-8 cannot be the text: the text column stands
        check("'kept'", "X'FF'", "kept");
    }

    #[test]
    fn buckets_stay_in_range_and_null_phase_is_not_validation() {
        let check = |sql: &str, buckets: usize, expect: BucketCount| {
            assert_eq!(first(sql, |row| bucket_count(row, buckets)), expect, "{sql}");
        };
        let b = |bucket, validation, messages| BucketCount { bucket, validation, messages };
        check("SELECT 2, 1, 5", 4, b(2, true, 5));
        check("SELECT 9, 0, 1", 4, b(3, false, 1));
        check("SELECT -1, NULL, -3", 4, b(0, false, 0));
    }
}
