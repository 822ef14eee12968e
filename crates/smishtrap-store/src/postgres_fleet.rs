//! Sensor heartbeats of a fleet in PostgreSQL (cargo feature `postgres`): the hub stores the
//! latest [`SensorStatus`] each sensor sent over NATS, one row per sensor, in the same schema
//! as the events.
//!
//! The table is versioned on its own (`smishtrap_fleet_schema`), so it coexists with the
//! event and analysis migrations of [`crate::PostgresStore`].

use postgres::{Client, Config, NoTls};
use smishtrap_event::SensorStatus;

use crate::StoreError;
use crate::postgres::{Migrations, run_migrations};

const BACKEND: &str = "postgres";

/// Entry `n` brings the fleet tables from version `n` to `n + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    // v1: latest heartbeat per sensor (the JSON as sent, and when the hub received it).
    "CREATE TABLE sensor_heartbeats (
        name TEXT PRIMARY KEY,
        updated BIGINT NOT NULL,
        received BIGINT NOT NULL,
        status TEXT NOT NULL
    );",
];

/// Serialises migrations of concurrent hubs.
const FLEET_MIGRATION_LOCK: i64 = 0x736d_6973_6866_6c74; // "smishflt"

/// Largest heartbeat stored (a heartbeat is about 1 KiB).
pub const MAX_HEARTBEAT_BYTES: usize = 64 * 1024;

/// Heartbeats of a fleet in one PostgreSQL schema.
pub struct PostgresFleet {
    client: Client,
    location: String,
}

impl std::fmt::Debug for PostgresFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresFleet").field("location", &self.location).finish_non_exhaustive()
    }
}

impl PostgresFleet {
    /// Connects, creates the schema if needed and migrates the fleet tables.
    pub fn open(conninfo: &str, schema: &str) -> Result<PostgresFleet, StoreError> {
        let fail = |location: String, operation: &'static str, message: String| {
            StoreError::Backend { backend: BACKEND, location, operation, message }
        };
        let config: Config = conninfo.parse().map_err(|e: postgres::Error| {
            fail("?".into(), "parse connection string", e.to_string())
        })?;
        let location = format!(
            "{} schema {schema}",
            config.get_dbname().unwrap_or("postgres").chars().take(64).collect::<String>()
        );
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(fail(location, "select schema", "invalid schema name".into()));
        }
        let client =
            config.connect(NoTls).map_err(|e| fail(location.clone(), "connect", e.to_string()))?;
        let mut fleet = PostgresFleet { client, location };
        fleet
            .client
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET search_path TO \"{schema}\""
            ))
            .map_err(fleet.err("create schema"))?;
        fleet.migrate()?;
        Ok(fleet)
    }

    fn err(&self, operation: &'static str) -> impl FnOnce(postgres::Error) -> StoreError + use<> {
        let location = self.location.clone();
        move |e| StoreError::Backend {
            backend: BACKEND,
            location,
            operation,
            message: e.to_string(),
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let err = self.err("migrate fleet tables");
        let part = Migrations {
            lock: FLEET_MIGRATION_LOCK,
            version_table: "smishtrap_fleet_schema",
            sql: MIGRATIONS,
        };
        let result =
            run_migrations(&mut self.client, &self.location, &part, |_, _, sql| Ok(sql.to_owned()));
        result.map_err(err)?
    }

    /// Stores a sensor's heartbeat, replacing an older one (a heartbeat older than the stored
    /// one, e.g. redelivered late, is ignored). `received_us`: when the hub got it.
    pub fn put_heartbeat(
        &mut self,
        status: &SensorStatus,
        received_us: i64,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(status).map_err(|source| StoreError::Encode {
            path: self.location.clone().into(),
            id: status.sensor.clone(),
            source,
        })?;
        self.client
            .execute(
                "INSERT INTO sensor_heartbeats (name, updated, received, status) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET \
                 updated = excluded.updated, received = excluded.received, status = excluded.status \
                 WHERE sensor_heartbeats.updated <= excluded.updated",
                &[&status.sensor, &status.updated_at.timestamp_micros(), &received_us, &json],
            )
            .map(drop)
            .map_err(self.err("store sensor heartbeat"))
    }

    /// Every sensor's latest heartbeat, by name (rows that do not decode are skipped: they
    /// come from a newer smishtrap).
    pub fn heartbeats(&mut self) -> Result<Vec<SensorStatus>, StoreError> {
        let rows = self
            .client
            .query("SELECT status FROM sensor_heartbeats ORDER BY name", &[])
            .map_err(self.err("read sensor heartbeats"))?;
        Ok(rows
            .iter()
            .filter_map(|row| row.try_get::<_, String>(0).ok())
            .filter_map(|json| serde_json::from_str(&json).ok())
            .collect())
    }
}
