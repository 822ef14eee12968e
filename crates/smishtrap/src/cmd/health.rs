//! The sensor's health watch (`sensor` and `run`): free space of the data volume, the event
//! pipeline's commits and its secondary sinks, turned into a [`Health`] that goes to the log,
//! the status file (`DIR/sensor-status.json`, written even when the store is full) and the
//! store's heartbeat row.
//!
//! The watch runs on its own thread every [`TICK`]: under the refuse watermark it makes the
//! pipeline refuse new events (the sensor then answers like a busy device) before SQLite
//! meets a full disk; it lifts the refusal once space is back. The heartbeat row is written on
//! another thread, so a store that blocks or fails never delays the watch.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use smishtrap_bus::{PipelineControl, PrimaryState, StatsSnapshot};
use smishtrap_event::{
    Degraded, FleetHealth, HEARTBEAT_PERIOD, Health, STATUS_FILE_PERIOD, SensorStatus,
};
use smishtrap_sensor::Counters;
use smishtrap_store::space::{SpaceState, SpaceWatch, Watermarks};
use smishtrap_store::{SqliteStore, StatusFile};

/// How often free space is read and health recomputed.
const TICK: Duration = Duration::from_millis(100);

/// How long a secondary sink's failure or dropped batch keeps health at `sink-errors`.
const SINK_ERROR_HOLD: Duration = Duration::from_secs(30);

/// While free space is under the warning watermark, the oldest rotated JSONL segment is
/// deleted this often (retention: they are copies, the store keeps every event).
const PRUNE_EVERY: Duration = Duration::from_secs(1);

/// Failures of the status file or the heartbeat row are logged at most this often.
const LOG_EVERY: Duration = Duration::from_secs(30);

/// Health of the sensor from one reading of free space and the pipeline's counters.
fn assess(space: Option<SpaceState>, stats: &StatsSnapshot, sink_errors: bool) -> Health {
    let mut reasons = Vec::new();
    // Unknown free space after a full-disk failure counts as still full.
    let roomy = space.is_some_and(|s| s.roomy);
    if space.is_some_and(|s| s.refuse) || (stats.primary == PrimaryState::NoSpace && !roomy) {
        reasons.push(Degraded::StoreFull);
    }
    if stats.primary == PrimaryState::Failing {
        reasons.push(Degraded::StoreFailing);
    }
    if space.is_some_and(|s| s.low) {
        reasons.push(Degraded::LowDisk);
    }
    if sink_errors {
        reasons.push(Degraded::SinkErrors);
    }
    Health::from_reasons(reasons)
}

/// The running watch; [`Watch::stop`] writes a last, `stopped` status.
pub(crate) struct Watch {
    stop: Option<Sender<()>>,
    listeners: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch").finish_non_exhaustive()
    }
}

pub(crate) struct WatchConfig<'a> {
    pub(crate) data: &'a Path,
    pub(crate) sensor: &'a str,
    /// Explicit watermarks; `None` derives them from the volume's size.
    pub(crate) refuse_below: Option<u64>,
    pub(crate) warn_below: Option<u64>,
    /// Fleet figures of the store upkeep thread, carried in every heartbeat.
    pub(crate) fleet: Arc<Mutex<Option<FleetHealth>>>,
}

