//! Follows the store: one background thread reads every event once (history at start, then
//! new events every poll), keeps bounded aggregates for the Overview and the sensors API, the
//! newest events for the Live page, and broadcasts new events to the SSE streams.
//!
//! Why a follower instead of per-request queries: the store's public API streams events
//! oldest first and counts; aggregates over a million events are only cheap if computed once,
//! incrementally.
//!
//! Late commits: the sensor binds `ts` at accept time and commits in groups, so an event can
//! land after one with a later `ts`. Each poll therefore re-checks an overlap window of
//! [`OVERLAP`] before the newest `ts` seen (a count first, a re-read only when the count says
//! something arrived late), remembering the ids already seen in that window.
//!
//! Events imported with timestamps older than the window after the console started are not
//! followed until the next start (EXTENSION POINT(store): a commit sequence in the store's
//! API would remove that limit).
//!
//! Analysed messages are tailed by their insertion order, but only up to the clustering's
//! progress cursor ([`CLUSTERED_CURSOR`]): every message the Live page shows or the stream
//! sends already has its campaign. A second thread keeps [`Insights`] for the Overview, so
//! their slow counts never delay the live tail: counts over all messages (target countries,
//! verdicts: a `GROUP BY` over every message, about a second at a million, so recomputed at
//! most every [`FACET_REFRESH`], and only when messages changed), the newest campaigns and
//! the sensors' heartbeats (re-read every [`INSIGHT_REFRESH`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use smishtrap_event::{Event, EventKind, SensorStatus};
use smishtrap_store::{AnalysisStore, CLUSTERED_CURSOR, EventFilter, MessageFacet};
use tokio::sync::broadcast;

use crate::WebError;
use crate::findings::{CampaignListRow, MessageRow};
use crate::source::{Source, Store};

/// How far back each poll looks for events committed late.
pub const OVERLAP: Duration = Duration::from_secs(30);
/// Newest events kept in memory for the Live page and SSE catch-up.
pub const RECENT_CAPACITY: usize = 2000;
/// Distinct sensors (sensor, persona) tracked; more are counted as untracked.
pub const MAX_SENSORS: usize = 1024;
/// Distinct source IPs counted; more are counted as untracked.
pub const MAX_SOURCE_IPS: usize = 100_000;
/// Minutes of per-minute counts kept (7 days).
pub const MINUTES_KEPT: i64 = 7 * 24 * 60;
/// Events applied to the shared state per lock.
const APPLY_BATCH: usize = 1024;
/// Capacity of the broadcast channel to SSE streams (a slower stream is told it lagged).
const BROADCAST_CAPACITY: usize = 1024;
/// Newest analysed messages kept for the Live page.
pub const RECENT_MESSAGES: usize = 200;
/// Messages read per query while tailing.
const MESSAGE_BATCH: usize = 1024;
/// Facet counts over all messages are recomputed at most this often.
pub const FACET_REFRESH: Duration = Duration::from_secs(10);
/// ... and at least this often while messages keep arriving unclustered.
const FACET_MAX_AGE: Duration = Duration::from_secs(60);
/// Newest campaigns and sensor heartbeats are re-read this often.
pub const INSIGHT_REFRESH: Duration = Duration::from_secs(1);
/// Countries in the Overview's target chart.
pub const TOP_COUNTRIES: usize = 12;
/// Campaigns on the Overview.
pub const NEWEST_CAMPAIGNS: usize = 5;

/// What the Overview shows about messages, campaigns and sensors, kept by the follower.
#[derive(Debug, Default, Clone)]
pub struct Insights {
    /// Recipients' countries of `smishing` messages, most first.
    pub countries: Vec<(String, u64)>,
    /// Messages per verdict, most first.
    pub verdicts: Vec<(String, u64)>,
    /// When the counts above were made, and how long they took.
    pub facets_at: Option<DateTime<Utc>>,
    pub facets_took: Duration,
    pub campaigns: u64,
    pub newest_campaigns: Vec<CampaignListRow>,
    /// Latest heartbeat of every sensor that wrote one.
    pub heartbeats: Vec<SensorStatus>,
}

