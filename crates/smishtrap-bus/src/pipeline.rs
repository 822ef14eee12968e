use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use smishtrap_event::Event;
use tokio::sync::{mpsc, oneshot};

use crate::Sink;

/// What happened to a recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Committed by the primary sink.
    Durable,
    /// The primary sink failed or the pipeline is closed; the event is counted as lost.
    NotRecorded,
}

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Events that may wait for the writer before `record` applies backpressure.
    pub queue_capacity: usize,
    /// Most events committed in one transaction.
    pub max_batch: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig { queue_capacity: 16 * 1024, max_batch: 4096 }
    }
}

/// Counters shared by the publishers and the writer.
#[derive(Debug, Default)]
pub struct Stats {
    recorded: AtomicU64,
    not_recorded: AtomicU64,
    secondary_failures: AtomicU64,
    batches: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Events committed by the primary sink.
    pub recorded: u64,
    /// Events the primary sink could not take (or that arrived after close).
    pub not_recorded: u64,
    /// Batches a secondary sink failed to take.
    pub secondary_failures: u64,
    /// Transactions committed.
    pub batches: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            recorded: self.recorded.load(Ordering::Relaxed),
            not_recorded: self.not_recorded.load(Ordering::Relaxed),
            secondary_failures: self.secondary_failures.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }
}

struct Job {
    event: Event,
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
    /// Queues the event and waits until the primary sink committed it.
    pub async fn record(&self, event: Event) -> Outcome {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Job { event, ack: Some(ack) }).await.is_err() {
            self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
            return Outcome::NotRecorded;
        }
        // A dropped ack means the writer died; the writer counts what it lost.
        done.await.unwrap_or(Outcome::NotRecorded)
    }

    /// Queues the event without waiting for the commit (for events no response depends on).
    pub async fn record_detached(&self, event: Event) {
        if self.tx.send(Job { event, ack: None }).await.is_err() {
            self.stats.not_recorded.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
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

    /// Waits until every publisher is dropped, everything queued is written and every sink
    /// is flushed.
    pub fn join(mut self) -> StatsSnapshot {
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("event writer thread panicked");
        }
        self.stats.snapshot()
    }
}

/// The group-commit pipeline.
#[derive(Debug)]
pub struct Pipeline;

impl Pipeline {
    /// Starts the writer thread. `primary` decides durability; `secondary` sinks get every
    /// batch the primary took.
    pub fn start(
        primary: Box<dyn Sink>,
        secondary: Vec<Box<dyn Sink>>,
        config: PipelineConfig,
    ) -> std::io::Result<(Publisher, PipelineHandle)> {
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let stats = Arc::new(Stats::default());
        let writer_stats = stats.clone();
        let max_batch = config.max_batch.max(1);
        let writer = std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || write_loop(rx, primary, secondary, max_batch, &writer_stats))?;
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

    fn report(&mut self, err: &crate::SinkError, lost: usize) {
        let now = Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < Self::INTERVAL) {
            self.suppressed += 1;
            return;
        }
        tracing::error!(error = %err, lost, suppressed = self.suppressed, "events not recorded");
        self.last = Some(now);
        self.suppressed = 0;
    }
}

fn write_loop(
    mut rx: mpsc::Receiver<Job>,
    mut primary: Box<dyn Sink>,
    mut secondary: Vec<Box<dyn Sink>>,
    max_batch: usize,
    stats: &Stats,
) {
    let mut failures = FailureLog { last: None, suppressed: 0 };
    let mut jobs: Vec<Job> = Vec::with_capacity(max_batch);
    let mut events: Vec<Event> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        events.extend(jobs.iter_mut().map(|j| std::mem::replace(&mut j.event, placeholder())));
        let outcome = match primary.write_batch(&events) {
            Ok(()) => {
                stats.recorded.fetch_add(events.len() as u64, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                Outcome::Durable
            }
            Err(err) => {
                stats.not_recorded.fetch_add(events.len() as u64, Ordering::Relaxed);
                failures.report(&err, events.len());
                Outcome::NotRecorded
            }
        };
        for job in jobs.drain(..) {
            if let Some(ack) = job.ack {
                // The requester may have gone away (client disconnected); nothing to do.
                let _ = ack.send(outcome);
            }
        }
        if outcome == Outcome::Durable {
            for sink in &mut secondary {
                if let Err(err) = sink.write_batch(&events) {
                    stats.secondary_failures.fetch_add(1, Ordering::Relaxed);
                    failures.report(&err, 0);
                }
            }
        }
        events.clear();
    }
    for sink in std::iter::once(&mut primary).chain(secondary.iter_mut()) {
        if let Err(err) = sink.flush() {
            tracing::error!(error = %err, "flush failed at shutdown");
        }
    }
}

/// Stand-in left in a job once its event moved into the batch.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SinkError;
    use std::sync::Mutex;

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
            PipelineConfig { queue_capacity: 8, max_batch: 3 },
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
}
