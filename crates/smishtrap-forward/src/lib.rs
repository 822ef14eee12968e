//! Moving events off a sensor: the forwarder that publishes a sensor's committed events to
//! NATS JetStream, and (cargo feature `hub`) the hub's ingestion of them into PostgreSQL.
//!
//! - [`Forwarder`] reads the sensor's SQLite store after its forward cursor
//!   ([`smishtrap_store::FORWARDED_CURSOR`]), publishes each event to
//!   `smishtrap.events.<sensor>` with the event id as `Nats-Msg-Id`, waits for the JetStream
//!   acknowledgements and only then moves the cursor. It runs on its own task, so capture
//!   never waits on NATS; while NATS is unreachable it retries with capped exponential
//!   back-off and resumes from the cursor.
//! - `hub::Hub` (feature `hub`) pulls from the durable consumer of stream
//!   [`STREAM`], checks each event's `sensor` against its subject, inserts the batch into
//!   PostgreSQL (idempotent: event ids are unique) and acknowledges only after the commit.
//!
//! Invariant: an event is forwarded only after it is committed in the sensor's store (the
//! forwarder reads the store, never the capture path).
//! Invariant: the forward cursor moves only after JetStream acknowledged every event up to it.
//! Invariant: the hub acknowledges a message only after its event is committed in PostgreSQL
//! (or after rejecting it for good).
//! Invariant: the NATS address comes only from the operator's configuration, never from
//! event data.

mod backoff;
pub mod enroll;
mod forwarder;
#[cfg(feature = "hub")]
pub mod hub;
mod name;

pub use backoff::Backoff;
pub use forwarder::{ForwardConfig, ForwardError, ForwardStats, Forwarder, check_url, connect};
pub use name::{SensorName, SensorNameError};

/// The JetStream stream every sensor publishes into.
pub const STREAM: &str = "SMISHTRAP_EVENTS";

/// Subjects of [`STREAM`]: one per sensor below this prefix.
pub const SUBJECT_PREFIX: &str = "smishtrap.events";

/// Subjects of sensor heartbeats: `smishtrap.status.<sensor>` (not part of [`STREAM`]).
pub const STATUS_PREFIX: &str = "smishtrap.status";

/// Largest event payload accepted on either side (NATS's default `max_payload` is 1 MiB;
/// a stored event is a few KiB at most).
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// The subject a sensor publishes to: `smishtrap.events.<sensor>`.
pub fn subject(sensor: &SensorName) -> String {
    format!("{SUBJECT_PREFIX}.{sensor}")
}

/// The subject a sensor publishes its heartbeat to: `smishtrap.status.<sensor>`.
pub fn status_subject(sensor: &SensorName) -> String {
    format!("{STATUS_PREFIX}.{sensor}")
}

/// The sensor named by a subject of [`STREAM`], `None` when the subject is not
/// `smishtrap.events.<valid sensor name>`.
pub fn sensor_of_subject(subject: &str) -> Option<SensorName> {
    let rest = subject.strip_prefix(SUBJECT_PREFIX)?.strip_prefix('.')?;
    SensorName::parse(rest).ok()
}

/// Creates the stream if it does not exist (subjects `smishtrap.events.>`, file storage,
/// deduplication window on `Nats-Msg-Id`) and returns it. Used by the hub; a sensor never
/// creates it (its credentials may only publish).
pub async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    duplicate_window: std::time::Duration,
) -> Result<async_nats::jetstream::stream::Stream, String> {
    use async_nats::jetstream::stream;
    js.get_or_create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec![format!("{SUBJECT_PREFIX}.>")],
        storage: stream::StorageType::File,
        duplicate_window,
        max_message_size: i32::try_from(MAX_EVENT_BYTES).unwrap_or(i32::MAX),
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(subject: &str, expect: Option<&str>) {
        assert_eq!(sensor_of_subject(subject).as_ref().map(SensorName::as_str), expect);
    }

    #[test]
    fn subjects_name_their_sensor() {
        check("smishtrap.events.be-01", Some("be-01"));
        check("smishtrap.events.A_b-9", Some("A_b-9"));
        check("smishtrap.events.a.b", None);
        check("smishtrap.events.", None);
        check("smishtrap.events", None);
        check("smishtrap.eventsx.a", None);
        check("other.events.a", None);
    }

    #[test]
    fn subject_round_trips() {
        let name = SensorName::parse("sensor-7").unwrap();
        assert_eq!(subject(&name), "smishtrap.events.sensor-7");
        assert_eq!(sensor_of_subject(&subject(&name)), Some(name));
    }
}