impl Watch {
    pub(crate) fn start(
        config: &WatchConfig<'_>,
        pipeline: PipelineControl,
        counters: Arc<Counters>,
    ) -> anyhow::Result<Watch> {
        let data = config.data.to_owned();
        let volume = smishtrap_store::space::volume_bytes(&data)
            .with_context(|| format!("{}: cannot read the volume's size", data.display()))?;
        let defaults = Watermarks::for_volume(volume);
        let marks = if volume == 0 && config.refuse_below.is_none() {
            // Some file systems report no size; refusing on their "0 free" would refuse all.
            tracing::warn!("the data volume reports no size: free-space watermarks are off");
            Watermarks::with_refuse(0, 0)
        } else {
            Watermarks::with_refuse(
                config.refuse_below.unwrap_or(defaults.refuse_below),
                config.warn_below.unwrap_or(defaults.warn_below),
            )
        };
        tracing::info!(
            refuse_below = marks.refuse_below,
            resume_at = marks.resume_at,
            warn_below = marks.warn_below,
            "free-space watermarks of the data volume"
        );
        let status_path = smishtrap_store::status_path(&data);
        let status_file = StatusFile::create(&status_path)
            .with_context(|| format!("{}: cannot create the status file", status_path.display()))?;
        let db = smishtrap_store::db_path(&data);
        let store = SqliteStore::open(&db)
            .with_context(|| format!("{}: cannot open the event store", db.display()))?;
        let (rows, row_rx) = std::sync::mpsc::sync_channel::<SensorStatus>(1);
        let heartbeat = std::thread::Builder::new()
            .name("sensor-heartbeat".into())
            .spawn(move || write_heartbeats(store, &row_rx))
            .context("cannot start the heartbeat")?;
        let listeners = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let mut state = WatchState {
            data,
            space: SpaceWatch::new(marks),
            pipeline,
            counters,
            listeners: listeners.clone(),
            fleet: config.fleet.clone(),
            sensor: config.sensor.to_owned(),
            started_at: chrono::Utc::now(),
            status_file,
            rows,
            health: Health::Ok,
            sink_counts: (0, 0),
            sink_error_at: None,
            last_file: None,
            last_row: None,
            file_failure_log: None,
            space_failure_log: None,
            last_prune: None,
        };
        let thread = std::thread::Builder::new()
            .name("sensor-health".into())
            .spawn(move || {
                loop {
                    let done =
                        !matches!(stopped.recv_timeout(TICK), Err(RecvTimeoutError::Timeout));
                    state.tick(done);
                    if done {
                        break;
                    }
                }
                // Lets the heartbeat thread write the last row and end.
                drop(state);
                let _ = heartbeat.join();
            })
            .context("cannot start the health watch")?;
        Ok(Watch { stop: Some(stop), listeners, thread: Some(thread) })
    }

    pub(crate) fn set_listeners(&self, names: Vec<String>) {
        if let Ok(mut l) = self.listeners.lock() {
            *l = names;
        }
    }

    /// Writes the last status (`stopped`) and ends both threads.
    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watch {
    /// An early error return must not leave the threads running.
    fn drop(&mut self) {
        self.stop();
    }
}

struct WatchState {
    data: PathBuf,
    space: SpaceWatch,
    pipeline: PipelineControl,
    counters: Arc<Counters>,
    listeners: Arc<Mutex<Vec<String>>>,
    fleet: Arc<Mutex<Option<FleetHealth>>>,
    sensor: String,
    started_at: chrono::DateTime<chrono::Utc>,
    status_file: StatusFile,
    rows: SyncSender<SensorStatus>,
    health: Health,
    /// Secondary failures and drops at the last tick, and when they last grew.
    sink_counts: (u64, u64),
    sink_error_at: Option<Instant>,
    last_file: Option<Instant>,
    last_row: Option<Instant>,
    file_failure_log: Option<Instant>,
    space_failure_log: Option<Instant>,
    last_prune: Option<Instant>,
}

impl WatchState {
    fn tick(&mut self, stopping: bool) {
        let now = Instant::now();
        let space = match smishtrap_store::space::available_bytes(&self.data) {
            Ok(free) => Some(self.space.update(free)),
            Err(err) => {
                if due(&mut self.space_failure_log, now) {
                    tracing::warn!(error = %err, "cannot read the free space of the data volume");
                }
                None
            }
        };
        self.pipeline.set_refusing(space.is_some_and(|s| s.refuse));
        if space.is_some_and(|s| s.low) && older(self.last_prune, now, PRUNE_EVERY) {
            self.last_prune = Some(now);
            prune_oldest_segment(&smishtrap_store::events_dir(&self.data));
        }
        let stats = self.pipeline.stats();
        let counts = (stats.secondary_failures, stats.secondary_dropped);
        if counts != self.sink_counts {
            self.sink_counts = counts;
            self.sink_error_at = Some(now);
        }
        let sink_errors =
            self.sink_error_at.is_some_and(|t| now.duration_since(t) < SINK_ERROR_HOLD);
        let health = assess(space, &stats, sink_errors);
        let changed = health != self.health;
        if changed {
            match &health {
                Health::Ok => tracing::info!(health = %health.summary(), "sensor health"),
                Health::Degraded { .. } => tracing::warn!(
                    health = %health.summary(),
                    recorded = stats.recorded,
                    not_recorded = stats.not_recorded,
                    "sensor health: answering as a busy device whatever cannot be stored"
                ),
            }
            self.health = health;
        }
        let file_due = changed || stopping || older(self.last_file, now, STATUS_FILE_PERIOD);
        let row_due = changed || stopping || older(self.last_row, now, HEARTBEAT_PERIOD);
        if !(file_due || row_due) {
            return;
        }
        let status = SensorStatus {
            sensor: self.sensor.clone(),
            listeners: self.listeners.lock().map(|l| l.clone()).unwrap_or_default(),
            started_at: self.started_at,
            updated_at: chrono::Utc::now(),
            events_recorded: stats.recorded,
            events_not_recorded: stats.not_recorded
                + stats.secondary_dropped
                + self.counters.refused_unrecorded.load(Ordering::Relaxed),
            stopped: stopping,
            health: self.health.clone(),
            fleet: self.fleet.lock().ok().and_then(|f| f.clone()),
        };
        if file_due {
            self.last_file = Some(now);
            if let Err(err) = self.status_file.write(&status)
                && due(&mut self.file_failure_log, now)
            {
                tracing::warn!(error = %err, "cannot write the status file");
            }
        }
        if row_due {
            self.last_row = Some(now);
            // A heartbeat still being written makes this one wait for the next period.
            if stopping {
                let _ = self.rows.send(status);
            } else {
                let _ = self.rows.try_send(status);
            }
        }
    }
}

/// Deletes the oldest rotated JSONL segment (`events.jsonl.N` with the largest N), never the
/// file being written; returns its number.
fn prune_oldest_segment(dir: &Path) -> Option<u32> {
    let oldest = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            name.to_str()?.strip_prefix("events.jsonl.")?.parse::<u32>().ok()
        })
        .max()?;
    let path = dir.join(format!("events.jsonl.{oldest}"));
    match std::fs::remove_file(&path) {
        Ok(()) => {
            tracing::warn!(
                file = %path.display(),
                "low disk: deleted the oldest rotated JSONL segment (the store keeps its events)"
            );
            Some(oldest)
        }
        Err(err) => {
            tracing::warn!(file = %path.display(), error = %err, "low disk: cannot delete");
            None
        }
    }
}

