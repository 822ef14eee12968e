use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smishtrap_event::Event;
use tokio::sync::{mpsc, oneshot};

use crate::encoded::encode;
use crate::{EncodedBatch, Sink};

/// What happened to a recorded event. Only `Durable` allows a success answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a request whose event is not durable must not get a success answer"]
pub enum Outcome {
    /// Committed by the primary sink.
    Durable,
    /// The primary sink failed, the store is refusing (full) or the pipeline is closed; the
    /// event is counted as lost.
    NotRecorded,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Events that may wait for the writer before `record` applies backpressure. Also the
    /// most events each secondary sink may have queued before it misses batches.
    pub queue_capacity: usize,
    /// Most events committed in one transaction.
    pub max_batch: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { queue_capacity: 16 * 1024, max_batch: 4096 }
    }
}

/// Batches a secondary's queue holds at most (besides the event bound): keeps the queue
/// bounded when batches are tiny (light load).
const SECONDARY_QUEUE_BATCHES: usize = 1024;

/// Counters shared by the publishers and the writer.
#[derive(Debug)]
pub struct Stats {
    recorded: AtomicU64,
    not_recorded: AtomicU64,
    refused: AtomicU64,
    secondary_failures: AtomicU64,
    secondary_dropped: AtomicU64,
    batches: AtomicU64,
    /// When the pipeline started; the `last_*` times below are milliseconds since then, plus
    /// one (0: never).
    started: Instant,
    last_commit_ok: AtomicU64,
    last_commit_failed: AtomicU64,
    last_failure_no_space: AtomicBool,
    /// Set from outside (free-space watermark): `record` refuses without queueing.
    refusing: AtomicBool,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            recorded: AtomicU64::new(0),
            not_recorded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            secondary_failures: AtomicU64::new(0),
            secondary_dropped: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            started: Instant::now(),
            last_commit_ok: AtomicU64::new(0),
            last_commit_failed: AtomicU64::new(0),
            last_failure_no_space: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
        }
    }
}

/// The state of the primary sink as its last commits saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrimaryState {
    /// The last commit succeeded (or none was tried yet).
    #[default]
    Committing,
    /// The last commit failed because the disk (or quota) is full.
    NoSpace,
    /// The last commit failed for another reason.
    Failing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Events committed by the primary sink.
    pub recorded: u64,
    /// Events the primary sink could not take (or that arrived after close), including the
    /// refused ones.
    pub not_recorded: u64,
    /// Events refused without trying because the store was refusing (disk under watermark).
    pub refused: u64,
    /// Batches a secondary sink failed to take.
    pub secondary_failures: u64,
    /// Events a secondary sink missed because it was too far behind the primary (summed over
    /// secondaries).
    pub secondary_dropped: u64,
    /// Transactions committed.
    pub batches: u64,
    /// What the last commit attempt gave.
    pub primary: PrimaryState,
    /// Since the pipeline started: the last successful and the last failed commit.
    pub last_commit_ok: Option<Duration>,
    pub last_commit_failed: Option<Duration>,
    /// Whether `record` currently refuses (see [`PipelineControl::set_refusing`]).
    pub refusing: bool,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            recorded: self.recorded.load(Ordering::Relaxed),
            not_recorded: self.not_recorded.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            secondary_failures: self.secondary_failures.load(Ordering::Relaxed),
            secondary_dropped: self.secondary_dropped.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            primary: self.primary_state(),
            last_commit_ok: since_start(self.last_commit_ok.load(Ordering::Relaxed)),
            last_commit_failed: since_start(self.last_commit_failed.load(Ordering::Relaxed)),
            refusing: self.refusing.load(Ordering::Relaxed),
        }
    }

    /// How long the pipeline has been running (the clock of the `last_*` times).
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    fn primary_state(&self) -> PrimaryState {
        let ok = self.last_commit_ok.load(Ordering::Relaxed);
        let failed = self.last_commit_failed.load(Ordering::Relaxed);
        if failed == 0 || ok > failed {
            PrimaryState::Committing
        } else if self.last_failure_no_space.load(Ordering::Relaxed) {
            PrimaryState::NoSpace
        } else {
            PrimaryState::Failing
        }
    }

    fn stamp(&self, slot: &AtomicU64) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        // Ties (same millisecond) must order a success after the failure it follows.
        slot.fetch_max(ms + 1, Ordering::Relaxed);
    }

    fn commit_ok(&self, events: usize) {
        self.recorded.fetch_add(events as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        let failed = self.last_commit_failed.load(Ordering::Relaxed);
        self.stamp(&self.last_commit_ok);
        self.last_commit_ok.fetch_max(failed + 1, Ordering::Relaxed);
    }

    fn commit_failed(&self, events: usize, no_space: bool) {
        self.not_recorded.fetch_add(events as u64, Ordering::Relaxed);
        self.last_failure_no_space.store(no_space, Ordering::Relaxed);
        let ok = self.last_commit_ok.load(Ordering::Relaxed);
        self.stamp(&self.last_commit_failed);
        self.last_commit_failed.fetch_max(ok + 1, Ordering::Relaxed);
    }
}

