use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{AnalysisStore, SqliteStore, StoreError};

use crate::{ClusterError, Clusterer, analyse_captures};

/// Event rows one capture step reads before the worker looks at its stop signal again.
const CAPTURE_STEP_ROWS: usize = 16_384;
/// Wait after a store error before trying again (the store may be locked or full).
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// How often a worker that does not hold a job asks for it again (another process runs it).
const FOLLOW_POLL: Duration = Duration::from_secs(1);
/// The single-runner jobs of [`AnalysisStore::lead`].
pub const CAPTURE_JOB: &str = "analyse-captures";
pub const CLUSTER_JOB: &str = "cluster";

/// Opens one connection to the store the worker runs on (called again after an error).
pub type OpenStore<S> = Arc<dyn Fn() -> Result<S, StoreError> + Send + Sync>;

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
        // Created and migrated before the threads start, so an unusable store fails here.
        drop(SqliteStore::open(&config.db)?);
        let db = config.db.clone();
        Worker::start_on(Arc::new(move || SqliteStore::open(&db)), config, engine)
    }

    /// [`Worker::start`] on any store: `open` makes each thread's connection (again after
    /// a store error). On a shared store each job runs in one process at a time
    /// ([`AnalysisStore::lead`]); a worker that does not hold a job asks again every second,
    /// so another process takes over when the holder dies.
    pub fn start_on<S: AnalysisStore + Send + 'static>(
        open: OpenStore<S>,
        config: WorkerConfig,
        engine: Arc<Engine>,
    ) -> Result<Worker, StoreError> {
        let stats = Arc::new(WorkerStats::default());
        let (stop_capture, capture_stopped) = mpsc::channel::<()>();
        let (stop_cluster, cluster_stopped) = mpsc::channel::<()>();
        let capture = {
            let stats = stats.clone();
            let config = config.clone();
            let open = open.clone();
            spawn("smishtrap-analyse", move || {
                capture_loop(&*open, &engine, &config, &stats, &capture_stopped)
            })?
        };
        let cluster = {
            let stats = stats.clone();
            spawn("smishtrap-cluster", move || {
                cluster_loop(&*open, &config, &stats, &cluster_stopped)
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

/// A connection that holds `job`, opened (again) when needed: `Ok(None)` while another
/// process holds the job.
fn leading<'a, S: AnalysisStore>(
    store: &'a mut Option<S>,
    open: &dyn Fn() -> Result<S, StoreError>,
    job: &str,
    holding: &mut bool,
) -> Result<Option<&'a mut S>, StoreError> {
    if store.is_none() {
        *holding = false;
        *store = Some(open()?);
    }
    let Some(s) = store.as_mut() else { return Ok(None) };
    if !s.lead(job)? {
        return Ok(None);
    }
    if !*holding {
        tracing::info!(job, "this process runs the job");
        *holding = true;
    }
    Ok(Some(s))
}

fn capture_loop<S: AnalysisStore>(
    open: &dyn Fn() -> Result<S, StoreError>,
    engine: &Engine,
    config: &WorkerConfig,
    stats: &WorkerStats,
    stop: &mpsc::Receiver<()>,
) {
    let mut store: Option<S> = None;
    let mut holding = false;
    loop {
        let step = leading(&mut store, open, CAPTURE_JOB, &mut holding).and_then(|lead| {
            lead.map(|s| analyse_captures(s, engine, &config.options, CAPTURE_STEP_ROWS))
                .transpose()
        });
        let wait = match step {
            Ok(Some(progress)) => {
                stats.messages_analysed.fetch_add(progress.messages, Ordering::Relaxed);
                stats.undecodable.fetch_add(progress.undecodable, Ordering::Relaxed);
                if progress.events_scanned as usize >= CAPTURE_STEP_ROWS {
                    Duration::ZERO
                } else {
                    config.poll
                }
            }
            Ok(None) => FOLLOW_POLL,
            Err(err) => {
                tracing::warn!(error = %err, "capture analysis failed; retrying");
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                // a fresh connection: the old one may be broken (a restarted server)
                store = None;
                RETRY_AFTER
            }
        };
        if stopped(stop, wait) {
            return;
        }
    }
}

fn cluster_loop<S: AnalysisStore>(
    open: &dyn Fn() -> Result<S, StoreError>,
    config: &WorkerConfig,
    stats: &WorkerStats,
    stop: &mpsc::Receiver<()>,
) {
    let mut store: Option<S> = None;
    let mut clusterer = Clusterer::new(config.cluster.clone());
    let mut holding = false;
    loop {
        // Known campaigns first (cheap, at once), then the full pass when its back-off allows:
        // on a large store a pass takes seconds and must not hold back the live view.
        let step = leading(&mut store, open, CLUSTER_JOB, &mut holding)
            .map_err(ClusterError::from)
            .and_then(|lead| {
                let Some(store) = lead else { return Ok(None) };
                clusterer.load_new(store)?;
                let quick = clusterer.assign_known(store)?;
                if quick > 0 {
                    tracing::debug!(messages = quick, "joined known campaigns");
                }
                if clusterer.due() {
                    clusterer.recluster_live(store, Some(config.poll)).map(|p| Some(Some(p)))
                } else {
                    Ok(Some(None))
                }
            });
        let wait = match step {
            Ok(Some(Some(pass))) => {
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
            Ok(Some(None)) => config.poll,
            Ok(None) => FOLLOW_POLL,
            Err(err) => {
                tracing::warn!(error = %err, "clustering failed; retrying");
                stats.store_errors.fetch_add(1, Ordering::Relaxed);
                // A fresh connection may not get the job back: whoever holds it next
                // starts from the store, and so does this one.
                store = None;
                clusterer = Clusterer::new(config.cluster.clone());
                RETRY_AFTER
            }
        };
        stats.undecodable.store(clusterer.undecodable(), Ordering::Relaxed);
        if stopped(stop, wait) {
            return;
        }
    }
}
