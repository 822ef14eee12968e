//! Store upkeep of a running sensor (`sensor` and `run`): retention of the SQLite store
//! (`[retention]`, see `smishtrap_store::retention`) and the fleet figures of its heartbeat
//! (store size, forward lag, events per hour), on their own thread every `check_secs`, so
//! neither capture nor the health watch waits on them.

use std::path::PathBuf;
use std::sync::mpsc::{RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use smishtrap_event::FleetHealth;
use smishtrap_store::retention::{DROPPED_UNFORWARDED_CURSOR, PRUNED_CURSOR, Retention};
use smishtrap_store::{FORWARDED_CURSOR, SqliteStore};

const MIB: u64 = 1024 * 1024;

/// The `[retention]` section. Defaults scale with the data volume: hard cap 40 % of it (at
/// most 4 GiB), soft limit half the hard cap, 90 days.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RetentionConfig {
    /// Past this size (MiB), forwarded events are deleted, oldest first.
    pub(crate) max_mib: Option<u64>,
    /// Past this size (MiB), unforwarded events are deleted too (counted and reported).
    pub(crate) hard_cap_mib: Option<u64>,
    /// Forwarded events older than this many days are deleted (0: no age limit).
    pub(crate) max_age_days: Option<u64>,
    /// Seconds between two rounds (default 15).
    pub(crate) check_secs: Option<u64>,
}

impl RetentionConfig {
    /// The policy for a data volume of `volume` bytes.
    pub(crate) fn policy(&self, volume: u64) -> anyhow::Result<Retention> {
        let default_hard = if volume == 0 { 4096 * MIB } else { (volume / 10 * 4).min(4096 * MIB) };
        let hard = self.hard_cap_mib.map_or(default_hard, |m| m.saturating_mul(MIB));
        let soft = self.max_mib.map_or(hard / 2, |m| m.saturating_mul(MIB));
        anyhow::ensure!(
            soft <= hard,
            "retention: max_mib ({}) above hard_cap_mib ({})",
            soft / MIB,
            hard / MIB
        );
        let days = self.max_age_days.unwrap_or(90);
        Ok(Retention {
            max_bytes: soft,
            hard_cap_bytes: hard,
            max_age: (days > 0).then(|| Duration::from_secs(days.saturating_mul(86_400))),
        })
    }

    /// Whether any retention setting was given.
    fn is_set(&self) -> bool {
        self.max_mib.is_some() || self.hard_cap_mib.is_some() || self.max_age_days.is_some()
    }

    fn period(&self) -> Duration {
        Duration::from_secs(self.check_secs.unwrap_or(15).max(1))
    }
}

/// What the upkeep thread needs.
pub(crate) struct MaintainConfig {
    pub(crate) db: PathBuf,
    pub(crate) policy: Retention,
    pub(crate) period: Duration,
    pub(crate) forwarding: bool,
    /// Whether retention deletes anything: with forwarding (the hub keeps the events) or
    /// when the operator set `[retention]`/its flags. A stand-alone sensor's store is the only
    /// copy of its captures, so by default it is never pruned; the free-space watermarks keep
    /// its disk safe (it refuses, and answers busy, rather than fill the volume).
    pub(crate) pruning: bool,
    pub(crate) personas: Vec<String>,
}

impl MaintainConfig {
    pub(crate) fn new(
        db: PathBuf,
        config: &RetentionConfig,
        volume: u64,
        forwarding: bool,
        personas: Vec<String>,
    ) -> anyhow::Result<MaintainConfig> {
        Ok(MaintainConfig {
            db,
            policy: config.policy(volume)?,
            period: config.period(),
            forwarding,
            pruning: forwarding || config.is_set(),
            personas,
        })
    }
}

/// The running upkeep thread; its latest figures are in [`Maintain::fleet`].
pub(crate) struct Maintain {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    fleet: Arc<Mutex<Option<FleetHealth>>>,
}

impl Maintain {
    pub(crate) fn start(config: MaintainConfig) -> anyhow::Result<Maintain> {
        let mut store = SqliteStore::open(&config.db)
            .with_context(|| format!("{}: cannot open the event store", config.db.display()))?;
        tracing::info!(
            max_bytes = config.policy.max_bytes,
            hard_cap_bytes = config.policy.hard_cap_bytes,
            max_age_days = config.policy.max_age.map_or(0, |a| a.as_secs() / 86_400),
            "store retention"
        );
        let fleet = Arc::new(Mutex::new(None));
        let shared = fleet.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sensor-retention".into())
            .spawn(move || {
                let mut failure_logged = false;
                loop {
                    match round(&mut store, &config) {
                        Ok(figures) => {
                            failure_logged = false;
                            if let Ok(mut f) = shared.lock() {
                                *f = Some(figures);
                            }
                        }
                        Err(err) if !failure_logged => {
                            failure_logged = true;
                            tracing::warn!(error = %err, "store retention failed");
                        }
                        Err(_) => {}
                    }
                    if !matches!(
                        stopped.recv_timeout(config.period),
                        Err(RecvTimeoutError::Timeout)
                    ) {
                        break;
                    }
                }
            })
            .context("cannot start the store retention")?;
        Ok(Maintain { stop: Some(stop), thread: Some(thread), fleet })
    }