fn since_start(stamp: u64) -> Option<Duration> {
    stamp.checked_sub(1).map(Duration::from_millis)
}

struct Job {
    event: Event,
    json: Box<str>,
    ack: Option<oneshot::Sender<Outcome>>,
}

/// Cheap handle used on the request path.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Job>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("event", &self.event.id).finish()
    }
}

impl Publisher {
    /// Encodes and queues the event, then waits until the primary sink committed it. While
    /// the pipeline is refusing, answers `NotRecorded` at once.
    pub async fn record(&self, event: Event) -> Outcome {
        if self.refuse() {
            return Outcome::NotRecorded;
        }
        let Some(json) = self.encode(&event) else { return Outcome::NotRecorded };
        let (ack, done) = oneshot::channel();
        if self.tx.send(Job { event, json, ack: Some(ack) }).await.is_err() {
            self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
            return Outcome::NotRecorded;
        }
        // A dropped ack means the writer died; the writer counts what it lost.
        done.await.unwrap_or(Outcome::NotRecorded)
    }

    /// Queues the event without waiting for the commit (for events no response depends on).
    pub async fn record_detached(&self, event: Event) {
        if self.refuse() {
            return;
        }
        let Some(json) = self.encode(&event) else { return };
        if self.tx.send(Job { event, json, ack: None }).await.is_err() {
            self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Encoding on the caller's thread spreads it over all runtime workers; an event that
    /// cannot be encoded (not expected from our types) is counted as not recorded.
    fn encode(&self, event: &Event) -> Option<Box<str>> {
        match encode(event) {
            Ok(json) => Some(json),
            Err(err) => {
                self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, "event not recorded: cannot encode it");
                None
            }
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    fn refuse(&self) -> bool {
        if !self.stats.refusing.load(Ordering::Relaxed) {
            return false;
        }
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Owns the writer thread.
#[derive(Debug)]
pub struct PipelineHandle {
    writer: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl PipelineHandle {
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// A handle that watches and steers the pipeline without keeping it open.
    pub fn control(&self) -> PipelineControl {
        PipelineControl { stats: self.stats.clone() }
    }

    /// Waits until every publisher is dropped, everything queued is written (by the primary
    /// and by every secondary) and every sink is flushed.
    pub fn join(mut self) -> StatsSnapshot {
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("event writer thread panicked");
        }
        self.stats.snapshot()
    }
}

/// Reads a pipeline's counters and switches refusing; unlike a [`Publisher`] it does not keep
/// the writer running.
#[derive(Debug, Clone)]
pub struct PipelineControl {
    stats: Arc<Stats>,
}

impl PipelineControl {
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Turns refusing on or off for every publisher of the pipeline. While on, `record`
    /// answers `NotRecorded` without queueing (counted in `refused`): the caller's free-space
    /// watch uses it to stop writing before the store meets a full disk.
    pub fn set_refusing(&self, refusing: bool) {
        self.stats.refusing.store(refusing, Ordering::Relaxed);
    }
}

/// The group-commit pipeline.
#[derive(Debug)]
pub struct Pipeline;

impl Pipeline {
    /// Starts the writer thread and one thread per secondary sink. `primary` decides
    /// durability; `secondary` sinks get the batches the primary took, as far as they keep up.
    pub fn start(
        primary: Box<dyn Sink>,
        secondary: Vec<Box<dyn Sink>>,
        config: PipelineConfig,
    ) -> std::io::Result<(Publisher, PipelineHandle)> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let stats = Arc::new(Stats::default());
        let max_batch = config.max_batch.max(1);
        let mut lanes = Vec::with_capacity(secondary.len());
        for sink in secondary {
            lanes.push(SecondaryLane::start(sink, config.queue_capacity.max(1), stats.clone())?);
        }
        let writer_stats = stats.clone();
        let writer = std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || write_loop(rx, primary, lanes, max_batch, &writer_stats))?;
        Ok((Publisher { tx, stats: stats.clone() }, PipelineHandle { writer: Some(writer), stats }))
    }
}

/// Logs sink failures at most once per interval so a full disk does not flood the log.
struct FailureLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl FailureLog {
    const INTERVAL: Duration = Duration::from_secs(10);

    fn new() -> FailureLog {
        FailureLog { last: None, suppressed: 0 }
    }

    /// Whether to log now; counts the suppressed reports otherwise.
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Self::INTERVAL) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    fn report(&mut self, err: &crate::SinkError, lost: usize) {
        if let Some(suppressed) = self.due() {
            tracing::error!(error = %err, lost, suppressed, "events not recorded");
        }
    }
}

/// One committed batch, shared by the secondaries' threads.
struct Batch {
    events: Vec<Event>,
    json: Vec<Box<str>>,
}

/// A secondary sink on its own thread behind a queue bounded in events and batches.
struct SecondaryLane {
    name: &'static str,
    tx: std_mpsc::SyncSender<Arc<Batch>>,
    /// Events queued and not yet written; only the writer adds, only the lane subtracts.
    pending: Arc<AtomicUsize>,
    capacity: usize,
    thread: JoinHandle<()>,
    dropped_log: FailureLog,
}

impl SecondaryLane {
    fn start(
        mut sink: Box<dyn Sink>,
        capacity: usize,
        stats: Arc<Stats>,
    ) -> std::io::Result<SecondaryLane> {
        let name = sink.name();
        let (tx, rx) = std_mpsc::sync_channel::<Arc<Batch>>(SECONDARY_QUEUE_BATCHES);
        let pending = Arc::new(AtomicUsize::new(0));
        let lane_pending = pending.clone();
        let thread = std::thread::Builder::new().name(format!("sink-{name}")).spawn(move || {
            let mut failures = FailureLog::new();
            // Ends when the writer drops the sender, after every queued batch.
            while let Ok(batch) = rx.recv() {
                let result = match EncodedBatch::new(&batch.events, &batch.json) {
                    Some(encoded) => sink.write_encoded(encoded),
                    None => sink.write_batch(&batch.events),
                };
                lane_pending.fetch_sub(batch.events.len(), Ordering::Relaxed);
                if let Err(err) = result {
                    stats.secondary_failures.fetch_add(1, Ordering::Relaxed);
                    failures.report(&err, 0);
                }
            }
            if let Err(err) = sink.flush() {
                tracing::error!(error = %err, "flush failed at shutdown");
            }
        })?;
        Ok(SecondaryLane { name, tx, pending, capacity, thread, dropped_log: FailureLog::new() })
    }

    /// Queues the batch unless the lane is too far behind; then it misses it (counted).
    fn offer(&mut self, batch: &Arc<Batch>, stats: &Stats) {
        let n = batch.events.len();
        // A batch larger than the whole bound still goes through to an idle lane.
        let pending = self.pending.load(Ordering::Relaxed);
        let fits = pending == 0 || pending + n <= self.capacity;
        if fits {
            self.pending.fetch_add(n, Ordering::Relaxed);
            if self.tx.try_send(batch.clone()).is_ok() {
                return;
            }
            self.pending.fetch_sub(n, Ordering::Relaxed);
        }
        stats.secondary_dropped.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(suppressed) = self.dropped_log.due() {
            tracing::warn!(
                sink = self.name,
                dropped = n,
                suppressed,
                "secondary sink falling behind, batch dropped"
            );
        }
    }

    /// Lets the lane write what it has queued, flush, and stop.
    fn finish(self) {
        drop(self.tx);
        if self.thread.join().is_err() {
            tracing::error!(sink = self.name, "secondary sink thread panicked");
        }
    }
}

fn write_loop(
    mut rx: mpsc::Receiver<Job>,
    mut primary: Box<dyn Sink>,
    mut lanes: Vec<SecondaryLane>,
    max_batch: usize,
    stats: &Stats,
) {
    let mut failures = FailureLog::new();
    let mut events: Vec<Event> = Vec::with_capacity(max_batch);
    let mut json: Vec<Box<str>> = Vec::with_capacity(max_batch);
    let mut acks: Vec<Option<oneshot::Sender<Outcome>>> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        let mut take = |job: Job| {
            events.push(job.event);
            json.push(job.json);
            acks.push(job.ack);
        };
        take(first);
        let mut n = 1;
        while n < max_batch {
            match rx.try_recv() {
                Ok(job) => take(job),
                Err(_) => break,
            }
            n += 1;
        }
        let written = match EncodedBatch::new(&events, &json) {
            Some(batch) => primary.write_encoded(batch),
            None => primary.write_batch(&events),
        };
        let outcome = match written {
            Ok(()) => {
                stats.commit_ok(events.len());
                Outcome::Durable
            }
            Err(err) => {
                stats.commit_failed(events.len(), err.no_space);
                failures.report(&err, events.len());
                Outcome::NotRecorded
            }
        };
        for ack in acks.drain(..).flatten() {
            // The requester may have gone away (client disconnected); nothing to do.
            let _ = ack.send(outcome);
        }
        if outcome == Outcome::Durable && !lanes.is_empty() {
            // The next batch is likely about this size; `max_batch` slots would be megabytes.
            let cap = events.len();
            let batch = Arc::new(Batch {
                events: std::mem::replace(&mut events, Vec::with_capacity(cap)),
                json: std::mem::replace(&mut json, Vec::with_capacity(cap)),
            });
            for lane in &mut lanes {
                lane.offer(&batch, stats);
            }
        } else {
            events.clear();
            json.clear();
        }
    }
    if let Err(err) = primary.flush() {
        tracing::error!(error = %err, "flush failed at shutdown");
    }
    for lane in lanes {
        lane.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SinkError;
    use std::sync::Mutex;

    fn placeholder() -> Event {
        Event {
            schema: smishtrap_event::SCHEMA_VERSION,
            id: String::new(),
            ts: chrono::DateTime::UNIX_EPOCH,
            sensor: String::new(),
            persona: String::new(),
            session: String::new(),
            src_ip: std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            src_port: 0,
            dst_port: 0,
            kind: smishtrap_event::EventKind::HttpRequest,
            http: Default::default(),
            response_status: 0,
            auth: None,
            sms: None,
            tags: Vec::new(),
        }
    }

    /// In-memory sink that can be told to fail.
    struct MemorySink {
        seen: Arc<Mutex<Vec<String>>>,
        fail: bool,
    }

    impl Sink for MemorySink {
        fn name(&self) -> &'static str {
            "memory"
        }
        fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
            if self.fail {
                return Err(SinkError::new("memory", "disk full"));
            }
            self.seen.lock().unwrap().extend(events.iter().map(|e| e.id.clone()));
            Ok(())
        }
    }

