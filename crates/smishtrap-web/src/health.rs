//! Health of the console and of the sensor writing its data directory, for `/healthz` and
//! `/api/v1/health`.
//!
//! The sensor's health comes from its status file (`DIR/sensor-status.json`), which the
//! sensor rewrites every second outside the store, so a full or failing store shows within
//! seconds. Reads are cached briefly: an unauthenticated `/healthz` flood costs one small
//! file read per [`CACHE_FOR`].

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use smishtrap_event::{Degraded, Health, SensorStatus};

use crate::live::Live;

/// How long one read of the status file answers health requests.
const CACHE_FOR: Duration = Duration::from_millis(250);

/// Reads the sensor's status file, at most once per [`CACHE_FOR`].
#[derive(Debug)]
pub(crate) struct Probe {
    path: PathBuf,
    /// A sensor that did not say goodbye and has not written its status for this long is
    /// silent (`ConsoleConfig::silent_after`).
    silent_after: chrono::TimeDelta,
    cache: Mutex<Option<(Instant, Option<SensorStatus>)>>,
}

/// What `/api/v1/health` reports beyond the store's counters.
#[derive(Debug, Clone)]
pub(crate) struct Report {
    pub(crate) health: Health,
    /// The sensor's last status, if a sensor ever wrote one in this data directory.
    pub(crate) sensor: Option<SensorStatus>,
}

impl Probe {
    pub(crate) fn new(data_dir: &std::path::Path, silent_after: Duration) -> Probe {
        Probe {
            path: smishtrap_store::status_path(data_dir),
            silent_after: chrono::TimeDelta::from_std(silent_after)
                .unwrap_or(chrono::TimeDelta::MAX),
            cache: Mutex::new(None),
        }
    }

    fn sensor(&self) -> Option<SensorStatus> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, status)) = &*cache
            && at.elapsed() < CACHE_FOR
        {
            return status.clone();
        }
        let status = match smishtrap_store::read_status_file(&self.path) {
            Ok(status) => status,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the sensor status file");
                None
            }
        };
        *cache = Some((Instant::now(), status.clone()));
        status
    }

    /// The console's health: the sensor's reasons (while it runs), a silent sensor, and a
    /// store the console cannot read.
    pub(crate) fn report(&self, live: &Live) -> Report {
        let sensor = self.sensor();
        let mut reasons = Vec::new();
        if let Some(status) = sensor.as_ref().filter(|s| !s.stopped) {
            if Utc::now() - status.updated_at > self.silent_after {
                reasons.push(Degraded::SensorSilent);
            } else {
                reasons.extend_from_slice(status.health.reasons());
            }
        }
        if live.last_error().is_some() {
            reasons.push(Degraded::StoreUnreadable);
        }
        Report { health: Health::from_reasons(reasons), sensor }
    }
}
