//! Reads from the event store, through `smishtrap-store`'s backend-neutral API only
//! ([`AnalysisStore`]): the data directory's SQLite file, or any store a [`StoreOpener`]
//! opens (the hub's PostgreSQL).
//!
//! Every call is blocking; handlers run them with `spawn_blocking`. Each call opens its own
//! read-only SQLite connection (cheap next to a page of JSON, and WAL readers never block the
//! sensor's writer); a [`StoreOpener`]'s connections (PostgreSQL: a TCP connection, login and
//! schema check each) are kept in a small pool instead, a connection going back only after a
//! call that did not fail. A store that does not exist yet reads as empty.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use smishtrap_event::Event;
use smishtrap_store::{
    AnalysisStore, AuditRow, BucketCount, CampaignRow, EventFilter, EventMessage, HourCount,
    MessageQuery, SqliteStore, StoreError, StoredMessage, ValidationSend,
};

use crate::WebError;

/// Most events a cursor may step over at one timestamp before giving up (a store would need
/// that many events in one microsecond).
const MAX_SKIP_AT_CURSOR: usize = 100_000;

/// Longest cursor: a kind letter, a 19-digit signed number, a dot and a 512-byte id in hex
/// (`openapi.json` gives the same bound and the exact grammar of each kind).
pub(crate) const MAX_CURSOR_LEN: usize = 1 + 20 + 1 + 2 * MAX_ID_LEN;

/// One read connection to a store, whatever its backend.
pub type Store = Box<dyn AnalysisStore + Send>;

type Open = dyn Fn() -> Result<Option<Store>, StoreError> + Send + Sync;

/// Idle connections a [`StoreOpener`] keeps for the next call; more concurrent calls open
/// their own and close them afterwards.
pub(crate) const POOL_IDLE: usize = 4;

/// Opens a read connection to a store other than the data directory's SQLite file (the
/// hub's PostgreSQL); `Ok(None)` while the store does not exist yet. Clones share one pool
/// of up to [`POOL_IDLE`] idle connections.
#[derive(Clone)]
pub struct StoreOpener {
    open: Arc<Open>,
    idle: Arc<Mutex<Vec<Store>>>,
}

impl StoreOpener {
    pub fn new(
        open: impl Fn() -> Result<Option<Store>, StoreError> + Send + Sync + 'static,
    ) -> StoreOpener {
        StoreOpener { open: Arc::new(open), idle: Arc::new(Mutex::new(Vec::new())) }
    }

    /// An idle pooled connection, or a new one.
    fn lease(&self) -> Result<Option<Lease>, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let store = match pooled {
            Some(store) => store,
            None => match (self.open)()? {
                Some(store) => store,
                None => return Ok(None),
            },
        };
        Ok(Some(Lease { store: Some(store), pool: Some(self.idle.clone()), keep: false }))
    }

    /// Idle connections in the pool now.
    pub fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl std::fmt::Debug for StoreOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreOpener")
    }
}

/// A read connection for one call: back to its pool on drop only after [`Lease::kept`] (a
/// call that failed may have left the connection broken, so it is closed instead).
pub(crate) struct Lease {
    store: Option<Store>,
    pool: Option<Arc<Mutex<Vec<Store>>>>,
    keep: bool,
}

impl Lease {
    /// The call succeeded with `value`: the connection may serve the next one.
    fn kept<T>(&mut self, value: T) -> Result<T, WebError> {
        self.keep = true;
        Ok(value)
    }
}

impl std::ops::Deref for Lease {
    type Target = dyn AnalysisStore + Send;