    /// The latest figures, shared with the health watch.
    pub(crate) fn fleet(&self) -> Arc<Mutex<Option<FleetHealth>>> {
        self.fleet.clone()
    }

    pub(crate) fn stop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Maintain {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One round: prune, then measure.
fn round(
    store: &mut SqliteStore,
    config: &MaintainConfig,
) -> Result<FleetHealth, smishtrap_store::StoreError> {
    let cursor = if config.forwarding { Some(store.cursor(FORWARDED_CURSOR)?) } else { None };
    let now = chrono::Utc::now();
    let report = if config.pruning {
        store.prune(&config.policy, cursor, now.timestamp_micros())?
    } else {
        smishtrap_store::retention::PruneReport {
            used_bytes: store.used_bytes()?,
            ..Default::default()
        }
    };
    if report.dropped_unforwarded > 0 {
        tracing::error!(
            dropped = report.dropped_unforwarded,
            used_bytes = report.used_bytes,
            hard_cap_bytes = config.policy.hard_cap_bytes,
            "store past its hard cap: deleted events that were never forwarded"
        );
    } else if report.pruned > 0 {
        tracing::info!(pruned = report.pruned, used_bytes = report.used_bytes, "store retention");
    }
    let (forward_lag, oldest) = match cursor {
        Some(c) => (store.count_after(c)?, store.oldest_after(c)?),
        None => (0, None),
    };
    let hour_ago = now - chrono::Duration::hours(1);
    Ok(FleetHealth {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        personas: config.personas.clone(),
        forward_lag,
        oldest_unforwarded: oldest.and_then(chrono::DateTime::from_timestamp_micros),
        forwarding: config.forwarding,
        store_bytes: report.used_bytes,
        events_last_hour: store.count_since(hour_ago.timestamp_micros())?,
        retention_pruned: u64::try_from(store.cursor(PRUNED_CURSOR)?).unwrap_or(0),
        retention_dropped_unforwarded: u64::try_from(store.cursor(DROPPED_UNFORWARDED_CURSOR)?)
            .unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(config: RetentionConfig, volume_mib: u64, expect: Option<(u64, u64, u64)>) {
        let got = config.policy(volume_mib * MIB).ok().map(|p| {
            (
                p.max_bytes / MIB,
                p.hard_cap_bytes / MIB,
                p.max_age.map_or(0, |a| a.as_secs() / 86_400),
            )
        });
        assert_eq!(got, expect);
    }

    /// A stand-alone sensor's store is the only copy of its captures: pruned only when the
    /// operator asks; a forwarding one is pruned by default (the hub keeps the events).
    #[test]
    fn only_forwarding_or_configured_sensors_prune() {
        let pruning = |config: RetentionConfig, forwarding: bool| {
            MaintainConfig::new(PathBuf::from("x.db"), &config, 100 * MIB, forwarding, Vec::new())
                .map(|c| c.pruning)
                .ok()
        };
        assert_eq!(pruning(RetentionConfig::default(), false), Some(false));
        assert_eq!(pruning(RetentionConfig::default(), true), Some(true));
        let aged = RetentionConfig { max_age_days: Some(30), ..Default::default() };
        assert_eq!(pruning(aged, false), Some(true));
        let sized = RetentionConfig { hard_cap_mib: Some(50), ..Default::default() };
        assert_eq!(pruning(sized, false), Some(true));
        let period_only = RetentionConfig { check_secs: Some(5), ..Default::default() };
        assert_eq!(pruning(period_only, false), Some(false));
    }

    #[test]
    fn defaults_scale_with_the_volume() {
        check(RetentionConfig::default(), 8 * 1024, Some((1638, 3276, 90)));
        check(RetentionConfig::default(), 1024 * 1024, Some((2048, 4096, 90)));
        check(RetentionConfig::default(), 0, Some((2048, 4096, 90)));
        let explicit = RetentionConfig {
            max_mib: Some(10),
            hard_cap_mib: Some(20),
            max_age_days: Some(0),
            check_secs: None,
        };
        check(explicit, 100, Some((10, 20, 0)));
        let inverted =
            RetentionConfig { max_mib: Some(30), hard_cap_mib: Some(20), ..Default::default() };
        check(inverted, 100, None);
    }
}
