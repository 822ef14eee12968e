//! [`AnalysisStore`]: the backend-neutral API of what the analysis keeps next to the events
//! (analysed messages with text search, campaigns and their aliases, progress cursors,
//! sensor heartbeats and the console's aggregates). [`SqliteStore`] implements it by
//! delegating to its inherent methods (`messages.rs`, `overview.rs`); `PostgresStore`
//! implements it in `postgres_analysis.rs`. Both pass the same conformance suite.
//!
//! Methods take `&mut self` (a PostgreSQL client needs exclusive access); the SQLite store's
//! inherent `&self` methods stay for callers that hold a concrete store.

use smishtrap_event::{Event, SensorStatus};

use crate::{
    AnalysedRow, AssignmentChange, AuditRow, BucketCount, CampaignAlias, CampaignRow, EventMessage,
    EventStore, HourCount, MessageFacet, MessageQuery, NewMessage, SqliteStore, StoreError,
    StoredMessage, ValidationSend,
};

/// A page of per-row results of an event tail and the last row it scanned.
pub type EventTail = (Vec<Result<Event, StoreError>>, i64);

/// Everything the analyst and the console read and write, on any backend.
///
/// Invariant: a write that moves a progress cursor (`progress: Some((name, value))`) commits
/// the rows and the cursor in one transaction, so a crash can neither lose nor repeat work.
/// Invariant: a text search is a case-insensitive substring search of any string (NUL, `%`,
/// `_`, quotes and query syntax included); an exact substring of a stored text always matches.
pub trait AnalysisStore: EventStore {
    /// Stores analysed messages in one transaction, skipping ids already stored, and moves
    /// the named progress cursor in the same transaction. Returns how many were new.
    fn insert_messages(
        &mut self,
        messages: &[NewMessage],
        progress: Option<(&str, i64)>,
    ) -> Result<usize, StoreError>;

    /// A progress cursor (0 when never set).
    fn cursor(&mut self, name: &str) -> Result<i64, StoreError>;

    /// Sets a progress cursor outside a message insert.
    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError>;

    /// The stored event with this id.
    fn event(&mut self, id: &str) -> Result<Option<Event>, StoreError>;

    /// The `sms.send` events stored after row `after_seq`, in insertion order, scanning at
    /// most `scan` rows of any kind, and the last row scanned (the next `after_seq`). A row
    /// that does not decode is returned as its error.
    fn sms_sends_after(&mut self, after_seq: i64, scan: usize) -> Result<EventTail, StoreError>;

    /// Messages stored after row `after_seq`, in insertion order.
    fn messages_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// [`AnalysedRow`]s stored after row `after_seq`, in insertion order.
    fn analysed_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AnalysedRow>, StoreError>;

    /// The message with this id.
    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>, StoreError>;

