//! Reads from the data directory's event store, through `smishtrap-store`'s public API only.
//!
//! Every call is blocking (SQLite); handlers run them with `spawn_blocking`. Each call opens
//! its own read-only connection (cheap next to a page of JSON, and WAL readers never block the
//! sensor's writer). A store that does not exist yet reads as empty.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use smishtrap_event::Event;
use smishtrap_store::{EventFilter, SqliteStore, StoreError};

use crate::WebError;

/// Most events a cursor may step over at one timestamp before giving up (a store would need
/// that many events in one microsecond).
const MAX_SKIP_AT_CURSOR: usize = 100_000;

/// Longest cursor accepted from a client.
const MAX_CURSOR_LEN: usize = 1024;

#[derive(Debug, Clone)]
pub(crate) struct Source {
    db: PathBuf,
}

/// A position in the store's order (`ts`, then insertion order): "after this event".
///
/// The store orders by `(ts, seq)` but only exposes `ts` filters, so the cursor keeps the
/// event's `ts` and `id`; the next page reads from `ts` and steps over the events at that
/// instant up to and including `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) ts_micros: i64,
    pub(crate) id: String,
}

impl Cursor {
    pub(crate) fn after(event: &Event) -> Cursor {
        Cursor { ts_micros: event.ts.timestamp_micros(), id: event.id.clone() }
    }

    /// Opaque to clients: base64url of `1:<ts>:<id>`.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("1:{}:{}", self.ts_micros, self.id))
    }

    pub(crate) fn decode(raw: &str) -> Result<Cursor, WebError> {
        let bad = || WebError::bad("cursor", "not a cursor returned by this API");
        if raw.len() > MAX_CURSOR_LEN {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let rest = text.strip_prefix("1:").ok_or_else(bad)?;
        let (ts, id) = rest.split_once(':').ok_or_else(bad)?;
        let ts_micros = ts.parse().map_err(|_| bad())?;
        Ok(Cursor { ts_micros, id: id.to_owned() })
    }

    fn ts(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.ts_micros)
    }
}

/// One page of events, oldest first, and where the next page starts (if there may be one).
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) events: Vec<Event>,
    pub(crate) next: Option<Cursor>,
}

impl Source {
    pub(crate) fn new(data_dir: &Path) -> Source {
        Source { db: smishtrap_store::db_path(data_dir) }
    }

    /// A read-only connection, or `None` while no sensor has created the store.
    pub(crate) fn open(&self) -> Result<Option<SqliteStore>, WebError> {
        match SqliteStore::open_read_only(&self.db) {
            Ok(store) => Ok(Some(store)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// Up to `limit` events matching `filter` after `cursor`, oldest first.
    pub(crate) fn page(
        &self,
        filter: &EventFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, WebError> {
        let Some(store) = self.open()? else {
            return Ok(Page { events: Vec::new(), next: None });
        };
        let mut filter = filter.clone();
        filter.limit = None;
        if let Some(ts) = cursor.and_then(Cursor::ts) {
            filter.since = Some(filter.since.map_or(ts, |since| since.max(ts)));
        }
        let mut stream = store.events(&filter)?;
        let mut events = Vec::with_capacity(limit.min(1024));
        if let Some(cursor) = cursor {
            skip_to_cursor(&mut stream, cursor, &mut events)?;
        }
        // One more than asked tells whether a next page exists.
        for event in stream {
            let event = event?;
            if events.len() == limit {
                let next = events.last().map(Cursor::after);
                return Ok(Page { events, next });
            }
            events.push(event);
        }
        Ok(Page { events, next: None })
    }

    /// The event with this id. Ids are `<session>-<sequence>` (bound by the sensor), so the
    /// lookup reads that session's events through its index; ids of another shape are not
    /// found.
    // EXTENSION POINT(store): an `EventStore::event(id)` would make this one indexed read.
    pub(crate) fn get(&self, id: &str) -> Result<Option<Event>, WebError> {
        let Some((session, _)) = id.rsplit_once('-') else {
            return Ok(None);
        };
        if session.is_empty() || id.len() > 256 {
            return Ok(None);
        }
        let Some(store) = self.open()? else {
            return Ok(None);
        };
        let filter = EventFilter { session: Some(session.to_owned()), ..Default::default() };
        for event in store.events(&filter)? {
            let event = event?;
            if event.id == id {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }
}

/// Steps over the events at the cursor's instant up to and including the cursor's event;
/// an event at that instant *after* it goes to `out` (it belongs to the page).
fn skip_to_cursor(
    stream: &mut impl Iterator<Item = Result<Event, StoreError>>,
    cursor: &Cursor,
    out: &mut Vec<Event>,
) -> Result<(), WebError> {
    for (skipped, event) in stream.enumerate() {
        let event = event?;
        if event.ts.timestamp_micros() != cursor.ts_micros {
            // Past the instant (the cursor's event must have been before): part of the page.
            out.push(event);
            return Ok(());
        }
        if event.id == cursor.id {
            return Ok(());
        }
        if skipped >= MAX_SKIP_AT_CURSOR {
            return Err(WebError::Internal(format!(
                "more than {MAX_SKIP_AT_CURSOR} events share one timestamp"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor { ts_micros: 1_700_000_000_123_456, id: "abc-1:x".into() };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for junk in ["", "!!", "MTp4", &"A".repeat(2000), "Mjox"] {
            assert!(Cursor::decode(junk).is_err(), "{junk}");
        }
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::Cursor;

    proptest! {
        #[test]
        fn cursors_round_trip(ts_micros in any::<i64>(), id in "\\PC{0,80}") {
            let cursor = Cursor { ts_micros, id };
            prop_assert_eq!(Cursor::decode(&cursor.encode()).ok(), Some(cursor));
        }

        #[test]
        fn any_client_cursor_decodes_or_is_refused(raw in "\\PC{0,200}") {
            let _ = Cursor::decode(&raw);
        }
    }
}