    fn deref(&self) -> &Self::Target {
        #[allow(clippy::expect_used, reason = "taken only in drop")]
        self.store.as_deref().expect("leased store")
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Self::Target {
        #[allow(clippy::expect_used, reason = "taken only in drop")]
        self.store.as_deref_mut().expect("leased store")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let (true, Some(pool), Some(store)) = (self.keep, &self.pool, self.store.take()) {
            let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL_IDLE {
                idle.push(store);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Source {
    db: PathBuf,
    /// Replaces the SQLite file when given.
    opener: Option<StoreOpener>,
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

    /// Opaque to clients: `e<ts>.<id in hex>`.
    pub(crate) fn encode(&self) -> String {
        format!("e{}.{}", self.ts_micros, hex::encode(&self.id))
    }

    pub(crate) fn decode(raw: &str) -> Result<Cursor, WebError> {
        let (ts_micros, id) = decode_cursor(raw, 'e')?;
        Ok(Cursor { ts_micros, id: hex_id(id)? })
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
    pub(crate) fn new(data_dir: &Path, opener: Option<StoreOpener>) -> Source {
        Source { db: smishtrap_store::db_path(data_dir), opener }
    }

    /// A read-only connection, or `None` while no sensor has created the store.
    pub(crate) fn open(&self) -> Result<Option<Store>, WebError> {
        if let Some(opener) = &self.opener {
            return Ok((opener.open)()?);
        }
        match SqliteStore::open_read_only(&self.db) {
            Ok(store) => Ok(Some(Box::new(store))),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// A read-only connection for one call: pooled for a [`StoreOpener`], else [`Self::open`].
    fn lease(&self) -> Result<Option<Lease>, WebError> {
        if let Some(opener) = &self.opener {
            return Ok(opener.lease()?);
        }
        Ok(self.open()?.map(|store| Lease { store: Some(store), pool: None, keep: false }))
    }

    /// Up to `limit` events matching `filter` after `cursor`, oldest first.
    pub(crate) fn page(
        &self,
        filter: &EventFilter,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page, WebError> {
        let Some(mut store) = self.lease()? else {
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
        let mut next = None;
        for event in stream {
            let event = event?;
            if events.len() == limit {
                next = events.last().map(Cursor::after);
                break;
            }
            events.push(event);
        }
        store.kept(Page { events, next })
    }

    /// The event with this id (one indexed read).
    pub(crate) fn get(&self, id: &str) -> Result<Option<Event>, WebError> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let Some(mut store) = self.lease()? else {
            return Ok(None);
        };
        let event = store.event(id)?;
        store.kept(event)
    }

    /// Targets with a stored audit, and up to `limit` of them (by target).
    pub(crate) fn fleet(&self, limit: usize) -> Result<(u64, Vec<AuditRow>), WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok((0, Vec::new()));
        };
        let fleet = (store.count_audit_results()?, store.audit_results(limit)?);
        store.kept(fleet)
    }

    /// Brings an existing store to the current schema with one writer open, so a store made by
    /// an older smishtrap reads instead of failing; a store that does not exist yet stays
    /// absent (and reads as empty).
    pub(crate) fn migrate(&self) -> Result<(), WebError> {
        // another store's owner migrates it (the hub opens PostgreSQL for writing first)
        if self.opener.is_none() && self.db.is_file() {
            drop(SqliteStore::open(&self.db)?);
        }
        Ok(())
    }

    /// Up to `limit` messages matching `query` after `cursor`, newest first, and (when
    /// `count_cap` is given) how many match in all, counted up to that cap.
    pub(crate) fn messages(
        &self,
        query: &MessageQuery,
        cursor: Option<&MessageCursor>,
        limit: usize,
        count_cap: Option<u64>,
    ) -> Result<MessagePage, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(MessagePage {
                messages: Vec::new(),
                next: None,
                total: count_cap.map(|_| 0),
            });
        };
        let mut query = query.clone();
        query.before = cursor.map(|c| (c.ts_micros, c.seq));
        // One more than asked tells whether a next page exists.
        let mut messages = store.messages(&query, limit + 1)?;
        let next = if messages.len() > limit {
            messages.truncate(limit);
            messages.last().map(|m| MessageCursor { ts_micros: m.message.ts_micros, seq: m.seq })
        } else {
            None
        };
        let total = count_cap.map(|cap| store.count_messages(&query, cap)).transpose()?;
        store.kept(MessagePage { messages, next, total })
    }

    /// The message with this id.
    pub(crate) fn message(&self, id: &str) -> Result<Option<StoredMessage>, WebError> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let Some(mut store) = self.lease()? else {
            return Ok(None);
        };
        let message = store.message(id)?;
        store.kept(message)
    }

    /// Up to `limit` campaigns (of `brand`, when given) after `cursor`, most recently active
    /// first.
    pub(crate) fn campaigns(
        &self,
        brand: Option<&str>,
        cursor: Option<&CampaignCursor>,
        limit: usize,
    ) -> Result<CampaignPage, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(CampaignPage { campaigns: Vec::new(), next: None });
        };
        let before = cursor.map(|c| (c.last_seen, c.id.as_str()));
        let mut campaigns = store.campaigns(brand, before, limit + 1)?;
        let next = if campaigns.len() > limit {
            campaigns.truncate(limit);
            campaigns.last().map(CampaignCursor::after)
        } else {
            None
        };
        store.kept(CampaignPage { campaigns, next })
    }

    /// The campaign with this id.
    pub(crate) fn campaign(&self, id: &str) -> Result<Option<CampaignRow>, WebError> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let Some(mut store) = self.lease()? else {
            return Ok(None);
        };
        let campaign = store.campaign(id)?;
        store.kept(campaign)
    }

    /// Every stored campaign, most recently active first, read a page at a time; refuses
    /// more than [`MAX_EXPORT_CAMPAIGNS`] or [`MAX_EXPORT_SUMMARY_BYTES`] of summaries (the
    /// export is built in memory; one that large belongs to `smishtrap export`).
    pub(crate) fn all_campaigns(&self) -> Result<Vec<CampaignRow>, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(Vec::new());
        };
        let mut all: Vec<CampaignRow> = Vec::new();
        let mut bytes = 0usize;
        loop {
            let before = all.last().map(|c| (c.last_seen.unwrap_or(i64::MIN), c.id.as_str()));
            let page = store.campaigns(None, before, 1000)?;
            let done = page.len() < 1000;
            bytes += page.iter().map(|c| c.summary.len()).sum::<usize>();
            all.extend(page);
            if all.len() > MAX_EXPORT_CAMPAIGNS || bytes > MAX_EXPORT_SUMMARY_BYTES {
                return Err(WebError::bad(
                    "format",
                    format!(
                        "more than {MAX_EXPORT_CAMPAIGNS} campaigns or {} MiB of summaries: \
                         export them with `smishtrap export`",
                        MAX_EXPORT_SUMMARY_BYTES >> 20
                    ),
                ));
            }
            if done {
                return store.kept(all);
            }
        }
    }
}

