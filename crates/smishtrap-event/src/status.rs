use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How often a running sensor writes its [`SensorStatus`]; a status older than three periods
/// belongs to a sensor that is gone.
pub const HEARTBEAT_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

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
}
