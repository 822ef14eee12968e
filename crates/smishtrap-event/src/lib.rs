//! The API boundary of smishtrap: what a sensor records and what the analysis reads.
//!
//! - [`Event`] is one recorded request, versioned by [`SCHEMA_VERSION`]; see
//!   `docs/event-schema.md` for the field-by-field contract.
//! - [`SensorStatus`] is a running sensor's heartbeat (uptime, events recorded and not).
//! - [`SmsRecord`] is one SMS as the intelligence engine sees it, whether it was captured by a
//!   sensor (`sms.send` events), read from a router outbox or imported from a file.
//!
//! Invariant: this crate does no I/O and depends on neither tokio nor any storage crate.

mod event;
mod sms;
mod status;

pub use event::{
    AuthRecord, BodyEncoding, Event, EventKind, HttpRecord, MAX_BODY_BYTES, SCHEMA_VERSION,
    SmsAction, SmsBox, SmsDialect, body_digest,
};
pub use sms::{Direction, SmsRecord};
pub use status::{
    Degraded, FleetHealth, HEARTBEAT_PERIOD, Health, STATUS_FILE_PERIOD, SensorStatus,
};