impl Source {
    /// Campaigns last seen at or after `since` (microseconds), most recently active first,
    /// each with its messages per hour since `since`.
    pub(crate) fn active_campaigns(
        &self,
        since: i64,
        limit: usize,
    ) -> Result<Vec<(CampaignRow, Vec<HourCount>)>, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in store.active_campaign_ids(since, limit)? {
            // A campaign re-clustered away between the two reads is simply left out.
            if let Some(row) = store.campaign(&id)? {
                let hours = store.campaign_hours(&id, since)?;
                out.push((row, hours));
            }
        }
        store.kept(out)
    }

    /// The campaign's messages per bucket of each `(from, to)` range (microseconds).
    pub(crate) fn campaign_buckets(
        &self,
        id: &str,
        ranges: &[(i64, i64)],
        buckets: usize,
    ) -> Result<Vec<Vec<BucketCount>>, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(vec![Vec::new(); ranges.len()]);
        };
        let buckets = ranges
            .iter()
            .map(|(from, to)| store.campaign_buckets(id, *from, *to, buckets))
            .collect::<Result<Vec<_>, _>>()?;
        store.kept(buckets)
    }

    /// The campaign's validation sends, oldest first.
    pub(crate) fn validation_sends(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Vec<ValidationSend>, WebError> {
        let Some(mut store) = self.lease()? else {
            return Ok(Vec::new());
        };
        let sends = store.validation_sends(id, limit)?;
        store.kept(sends)
    }

    /// The analysed messages of a captured event.
    pub(crate) fn event_messages(&self, event_id: &str) -> Result<Vec<EventMessage>, WebError> {
        if event_id.is_empty() || event_id.len() > MAX_ID_LEN {
            return Ok(Vec::new());
        }
        let Some(mut store) = self.lease()? else {
            return Ok(Vec::new());
        };
        let messages = store.event_messages(event_id, 64)?;
        store.kept(messages)
    }
}