    fn event(id: &str) -> Event {
        Event { id: id.into(), ..placeholder() }
    }

    fn run(
        fail_primary: bool,
        n: usize,
    ) -> (Vec<Outcome>, Vec<String>, Vec<String>, StatsSnapshot) {
        let primary = Arc::new(Mutex::new(Vec::new()));
        let secondary = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(MemorySink { seen: primary.clone(), fail: fail_primary }),
            vec![Box::new(MemorySink { seen: secondary.clone(), fail: false })],
            // Room for every event in the secondary's queue, so it misses none.
            PipelineConfig { queue_capacity: 1024, max_batch: 3 },
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcomes = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..n {
                let p = publisher.clone();
                tasks.push(tokio::spawn(async move { p.record(event(&format!("e{i}"))).await }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        drop(publisher);
        let stats = handle.join();
        let p = primary.lock().unwrap().clone();
        let s = secondary.lock().unwrap().clone();
        (outcomes, p, s, stats)
    }

    #[test]
    fn every_acknowledged_event_is_in_the_primary_sink() {
        let (outcomes, primary, secondary, stats) = run(false, 50);
        assert!(outcomes.iter().all(|o| *o == Outcome::Durable));
        assert_eq!(primary.len(), 50);
        assert_eq!(secondary, primary);
        assert_eq!(stats.recorded, 50);
        assert!(stats.batches >= 50 / 3);
    }

    #[test]
    fn a_failing_primary_is_counted_and_reported_to_the_caller() {
        let (outcomes, primary, secondary, stats) = run(true, 10);
        assert!(outcomes.iter().all(|o| *o == Outcome::NotRecorded));
        assert!(primary.is_empty());
        assert!(secondary.is_empty(), "secondaries only get what the primary took");
        assert_eq!(stats.not_recorded, 10);
    }

    /// A primary whose disk is full, failing or fine, as the test says.
    struct SwitchSink {
        mode: Arc<Mutex<PrimaryState>>,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Sink for SwitchSink {
        fn name(&self) -> &'static str {
            "switch"
        }
        fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
            match *self.mode.lock().unwrap() {
                PrimaryState::NoSpace => Err(SinkError::no_space("switch", "database is full")),
                PrimaryState::Failing => Err(SinkError::new("switch", "disk I/O error")),
                PrimaryState::Committing => {
                    self.seen.lock().unwrap().extend(events.iter().map(|e| e.id.clone()));
                    Ok(())
                }
            }
        }
    }

    #[test]
    fn the_primary_state_follows_the_last_commit_and_recovers_without_a_restart() {
        let mode = Arc::new(Mutex::new(PrimaryState::Committing));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(SwitchSink { mode: mode.clone(), seen: seen.clone() }),
            Vec::new(),
            PipelineConfig { queue_capacity: 16, max_batch: 4 },
        )
        .unwrap();
        let mut outcomes = Vec::new();
        for state in [
            PrimaryState::Committing,
            PrimaryState::NoSpace,
            PrimaryState::Failing,
            PrimaryState::NoSpace,
            PrimaryState::Committing,
        ] {
            *mode.lock().unwrap() = state;
            let got = record_all(&publisher, 3);
            outcomes.push((got, publisher.stats().primary));
        }
        let durable = vec![Outcome::Durable; 3];
        let lost = vec![Outcome::NotRecorded; 3];
        assert_eq!(
            outcomes,
            vec![
                (durable.clone(), PrimaryState::Committing),
                (lost.clone(), PrimaryState::NoSpace),
                (lost.clone(), PrimaryState::Failing),
                (lost, PrimaryState::NoSpace),
                (durable, PrimaryState::Committing),
            ]
        );
        drop(publisher);
        let stats = handle.join();
        assert_eq!((stats.recorded, stats.not_recorded, stats.refused), (6, 9, 0));
        assert_eq!(seen.lock().unwrap().len(), 6, "only the durable events are stored");
        assert!(stats.last_commit_ok > stats.last_commit_failed);
    }

    #[test]
    fn a_refusing_pipeline_answers_at_once_without_queueing() {
        let mode = Arc::new(Mutex::new(PrimaryState::Committing));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(SwitchSink { mode, seen: seen.clone() }),
            Vec::new(),
            PipelineConfig { queue_capacity: 1, max_batch: 1 },
        )
        .unwrap();
        let control = handle.control();
        control.set_refusing(true);
        assert!(publisher.stats().refusing);
        // More than the queue holds: nothing is queued, so nothing waits.
        let refused = record_all(&publisher, 100);
        assert!(refused.iter().all(|o| *o == Outcome::NotRecorded));
        control.set_refusing(false);
        let accepted = record_all(&publisher, 5);
        assert!(accepted.iter().all(|o| *o == Outcome::Durable));
        drop(publisher);
        let stats = handle.join();
        assert_eq!((stats.recorded, stats.not_recorded, stats.refused), (5, 100, 100));
        assert_eq!(stats.batches, 5);
        assert_eq!(seen.lock().unwrap().len(), 5);
    }