/// Per-sensor aggregates.
#[derive(Debug, Clone)]
pub struct SensorStats {
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub events: u64,
    pub by_kind: [u64; EventKind::ALL.len()],
}

/// Everything the follower has computed so far.
#[derive(Debug, Default)]
pub struct Stats {
    pub total: u64,
    pub by_kind: [u64; EventKind::ALL.len()],
    pub first_ts: Option<DateTime<Utc>>,
    pub last_ts: Option<DateTime<Utc>>,
    pub sensors: BTreeMap<(String, String), SensorStats>,
    pub untracked_sensor_events: u64,
    pub src_ips: HashMap<IpAddr, u64>,
    pub untracked_ip_events: u64,
    /// Minute (Unix seconds / 60) -> (all events, sms.send events).
    pub minutes: BTreeMap<i64, (u64, u64)>,
}

pub(crate) fn kind_index(kind: EventKind) -> usize {
    EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Stats {
    fn add(&mut self, event: &Event) {
        let k = kind_index(event.kind);
        self.total += 1;
        self.by_kind[k] += 1;
        self.first_ts = Some(self.first_ts.map_or(event.ts, |t| t.min(event.ts)));
        self.last_ts = Some(self.last_ts.map_or(event.ts, |t| t.max(event.ts)));
        let key = (event.sensor.clone(), event.persona.clone());
        if let Some(s) = self.sensors.get_mut(&key) {
            s.first_seen = s.first_seen.min(event.ts);
            s.last_seen = s.last_seen.max(event.ts);
            s.events += 1;
            s.by_kind[k] += 1;
        } else if self.sensors.len() < MAX_SENSORS {
            let mut by_kind = [0; EventKind::ALL.len()];
            by_kind[k] = 1;
            let stats =
                SensorStats { first_seen: event.ts, last_seen: event.ts, events: 1, by_kind };
            self.sensors.insert(key, stats);
        } else {
            self.untracked_sensor_events += 1;
        }
        if let Some(n) = self.src_ips.get_mut(&event.src_ip) {
            *n += 1;
        } else if self.src_ips.len() < MAX_SOURCE_IPS {
            self.src_ips.insert(event.src_ip, 1);
        } else {
            self.untracked_ip_events += 1;
        }
        let minute = event.ts.timestamp().div_euclid(60);
        let newest = self.last_ts.map_or(minute, |t| t.timestamp().div_euclid(60));
        if minute > newest - MINUTES_KEPT {
            let slot = self.minutes.entry(minute).or_default();
            slot.0 += 1;
            if event.kind == EventKind::SmsSend {
                slot.1 += 1;
            }
        }
        if self.minutes.len() as i64 > MINUTES_KEPT + 64 {
            self.minutes = self.minutes.split_off(&(newest - MINUTES_KEPT));
        }
    }

    /// The `n` source IPs with most events, most first (ties by address).
    pub fn top_src_ips(&self, n: usize) -> Vec<(IpAddr, u64)> {
        let mut all: Vec<(IpAddr, u64)> = self.src_ips.iter().map(|(ip, c)| (*ip, *c)).collect();
        let order = |a: &(IpAddr, u64), b: &(IpAddr, u64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        if all.len() > n {
            all.select_nth_unstable_by(n, order);
            all.truncate(n);
        }
        all.sort_unstable_by(order);
        all
    }
}

/// State shared between the follower and the handlers.
#[derive(Debug)]
pub struct Live {
    pub(crate) stats: RwLock<Stats>,
    pub(crate) recent: RwLock<VecDeque<Arc<Event>>>,
    /// True once the history present at start has been read.
    pub(crate) caught_up: AtomicBool,
    /// Last store error, shown on the Overview until a poll succeeds.
    pub(crate) last_error: RwLock<Option<String>>,
    pub(crate) new_events: broadcast::Sender<Arc<Event>>,
    pub(crate) recent_messages: RwLock<VecDeque<Arc<MessageRow>>>,
    pub(crate) new_messages: broadcast::Sender<Arc<MessageRow>>,
    pub(crate) insights: RwLock<Insights>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

impl Live {
    pub fn new() -> Live {
        Live {
            stats: RwLock::new(Stats::default()),
            recent: RwLock::new(VecDeque::with_capacity(RECENT_CAPACITY)),
            caught_up: AtomicBool::new(false),
            last_error: RwLock::new(None),
            new_events: broadcast::channel(BROADCAST_CAPACITY).0,
            recent_messages: RwLock::new(VecDeque::with_capacity(RECENT_MESSAGES)),
            new_messages: broadcast::channel(BROADCAST_CAPACITY).0,
            insights: RwLock::new(Insights::default()),
        }
    }

    /// The newest analysed messages with their campaign (newest last).
    pub fn recent_messages(&self) -> Vec<Arc<MessageRow>> {
        self.recent_messages.read().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    pub fn subscribe_messages(&self) -> broadcast::Receiver<Arc<MessageRow>> {
        self.new_messages.subscribe()
    }

    /// A copy of the Overview's insights.
    pub fn insights(&self) -> Insights {
        self.insights.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn apply_messages(&self, rows: Vec<Arc<MessageRow>>, broadcast: bool) {
        if rows.is_empty() {
            return;
        }
        {
            let mut recent = self.recent_messages.write().unwrap_or_else(|p| p.into_inner());
            for row in &rows {
                if recent.len() == RECENT_MESSAGES {
                    recent.pop_front();
                }
                recent.push_back(row.clone());
            }
        }
        if broadcast {
            for row in rows {
                let _ = self.new_messages.send(row);
            }
        }
    }

    /// Reads the aggregates (the lock is never held across an `.await`).
    pub fn with_stats<T>(&self, f: impl FnOnce(&Stats) -> T) -> T {
        f(&self.stats.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The newest events (newest last).
    pub fn recent(&self) -> Vec<Arc<Event>> {
        self.recent.read().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    pub fn caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.new_events.subscribe()
    }

    fn apply(&self, batch: &mut Vec<Event>, broadcast: bool) {
        if batch.is_empty() {
            return;
        }
        let batch: Vec<Arc<Event>> = batch.drain(..).map(Arc::new).collect();
        {
            let mut stats = self.stats.write().unwrap_or_else(|p| p.into_inner());
            for event in &batch {
                stats.add(event);
            }
        }
        {
            let mut recent = self.recent.write().unwrap_or_else(|p| p.into_inner());
            for event in &batch {
                if recent.len() == RECENT_CAPACITY {
                    recent.pop_front();
                }
                recent.push_back(event.clone());
            }
        }
        if broadcast {
            for event in batch {
                // No receiver is not an error: nobody watches the stream right now.
                let _ = self.new_events.send(event);
            }
        }
    }
}

/// The follower thread; stopped (and joined) by [`Follower::stop`] or on drop.
#[derive(Debug)]
pub(crate) struct Follower {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Follower {
    pub(crate) fn start(
        source: Source,
        live: Arc<Live>,
        poll: Duration,
    ) -> Result<Follower, WebError> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let (source_insights, live_insights) = (source.clone(), live.clone());
        let thread = std::thread::Builder::new()
            .name("console-follower".into())
            .spawn(move || {
                let mut tail = Tail::default();
                let mut analysed = Analysed::default();
                let mut store: Option<Store> = None;
                while !stopping.load(Ordering::Acquire) {
                    let polled =
                        tail.poll(&source, &mut store, &live, &stopping).and_then(|()| match store
                            .as_mut()
                        {
                            Some(db) if !stopping.load(Ordering::Acquire) => {
                                analysed.poll(db.as_mut(), &live)
                            }
                            _ => Ok(()),
                        });
                    match polled {
                        Ok(()) => {
                            *live.last_error.write().unwrap_or_else(|p| p.into_inner()) = None
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "console could not read the event store");
                            *live.last_error.write().unwrap_or_else(|p| p.into_inner()) =
                                Some(err.to_string());
                            store = None;
                        }
                    }
                    sleep_unless_stopped(poll, &stopping);
                }
            })
            .map_err(|e| WebError::Internal(format!("start console follower: {e}")))?;
        let mut follower = Follower { stop, threads: vec![thread] };
        // The Overview's counts take long on a large store (a second at a million messages);
        // their own thread keeps them from delaying the live tail.
        let stopping = follower.stop.clone();
        let thread = std::thread::Builder::new()
            .name("console-insights".into())
            .spawn(move || {
                let mut insights = InsightsPoll::default();
                let mut store: Option<Store> = None;
                let mut failing = false;
                while !stopping.load(Ordering::Acquire) {
                    let polled = match store.as_mut() {
                        Some(db) => insights.poll(db.as_mut(), &live_insights),
                        None => source_insights.open().map(|opened| store = opened),
                    };
                    match polled {
                        Ok(()) => failing = false,
                        Err(err) => {
                            // Once per failure streak: the follower reports store trouble too.
                            if !failing {
                                tracing::warn!(error = %err, "console could not count messages");
                            }
                            failing = true;
                            store = None;
                        }
                    }
                    sleep_unless_stopped(INSIGHTS_POLL, &stopping);
                }
            })
            .map_err(|e| WebError::Internal(format!("start console insights: {e}")))?;
        follower.threads.push(thread);
        Ok(follower)
    }

    pub(crate) fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let mut slept = Duration::ZERO;
    while slept < total && !stop.load(Ordering::Acquire) {
        std::thread::sleep(step.min(total - slept));
        slept += step;
    }
}

/// Where the follower is in the store.
#[derive(Debug, Default)]
struct Tail {
    /// Newest `ts` read so far.
    newest: Option<DateTime<Utc>>,
    /// Ids read whose `ts` is within [`OVERLAP`] of `newest`, with their `ts`.
    window: HashMap<String, DateTime<Utc>>,
}

impl Tail {
    fn poll(
        &mut self,
        source: &Source,
        store: &mut Option<Store>,
        live: &Live,
        stop: &AtomicBool,
    ) -> Result<(), WebError> {
        if store.is_none() {
            *store = source.open()?;
        }
        let Some(db) = store.as_mut() else {
            // No store yet: nothing to catch up with.
            live.caught_up.store(true, Ordering::Release);
            return Ok(());
        };
        let first_read = self.newest.is_none() && !live.caught_up();
        let broadcast = !first_read;
        // Fast path: everything at or after the newest instant seen.
        self.read(db.as_mut(), self.newest, live, broadcast, stop)?;
        // Late commits: count the window and re-read it only if it holds unseen events.
        if let Some(newest) = self.newest {
            let since = newest - window();
            let filter = EventFilter { since: Some(since), ..Default::default() };
            let in_store = db.count_events(&filter)?;
            let seen = self.window.values().filter(|ts| **ts >= since).count() as u64;
            if in_store > seen {
                self.read(db.as_mut(), Some(since), live, broadcast, stop)?;
            }
        }
        if first_read {
            live.caught_up.store(true, Ordering::Release);
        }
        Ok(())
    }

    fn read(
        &mut self,
        db: &mut dyn AnalysisStore,
        since: Option<DateTime<Utc>>,
        live: &Live,
        broadcast: bool,
        stop: &AtomicBool,
    ) -> Result<(), WebError> {
        let filter = EventFilter { since, ..Default::default() };
        let mut batch = Vec::with_capacity(APPLY_BATCH);
        for event in db.events(&filter)? {
            let event = match event {
                Ok(event) => event,
                Err(err) => {
                    // One undecodable row must not stop the console from following.
                    tracing::warn!(error = %err, "console skipped an unreadable event");
                    continue;
                }
            };
            if self.window.contains_key(&event.id) {
                continue;
            }
            self.remember(&event);
            batch.push(event);
            if batch.len() == APPLY_BATCH {
                live.apply(&mut batch, broadcast);
                if stop.load(Ordering::Acquire) {
                    return Ok(());
                }
            }
        }
        live.apply(&mut batch, broadcast);
        self.prune();
        Ok(())
    }

    fn remember(&mut self, event: &Event) {
        self.newest = Some(self.newest.map_or(event.ts, |t| t.max(event.ts)));
        let newest = self.newest.unwrap_or(event.ts);
        if event.ts >= newest - window() {
            self.window.insert(event.id.clone(), event.ts);
        }
        // Keep the window bounded while reading a long history.
        if self.window.len() > 4 * APPLY_BATCH * 64 {
            self.prune();
        }
    }

    fn prune(&mut self) {
        if let Some(newest) = self.newest {
            let since = newest - window();
            self.window.retain(|_, ts| *ts >= since);
        }
    }
}

/// Where the follower is in the analysed messages.
#[derive(Debug, Default)]
struct Analysed {
    /// Last message `seq` shown (`None` before the first poll).
    after: Option<i64>,
}

impl Analysed {
    fn poll(&mut self, db: &mut dyn AnalysisStore, live: &Live) -> Result<(), WebError> {
        let clustered = db.cursor(CLUSTERED_CURSOR)?;
        // The first poll fills the Live page with the newest few; later ones stream.
        let (mut after, broadcast) = match self.after {
            Some(after) => (after, true),
            None => ((clustered - RECENT_MESSAGES as i64).max(0), false),
        };
        while after < clustered {
            let batch = db.messages_after(after, MESSAGE_BATCH)?;
            let read = batch.len();
            let rows: Vec<Arc<MessageRow>> = batch
                .iter()
                .take_while(|m| m.seq <= clustered)
                .map(|m| Arc::new(MessageRow::of(m)))
                .collect();
            let shown = rows.len();
            after = batch.get(shown.wrapping_sub(1)).map_or(after, |m| m.seq);
            live.apply_messages(rows, broadcast);
            if shown < read || read < MESSAGE_BATCH {
                // Nothing else is clustered yet (seq only grows).
                after = clustered;
            }
        }
        self.after = Some(after);
        Ok(())
    }
}

/// How often the insights thread looks at the store.
const INSIGHTS_POLL: Duration = Duration::from_millis(500);

/// When the insights thread last refreshed what.
#[derive(Debug, Default)]
struct InsightsPoll {
    facets_at: Option<Instant>,
    facets_cursor: i64,
    insights_at: Option<Instant>,
}

impl InsightsPoll {
    fn poll(&mut self, db: &mut dyn AnalysisStore, live: &Live) -> Result<(), WebError> {
        let clustered = db.cursor(CLUSTERED_CURSOR)?;
        let now = Instant::now();
        let due = |at: Option<Instant>, every: Duration| at.is_none_or(|t| now - t >= every);
        let changed = clustered != self.facets_cursor || due(self.facets_at, FACET_MAX_AGE);
        if self.facets_at.is_none() || (due(self.facets_at, FACET_REFRESH) && changed) {
            let started = Instant::now();
            let countries =
                db.message_facet(MessageFacet::Country, Some("smishing"), TOP_COUNTRIES)?;
            let verdicts = db.message_facet(MessageFacet::Verdict, None, 8)?;
            let took = started.elapsed();
            tracing::debug!(took_ms = took.as_millis() as u64, "console counted messages");
            let mut insights = live.insights.write().unwrap_or_else(|p| p.into_inner());
            insights.countries = countries;
            insights.verdicts = verdicts;
            insights.facets_at = Some(Utc::now());
            insights.facets_took = took;
            self.facets_at = Some(now);
            self.facets_cursor = clustered;
        }
        if due(self.insights_at, INSIGHT_REFRESH) {
            let newest: Vec<CampaignListRow> = db
                .campaigns(None, None, NEWEST_CAMPAIGNS)?
                .iter()
                .map(CampaignListRow::of)
                .collect();
            let campaigns = db.count_campaigns()?;
            let heartbeats = db.sensor_statuses()?;
            let mut insights = live.insights.write().unwrap_or_else(|p| p.into_inner());
            insights.newest_campaigns = newest;
            insights.campaigns = campaigns;
            insights.heartbeats = heartbeats;
            self.insights_at = Some(now);
        }
        Ok(())
    }
}

fn window() -> TimeDelta {
    TimeDelta::from_std(OVERLAP).unwrap_or(TimeDelta::seconds(30))
}