/// Most campaigns one `GET /api/v1/exports` answers with, and most bytes of their stored
/// summaries (a STIX bundle is about ten times that).
pub(crate) const MAX_EXPORT_CAMPAIGNS: usize = 20_000;
pub(crate) const MAX_EXPORT_SUMMARY_BYTES: usize = 32 << 20;

/// Longest message, event or campaign id looked up (longer ones are not found).
const MAX_ID_LEN: usize = 512;

/// One page of messages, newest first.
#[derive(Debug)]
pub(crate) struct MessagePage {
    pub(crate) messages: Vec<StoredMessage>,
    pub(crate) next: Option<MessageCursor>,
    pub(crate) total: Option<u64>,
}

/// One page of campaigns, most recently active first.
#[derive(Debug)]
pub(crate) struct CampaignPage {
    pub(crate) campaigns: Vec<CampaignRow>,
    pub(crate) next: Option<CampaignCursor>,
}

/// "Older than this message" in the messages' order (`ts`, then insertion order, newest
/// first). Opaque to clients: `m<ts>.<seq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageCursor {
    pub(crate) ts_micros: i64,
    pub(crate) seq: i64,
}

impl MessageCursor {
    pub(crate) fn encode(&self) -> String {
        format!("m{}.{}", self.ts_micros, self.seq)
    }

    pub(crate) fn decode(raw: &str) -> Result<MessageCursor, WebError> {
        let (ts_micros, seq) = decode_cursor(raw, 'm')?;
        Ok(MessageCursor { ts_micros, seq: number(seq).ok_or_else(bad_cursor)? })
    }
}

/// "Less recently active than this campaign" (`last_seen`, then id, descending). Opaque to
/// clients: `c<last_seen>.<id in hex>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CampaignCursor {
    /// `i64::MIN` for campaigns without a time (the store sorts them last).
    pub(crate) last_seen: i64,
    pub(crate) id: String,
}

impl CampaignCursor {
    pub(crate) fn after(row: &CampaignRow) -> CampaignCursor {
        CampaignCursor { last_seen: row.last_seen.unwrap_or(i64::MIN), id: row.id.clone() }
    }

    pub(crate) fn encode(&self) -> String {
        format!("c{}.{}", self.last_seen, hex::encode(&self.id))
    }

    pub(crate) fn decode(raw: &str) -> Result<CampaignCursor, WebError> {
        let (last_seen, id) = decode_cursor(raw, 'c')?;
        Ok(CampaignCursor { last_seen, id: hex_id(id)? })
    }
}

fn bad_cursor() -> WebError {
    WebError::bad("cursor", "not a cursor returned by this API")
}

/// Splits a cursor of `kind` into its number and the rest. Any cursor the grammar of
/// `openapi.json` allows decodes (numbers past the `i64` range saturate), so the document
/// and the server agree; one that was not returned by the API just starts elsewhere.
fn decode_cursor(raw: &str, kind: char) -> Result<(i64, &str), WebError> {
    if raw.len() > MAX_CURSOR_LEN {
        return Err(bad_cursor());
    }
    let rest = raw.strip_prefix(kind).ok_or_else(bad_cursor)?;
    let (head, tail) = rest.split_once('.').ok_or_else(bad_cursor)?;
    Ok((number(head).ok_or_else(bad_cursor)?, tail))
}

/// An optional `-` and 1 to 19 decimal digits, saturating at the ends of `i64`.
fn number(raw: &str) -> Option<i64> {
    let (digits, sign) = raw.strip_prefix('-').map_or((raw, 1), |digits| (digits, -1));
    if digits.is_empty() || digits.len() > 19 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = sign * digits.parse::<i128>().ok()?;
    Some(i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX }))
}