    /// Matching messages, newest first (`ts`, then insertion order), at most `limit`.
    fn messages(
        &mut self,
        query: &MessageQuery,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError>;

    /// How many messages match (`query.before` ignored), counting at most `cap`.
    fn count_messages(&mut self, query: &MessageQuery, cap: u64) -> Result<u64, StoreError>;

    /// Message counts per value of `facet` (nulls left out), largest first then by value, at
    /// most `limit`, over the messages with `verdict` when given.
    fn message_facet(
        &mut self,
        facet: MessageFacet,
        verdict: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError>;

    /// Applies changed assignments, makes the campaign table exactly `campaigns`, records
    /// `aliases` (moving aliases that named an id which becomes an alias on to the new id)
    /// and moves the progress cursor: [`AnalysisStore::apply_clustering_streamed`] of slices.
    fn apply_clustering_aliased(
        &mut self,
        changes: &[AssignmentChange],
        campaigns: &[CampaignRow],
        aliases: &[CampaignAlias],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        self.apply_clustering_streamed(
            &mut changes.iter().cloned(),
            &mut campaigns.iter().cloned(),
            aliases,
            progress,
        )
    }

    /// A clustering pass's write, with the changes and campaigns taken one at a time, so a
    /// pass over millions of messages never holds them all.
    ///
    /// Invariant: readers never see an assigned id that names no stored campaign (directly
    /// or through an alias), and the progress cursor moves only with the write's last
    /// transaction; a write that stops midway is a pass that did not finish, and the next
    /// pass over the same messages stores what it would have. PostgreSQL writes in one
    /// transaction (its event inserts never wait for it); SQLite has one write lock per file,
    /// so it writes in short transactions and lets the sensor's inserts in between
    /// ([`SqliteStore::apply_clustering_streamed`] says what readers see meanwhile).
    fn apply_clustering_streamed(
        &mut self,
        changes: &mut dyn Iterator<Item = AssignmentChange>,
        campaigns: &mut dyn Iterator<Item = CampaignRow>,
        aliases: &[CampaignAlias],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError>;

    /// [`AnalysisStore::apply_clustering_aliased`] without aliases.
    fn apply_clustering(
        &mut self,
        changes: &[AssignmentChange],
        campaigns: &[CampaignRow],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        self.apply_clustering_aliased(changes, campaigns, &[], progress)
    }

    /// Applies changed assignments only and moves the progress cursor, in one transaction.
    fn apply_assignments(
        &mut self,
        changes: &[AssignmentChange],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError>;

    /// Campaigns (of `brand`, case-insensitive, when given), most recently active first
    /// (campaigns without a time last), after the keyset cursor `(last_seen, id)`.
    fn campaigns(
        &mut self,
        brand: Option<&str>,
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<CampaignRow>, StoreError>;

    /// The campaign with this id, or the campaign an alias of a merged campaign names.
    fn campaign(&mut self, id: &str) -> Result<Option<CampaignRow>, StoreError>;

    /// Every alias, by alias.
    fn campaign_aliases(&mut self) -> Result<Vec<CampaignAlias>, StoreError>;

    /// How many campaigns are stored.
    fn count_campaigns(&mut self) -> Result<u64, StoreError>;

    /// The id of every stored campaign, in no particular order.
    fn campaign_ids(&mut self) -> Result<Vec<String>, StoreError>;

    /// Records a sensor's heartbeat (replacing its previous one).
    fn put_sensor_status(&mut self, status: &SensorStatus) -> Result<(), StoreError>;

    /// Every sensor's latest heartbeat, by name; rows that do not decode are skipped.
    fn sensor_statuses(&mut self) -> Result<Vec<SensorStatus>, StoreError>;

    /// Ids of the campaigns last seen at or after `since_micros`, most recently active first.
    fn active_campaign_ids(
        &mut self,
        since_micros: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// The campaign's messages per hour from `since_micros` on (not before the epoch),
    /// oldest hour first; empty hours left out.
    fn campaign_hours(
        &mut self,
        campaign: &str,
        since_micros: i64,
    ) -> Result<Vec<HourCount>, StoreError>;

    /// The campaign's messages from `from` to `to` (inclusive) in `buckets` equal buckets
    /// (clamped to 1..=1024), split by phase; empty buckets left out.
    fn campaign_buckets(
        &mut self,
        campaign: &str,
        from: i64,
        to: i64,
        buckets: usize,
    ) -> Result<Vec<BucketCount>, StoreError>;

    /// The campaign's validation sends, oldest first.
    fn validation_sends(
        &mut self,
        campaign: &str,
        limit: usize,
    ) -> Result<Vec<ValidationSend>, StoreError>;

    /// The analysed messages of the captured event `event_id`, by id.
    fn event_messages(
        &mut self,
        event_id: &str,
        limit: usize,
    ) -> Result<Vec<EventMessage>, StoreError>;

    /// Whether this connection may run the single-runner job `job` (the clustering pass, the
    /// capture analysis). On a shared backend the first connection to ask holds the job until
    /// it closes (a process that dies hands it over); a single-file store always may.
    fn lead(&mut self, job: &str) -> Result<bool, StoreError>;

    /// Stores the latest audit of each target in one transaction; an older result than the
    /// stored one of its target is kept out. Returns how many rows were written.
    fn put_audit_results(&mut self, rows: &[AuditRow]) -> Result<usize, StoreError>;

    /// Up to `limit` audited targets, by target.
    fn audit_results(&mut self, limit: usize) -> Result<Vec<AuditRow>, StoreError>;

    /// How many targets have a stored audit.
    fn count_audit_results(&mut self) -> Result<u64, StoreError>;
}

impl AnalysisStore for SqliteStore {
    fn insert_messages(
        &mut self,
        messages: &[NewMessage],
        progress: Option<(&str, i64)>,
    ) -> Result<usize, StoreError> {
        SqliteStore::insert_messages(self, messages, progress)
    }

    fn cursor(&mut self, name: &str) -> Result<i64, StoreError> {
        SqliteStore::cursor(self, name)
    }

    fn set_cursor(&mut self, name: &str, value: i64) -> Result<(), StoreError> {
        SqliteStore::set_cursor(self, name, value)
    }

    fn event(&mut self, id: &str) -> Result<Option<Event>, StoreError> {
        SqliteStore::event(self, id)
    }

    fn sms_sends_after(&mut self, after_seq: i64, scan: usize) -> Result<EventTail, StoreError> {
        SqliteStore::sms_sends_after(self, after_seq, scan)
    }

    fn messages_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        SqliteStore::messages_after(self, after_seq, limit)
    }

    fn analysed_after(
        &mut self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<AnalysedRow>, StoreError> {
        SqliteStore::analysed_after(self, after_seq, limit)
    }

    fn message(&mut self, id: &str) -> Result<Option<StoredMessage>, StoreError> {
        SqliteStore::message(self, id)
    }

    fn messages(
        &mut self,
        query: &MessageQuery,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        SqliteStore::messages(self, query, limit)
    }

    fn count_messages(&mut self, query: &MessageQuery, cap: u64) -> Result<u64, StoreError> {
        SqliteStore::count_messages(self, query, cap)
    }

    fn message_facet(
        &mut self,
        facet: MessageFacet,
        verdict: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        SqliteStore::message_facet(self, facet, verdict, limit)
    }

    fn apply_clustering_streamed(
        &mut self,
        changes: &mut dyn Iterator<Item = AssignmentChange>,
        campaigns: &mut dyn Iterator<Item = CampaignRow>,
        aliases: &[CampaignAlias],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        SqliteStore::apply_clustering_streamed(self, changes, campaigns, aliases, progress)
    }

    fn apply_assignments(
        &mut self,
        changes: &[AssignmentChange],
        progress: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        SqliteStore::apply_assignments(self, changes, progress)
    }

    fn campaigns(
        &mut self,
        brand: Option<&str>,
        before: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<CampaignRow>, StoreError> {
        SqliteStore::campaigns(self, brand, before, limit)
    }

    fn campaign(&mut self, id: &str) -> Result<Option<CampaignRow>, StoreError> {
        SqliteStore::campaign(self, id)
    }

    fn campaign_aliases(&mut self) -> Result<Vec<CampaignAlias>, StoreError> {
        SqliteStore::campaign_aliases(self)
    }

    fn count_campaigns(&mut self) -> Result<u64, StoreError> {
        SqliteStore::count_campaigns(self)
    }

    fn campaign_ids(&mut self) -> Result<Vec<String>, StoreError> {
        SqliteStore::campaign_ids(self)
    }

    fn put_sensor_status(&mut self, status: &SensorStatus) -> Result<(), StoreError> {
        SqliteStore::put_sensor_status(self, status)
    }

    fn sensor_statuses(&mut self) -> Result<Vec<SensorStatus>, StoreError> {
        SqliteStore::sensor_statuses(self)
    }

    fn active_campaign_ids(
        &mut self,
        since_micros: i64,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        SqliteStore::active_campaign_ids(self, since_micros, limit)
    }

    fn campaign_hours(
        &mut self,
        campaign: &str,
        since_micros: i64,
    ) -> Result<Vec<HourCount>, StoreError> {
        SqliteStore::campaign_hours(self, campaign, since_micros)
    }

    fn campaign_buckets(
        &mut self,
        campaign: &str,
        from: i64,
        to: i64,
        buckets: usize,
    ) -> Result<Vec<BucketCount>, StoreError> {
        SqliteStore::campaign_buckets(self, campaign, from, to, buckets)
    }

    fn validation_sends(
        &mut self,
        campaign: &str,
        limit: usize,
    ) -> Result<Vec<ValidationSend>, StoreError> {
        SqliteStore::validation_sends(self, campaign, limit)
    }

    fn event_messages(
        &mut self,
        event_id: &str,
        limit: usize,
    ) -> Result<Vec<EventMessage>, StoreError> {
        SqliteStore::event_messages(self, event_id, limit)
    }

    /// One SQLite file has one analyst (the data directory's lock already says so).
    fn lead(&mut self, _job: &str) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn put_audit_results(&mut self, rows: &[AuditRow]) -> Result<usize, StoreError> {
        SqliteStore::put_audit_results(self, rows)
    }

    fn audit_results(&mut self, limit: usize) -> Result<Vec<AuditRow>, StoreError> {
        SqliteStore::audit_results(self, limit)
    }

    fn count_audit_results(&mut self) -> Result<u64, StoreError> {
        SqliteStore::count_audit_results(self)
    }
}