fn older(last: Option<Instant>, now: Instant, period: Duration) -> bool {
    last.is_none_or(|t| now.duration_since(t) >= period)
}

/// Whether a rate-limited log line may be written now.
fn due(last: &mut Option<Instant>, now: Instant) -> bool {
    if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}

/// Writes each status it gets as the store's heartbeat row until the watch ends.
fn write_heartbeats(mut store: SqliteStore, rows: &Receiver<SensorStatus>) {
    let mut failure_log = None;
    while let Ok(status) = rows.recv() {
        if let Err(err) = store.put_sensor_status(&status)
            && due(&mut failure_log, Instant::now())
        {
            tracing::warn!(error = %err, "cannot write the heartbeat into the store");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(space: Option<SpaceState>, primary: PrimaryState, sink_errors: bool, expect: &str) {
        let stats = StatsSnapshot { primary, ..Default::default() };
        assert_eq!(assess(space, &stats, sink_errors).summary(), expect);
    }

    fn space(refuse: bool, low: bool, roomy: bool) -> Option<SpaceState> {
        Some(SpaceState { refuse, low, roomy })
    }

    #[test]
    fn pruning_deletes_the_oldest_rotated_segment_and_never_the_current_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        for name in ["events.jsonl", "events.jsonl.1", "events.jsonl.2", "events.jsonl.10", "x.3"] {
            std::fs::write(dir.path().join(name), b"{}\n").unwrap_or_else(|e| panic!("{e}"));
        }
        let pruned: Vec<Option<u32>> = (0..4).map(|_| prune_oldest_segment(dir.path())).collect();
        assert_eq!(pruned, vec![Some(10), Some(2), Some(1), None]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(left, ["events.jsonl", "x.3"]);
    }

    #[test]
    fn health_names_every_reason() {
        use PrimaryState::{Committing, Failing, NoSpace};
        check(space(false, false, true), Committing, false, "ok");
        check(None, Committing, false, "ok");
        check(space(false, true, true), Committing, false, "degraded: low-disk");
        check(space(true, true, false), Committing, false, "degraded: store-full low-disk");
        // A full-disk failure counts until there is room again.
        check(space(false, true, false), NoSpace, false, "degraded: store-full low-disk");
        check(space(false, false, true), NoSpace, false, "ok");
        check(None, NoSpace, false, "degraded: store-full");
        check(space(false, false, true), Failing, true, "degraded: store-failing sink-errors");
    }
}