/// An id written in hex (either case), at most [`MAX_ID_LEN`] bytes; bytes that are not
/// UTF-8 stand for an id no stored row has.
fn hex_id(raw: &str) -> Result<String, WebError> {
    if raw.len() > 2 * MAX_ID_LEN {
        return Err(bad_cursor());
    }
    let bytes = hex::decode(raw).map_err(|_| bad_cursor())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
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
        for junk in ["", "!!", "e1", "e1:00", "e.00", "e1.0", "e1.0g", "E1.00", &"e1.".repeat(700)]
        {
            assert!(Cursor::decode(junk).is_err(), "{junk}");
        }
        // Whatever the document's grammar allows decodes.
        let far = Cursor::decode("e-9999999999999999999.ff").unwrap();
        assert_eq!((far.ts_micros, far.id.as_str()), (i64::MIN, "\u{fffd}"));
        assert_eq!(Cursor::decode("e0.").unwrap(), Cursor { ts_micros: 0, id: String::new() });
        let m = MessageCursor { ts_micros: -5, seq: 42 };
        assert_eq!(MessageCursor::decode(&m.encode()).unwrap(), m);
        let c = CampaignCursor { last_seen: i64::MIN, id: "cmp-00ab:1".into() };
        assert_eq!(CampaignCursor::decode(&c.encode()).unwrap(), c);
        // A cursor of one kind is not accepted as another.
        assert!(MessageCursor::decode(&c.encode()).is_err());
        assert!(CampaignCursor::decode(&m.encode()).is_err());
        assert!(Cursor::decode(&m.encode()).is_err());
        for junk in ["", "m1", "m1.", "m1.x", "m.5", "m1.-", &"m1.1".repeat(400)] {
            assert!(MessageCursor::decode(junk).is_err(), "{junk}");
            assert!(CampaignCursor::decode(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn an_openers_connections_are_pooled_and_dropped_after_a_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let db = smishtrap_store::db_path(dir.path());
        drop(SqliteStore::open(&db).unwrap());
        let opened = Arc::new(AtomicUsize::new(0));
        let (count, path) = (opened.clone(), db.clone());
        let opener = StoreOpener::new(move || {
            count.fetch_add(1, Ordering::Relaxed);
            Ok(Some(Box::new(SqliteStore::open_read_only(&path)?) as Store))
        });
        let source = Source::new(dir.path(), Some(opener.clone()));
        let check = |opens: usize, idle: usize| {
            assert_eq!((opened.load(Ordering::Relaxed), opener.idle()), (opens, idle));
        };
        for _ in 0..3 {
            assert!(source.get("no-such-event").unwrap().is_none());
        }
        check(1, 1);
        // Busier than the pool: the extra connections close afterwards.
        let mut leases: Vec<Lease> = (0..6).map(|_| source.lease().unwrap().unwrap()).collect();
        check(6, 0);
        for lease in &mut leases {
            lease.kept(()).unwrap();
        }
        drop(leases);
        check(6, POOL_IDLE);
        // A failed call does not return its connection.
        rusqlite::Connection::open(&db).unwrap().execute_batch("DROP TABLE messages").unwrap();
        assert!(source.message("m-1").is_err());
        check(6, POOL_IDLE - 1);
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
            let _ = super::MessageCursor::decode(&raw);
            let _ = super::CampaignCursor::decode(&raw);
        }

        /// Every cursor the document's grammar allows decodes.
        #[test]
        fn documented_cursors_decode(
            event in "e-?[0-9]{1,19}\\.([0-9a-fA-F]{2}){0,512}",
            message in "m-?[0-9]{1,19}\\.-?[0-9]{1,19}",
            campaign in "c-?[0-9]{1,19}\\.([0-9a-fA-F]{2}){0,512}",
        ) {
            prop_assert!(Cursor::decode(&event).is_ok(), "{}", event);
            prop_assert!(super::MessageCursor::decode(&message).is_ok(), "{}", message);
            prop_assert!(super::CampaignCursor::decode(&campaign).is_ok(), "{}", campaign);
        }
    }
}
