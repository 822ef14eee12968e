use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How often a running sensor writes its [`SensorStatus`] into the store; a status older than
/// three periods belongs to a sensor that is gone.
pub const HEARTBEAT_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

/// How often a running sensor rewrites its status file (outside the store), so health turns
/// degraded within about this long even when the store cannot be written.
pub const STATUS_FILE_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// What a running sensor reports about itself (its heartbeat), so a console in another
/// process can show personas, uptime and how many events were or were not recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorStatus {
    /// The sensor name events carry in `sensor`.
    pub sensor: String,
    /// `persona@address` of every listener.
    pub listeners: Vec<String>,
    pub started_at: DateTime<Utc>,
    /// When this status was written; a status much older than the heartbeat period means the
    /// sensor stopped (or died).
    pub updated_at: DateTime<Utc>,
    /// Requests whose event the primary store acknowledged.
    pub events_recorded: u64,
    /// Requests answered with an error because their event could not be stored, plus
    /// connections refused at the limit, plus events a secondary sink dropped.
    pub events_not_recorded: u64,
    /// Whether the sensor said goodbye (clean stop) rather than just going quiet.
    #[serde(default)]
    pub stopped: bool,
    /// Whether the sensor can record what it answers, and why not.
    #[serde(default)]
    pub health: Health,
    /// Fleet figures: version, store size, forward lag, retention (absent in heartbeats of
    /// older sensors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetHealth>,
}

/// What a hub needs to watch a sensor of a fleet, measured on the sensor's store.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FleetHealth {
    /// The sensor's smishtrap version.
    pub version: String,
    /// Persona names served.
    pub personas: Vec<String>,
    /// Events committed locally but not acknowledged by NATS yet (0 without forwarding).
    pub forward_lag: u64,
    /// Time of the oldest event not forwarded yet.
    pub oldest_unforwarded: Option<DateTime<Utc>>,
    /// Whether the sensor forwards to a hub at all.
    pub forwarding: bool,
    /// Live bytes of the event store.
    pub store_bytes: u64,
    /// Events stored with a time in the last hour.
    pub events_last_hour: u64,
    /// Events deleted by retention after forwarding (or by age and size without it), total.
    pub retention_pruned: u64,
    /// Events deleted before they were forwarded (store past its hard cap), total.
    pub retention_dropped_unforwarded: u64,
}

/// Health of a sensor (or of the console that shows it): `{"status":"ok"}` or
/// `{"status":"degraded","reasons":["store-full","low-disk"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Health {
    #[default]
    Ok,
    /// Something is wrong; `reasons` is sorted and never empty.
    Degraded { reasons: Vec<Degraded> },
}

/// Why health is degraded. The serialized names are a stable interface (logs, API, scripts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Degraded {
    /// The primary store has no room: the sensor answers like a busy device and records
    /// nothing until space is freed (free space under the refuse watermark, or the store
    /// reported a full disk).
    StoreFull,
    /// Commits to the primary store fail for another reason.
    StoreFailing,
    /// Free space on the data volume is under the warning watermark; still recording.
    LowDisk,
    /// A secondary sink (the JSONL log) fails or falls behind.
    SinkErrors,
    /// A sensor that did not stop cleanly has not written its status for three periods.
    SensorSilent,
    /// The console cannot read the event store.
    StoreUnreadable,
}

impl Degraded {
    /// The stable name (`store-full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Degraded::StoreFull => "store-full",
            Degraded::StoreFailing => "store-failing",
            Degraded::LowDisk => "low-disk",
            Degraded::SinkErrors => "sink-errors",
            Degraded::SensorSilent => "sensor-silent",
            Degraded::StoreUnreadable => "store-unreadable",
        }
    }
}

impl Health {
    /// `Ok` without reasons, else `Degraded` with the reasons sorted and deduplicated.
    pub fn from_reasons(mut reasons: Vec<Degraded>) -> Health {
        reasons.sort_unstable();
        reasons.dedup();
        if reasons.is_empty() { Health::Ok } else { Health::Degraded { reasons } }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Health::Ok)
    }

    pub fn reasons(&self) -> &[Degraded] {
        match self {
            Health::Ok => &[],
            Health::Degraded { reasons } => reasons,
        }
    }

    /// `ok` or `degraded: store-full low-disk` (for logs and `/healthz`).
    pub fn summary(&self) -> String {
        match self {
            Health::Ok => "ok".to_owned(),
            Health::Degraded { reasons } => {
                let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
                format!("degraded: {}", names.join(" "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(reasons: Vec<Degraded>, json: &str, summary: &str) {
        let health = Health::from_reasons(reasons);
        assert_eq!(serde_json::to_string(&health).unwrap_or_default(), json);
        assert_eq!(health.summary(), summary);
        let back: Health = serde_json::from_str(json).unwrap_or_default();
        assert_eq!(back, health);
        for r in health.reasons() {
            assert_eq!(serde_json::to_string(r).unwrap_or_default(), format!("\"{}\"", r.as_str()));
        }
    }

    #[test]
    fn health_has_a_stable_shape() {
        check(vec![], r#"{"status":"ok"}"#, "ok");
        check(
            vec![Degraded::LowDisk, Degraded::StoreFull, Degraded::LowDisk],
            r#"{"status":"degraded","reasons":["store-full","low-disk"]}"#,
            "degraded: store-full low-disk",
        );
        check(
            vec![Degraded::SinkErrors, Degraded::StoreFailing, Degraded::SensorSilent],
            r#"{"status":"degraded","reasons":["store-failing","sink-errors","sensor-silent"]}"#,
            "degraded: store-failing sink-errors sensor-silent",
        );
    }

    #[test]
    fn a_status_without_health_reads_as_ok() {
        let old = r#"{"sensor":"s","listeners":[],"started_at":"2026-01-01T00:00:00Z",
            "updated_at":"2026-01-01T00:00:05Z","events_recorded":1,"events_not_recorded":0}"#;
        let status: Result<SensorStatus, _> = serde_json::from_str(old);
        assert_eq!(status.map(|s| s.health).ok(), Some(Health::Ok));
    }
}
