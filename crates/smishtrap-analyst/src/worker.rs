use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{SqliteStore, StoreError};

use crate::{ClusterError, Clusterer, analyse_captures};

/// Event rows one capture step reads before the worker looks at its stop signal again.
const CAPTURE_STEP_ROWS: usize = 16_384;
/// Wait after a store error before trying again (the store may be locked or full).
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the worker needs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The store file (`smishtrap_store::db_path`).
    pub db: PathBuf,
    /// How often the store is looked at for new captures and messages.
    pub poll: Duration,
    pub options: AnalyzeOptions,
    pub cluster: Config,
}

impl WorkerConfig {
    /// Polls every 50 ms: an idle poll is one indexed query per thread.
    pub fn new(db: PathBuf) -> WorkerConfig {
        WorkerConfig {
            db,
            poll: Duration::from_millis(50),
            options: AnalyzeOptions::default(),
            cluster: Config::default(),
        }
    }
}

/// Counters of a running worker.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub messages_analysed: AtomicU64,
    pub clustering_passes: AtomicU64,
    pub campaigns: AtomicU64,
    pub store_errors: AtomicU64,
    pub undecodable: AtomicU64,
}

/// Two threads over one store: capture analysis and clustering, each with its own
/// connection. Stopped (and joined) by [`Worker::stop`] or on drop.
#[derive(Debug)]
pub struct Worker {
    /// Dropping these wakes and ends the threads.
    stop: Vec<mpsc::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    stats: Arc<WorkerStats>,
}

impl Worker {
    /// Opens the store (creating and migrating it if needed) and starts both threads. The
    /// clusterer loads the stored messages' features first, so the first pass after a
    /// restart writes nothing that did not change.
    pub fn start(config: WorkerConfig, engine: Arc<Engine>) -> Result<Worker, StoreError> {
        let stats = Arc::new(WorkerStats::default());
        let capture_store = SqliteStore::open(&config.db)?;
        let cluster_store = SqliteStore::open(&config.db)?;
        let (stop_capture, capture_stopped) = mpsc::channel::<()>();
        let (stop_cluster, cluster_stopped) = mpsc::channel::<()>();
        let capture = {
            let stats = stats.clone();
            let config = config.clone();
            spawn("smishtrap-analyse", move || {
                capture_loop(capture_store, &engine, &config, &stats, &capture_stopped)
            })?
        };
        let cluster = {
            let stats = stats.clone();
            spawn("smishtrap-cluster", move || {
                cluster_loop(cluster_store, &config, &stats, &cluster_stopped)
            })?
        };
        Ok(Worker {
            stop: vec![stop_capture, stop_cluster],
            threads: vec![capture, cluster],
            stats,
        })
    }

    pub fn stats(&self) -> Arc<WorkerStats> {
        self.stats.clone()
    }

    /// Stops both threads after their current step and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.clear();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new().name(name.to_owned()).spawn(f).map_err(|err| StoreError::Backend {
        backend: "sqlite",
        location: name.to_owned(),
        operation: "start analysis thread",
        message: err.to_string(),
    })
}

/// Sleeps for `wait` or until stopped; true when stopped.
fn stopped(rx: &mpsc::Receiver<()>, wait: Duration) -> bool {
    !matches!(rx.recv_timeout(wait), Err(RecvTimeoutError::Timeout))
}

fn capture_loop(
    mut store: SqliteStore,
    engine: &Engine,
    config: &WorkerConfig,
    stats: &WorkerStats,
    stop: &mpsc::Receiver<()>,
) {
    loop {
        let wait = match analyse_captures(&mut store, engine, &config.options, CAPTURE_STEP_ROWS) {
            Ok(progress) => {
                stats.messages_analysed.fetch_add(progress.messages, Ordering::Relaxed);
                stats.undecodable.fetch_add(progress.undecodable, Ordering::Relaxed);
                if progress.events_scanned as usize >= CAPTURE_STEP_ROWS {
                    Duration::ZERO
                } else {
                    config.poll
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "capture analysis failed; retrying");
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                RETRY_AFTER
            }
        };
        if stopped(stop, wait) {
            return;
        }
    }
}

fn cluster_loop(
    mut store: SqliteStore,
    config: &WorkerConfig,
    stats: &WorkerStats,
    stop: &mpsc::Receiver<()>,
) {
    let mut clusterer = Clusterer::new(config.cluster.clone());
    loop {
        // Known campaigns first (cheap, at once), then the full pass when its back-off allows:
        // on a large store a pass takes seconds and must not hold back the live view.
        let step = clusterer.load_new(&store).map_err(ClusterError::from).and_then(|_| {
            let quick = clusterer.assign_known(&mut store).map_err(ClusterError::from)?;
            if quick > 0 {
                tracing::debug!(messages = quick, "joined known campaigns");
            }
            if clusterer.due() {
                clusterer.recluster_live(&mut store, Some(config.poll)).map(Some)
            } else {
                Ok(None)
            }
        });
        let wait = match step {
            Ok(Some(pass)) => {
                stats.clustering_passes.fetch_add(1, Ordering::Relaxed);
                stats.campaigns.store(pass.campaigns as u64, Ordering::Relaxed);
                tracing::debug!(
                    messages = pass.messages,
                    campaigns = pass.campaigns,
                    changed = pass.changed,
                    ms = pass.duration.as_millis() as u64,
                    "clustering pass"
                );
                config.poll
            }
            Ok(None) => config.poll,
            Err(err) => {
                tracing::warn!(error = %err, "clustering failed; retrying");
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                RETRY_AFTER
            }
        };
        stats.undecodable.store(clusterer.undecodable(), Ordering::Relaxed);
        if stopped(stop, wait) {
            return;
        }
    }
}