    /// Records what a secondary saw, on which thread, and checks the JSON it was given.
    struct ThreadSink {
        seen: Arc<Mutex<Vec<(String, String)>>>,
    }

    impl Sink for ThreadSink {
        fn name(&self) -> &'static str {
            "thread"
        }
        fn write_batch(&mut self, _: &[Event]) -> Result<(), SinkError> {
            Err(SinkError::new("thread", "the pipeline must pass the encoded batch"))
        }
        fn write_encoded(&mut self, batch: EncodedBatch<'_>) -> Result<(), SinkError> {
            let thread = std::thread::current().name().unwrap_or_default().to_owned();
            for (event, json) in batch.iter() {
                assert_eq!(json, serde_json::to_string(event).unwrap());
                self.seen.lock().unwrap().push((event.id.clone(), thread.clone()));
            }
            Ok(())
        }
    }

    /// A secondary that blocks until the gate opens, then fails or succeeds.
    struct GateSink {
        gate: Arc<(Mutex<bool>, std::sync::Condvar)>,
        seen: Arc<Mutex<Vec<String>>>,
        fail: bool,
    }

    impl Sink for GateSink {
        fn name(&self) -> &'static str {
            "gate"
        }
        fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
            let (open, changed) = &*self.gate;
            let mut open = open.lock().unwrap();
            while !*open {
                open = changed.wait(open).unwrap();
            }
            if self.fail {
                return Err(SinkError::new("gate", "broken pipe"));
            }
            self.seen.lock().unwrap().extend(events.iter().map(|e| e.id.clone()));
            Ok(())
        }
    }

    fn record_all(publisher: &Publisher, n: usize) -> Vec<Outcome> {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mut out = Vec::new();
            for i in 0..n {
                out.push(publisher.record(event(&format!("e{i:04}"))).await);
            }
            out
        })
    }

    #[test]
    fn secondaries_get_every_batch_in_commit_order_on_their_own_thread() {
        let primary = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(MemorySink { seen: primary.clone(), fail: false }),
            vec![Box::new(ThreadSink { seen: seen.clone() })],
            PipelineConfig { queue_capacity: 1024, max_batch: 4 },
        )
        .unwrap();
        let outcomes = record_all(&publisher, 200);
        drop(publisher);
        let stats = handle.join();
        assert!(outcomes.iter().all(|o| *o == Outcome::Durable));
        let seen = seen.lock().unwrap().clone();
        let ids: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
        assert_eq!(ids, *primary.lock().unwrap(), "same events, same order");
        assert!(seen.iter().all(|(_, thread)| thread == "sink-thread"), "{:?}", seen.first());
        assert_eq!((stats.secondary_dropped, stats.secondary_failures), (0, 0));
    }

    /// With the secondary stuck, every event is still acknowledged (the test would hang
    /// otherwise); what did not fit its queue is counted, what fit is written at shutdown.
    #[test]
    fn a_stalled_secondary_never_delays_the_primary_and_its_misses_are_counted() {
        let gate = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let primary = Arc::new(Mutex::new(Vec::new()));
        let secondary = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(MemorySink { seen: primary.clone(), fail: false }),
            vec![Box::new(GateSink { gate: gate.clone(), seen: secondary.clone(), fail: false })],
            PipelineConfig { queue_capacity: 4, max_batch: 1 },
        )
        .unwrap();
        let outcomes = record_all(&publisher, 100);
        assert!(outcomes.iter().all(|o| *o == Outcome::Durable));
        let dropped_while_stalled = publisher.stats().secondary_dropped;
        // One batch in the sink's hands plus at most 4 queued events got through.
        assert!(dropped_while_stalled >= 95, "{dropped_while_stalled}");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        drop(publisher);
        let stats = handle.join();
        let primary = primary.lock().unwrap().clone();
        let secondary = secondary.lock().unwrap().clone();
        assert_eq!(primary.len(), 100);
        assert_eq!(stats.recorded, 100);
        // Acks go out before the batch is offered, so the last drop may come after them.
        assert!(stats.secondary_dropped >= dropped_while_stalled);
        assert_eq!(secondary.len() as u64 + stats.secondary_dropped, 100);
        assert!(!secondary.is_empty(), "queued batches are written at shutdown");
        let mut in_primary = primary.iter();
        assert!(
            secondary.iter().all(|id| in_primary.any(|p| p == id)),
            "the secondary sees a subsequence of the commits, in order: {secondary:?}"
        );
    }

    #[test]
    fn a_failing_secondary_is_counted_and_never_fails_the_primary() {
        let gate = Arc::new((Mutex::new(true), std::sync::Condvar::new()));
        let primary = Arc::new(Mutex::new(Vec::new()));
        let (publisher, handle) = Pipeline::start(
            Box::new(MemorySink { seen: primary.clone(), fail: false }),
            vec![Box::new(GateSink { gate, seen: Arc::default(), fail: true })],
            PipelineConfig { queue_capacity: 1024, max_batch: 2 },
        )
        .unwrap();
        let outcomes = record_all(&publisher, 30);
        drop(publisher);
        let stats = handle.join();
        assert!(outcomes.iter().all(|o| *o == Outcome::Durable));
        assert_eq!(primary.lock().unwrap().len(), 30);
        assert_eq!(stats.secondary_dropped, 0);
        assert_eq!(stats.secondary_failures, stats.batches);
        assert!(stats.batches >= 15);
    }
}
