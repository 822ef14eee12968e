//! Moves events from the sensor's request path to storage without losing acknowledged ones.
//!
//! A [`Pipeline`] owns one writer thread. Request handlers call [`Publisher::record`], which
//! encodes the event to JSON (once, on the caller's thread, so the encoding runs on every
//! runtime worker in parallel), queues it on a bounded channel and resolves once the *primary*
//! sink has committed the batch holding it (group commit: one transaction for everything
//! queued meanwhile). Sinks get each event with its JSON ([`EncodedBatch`]) and store those
//! bytes instead of encoding again.
//!
//! Each secondary sink (JSONL files, later NATS) runs on its own thread behind a bounded
//! queue and gets every batch the primary committed, in commit order, after the acks went
//! out. A secondary that falls behind has whole batches dropped and counted
//! (`secondary_dropped`); it never slows the primary or the requests.
//!
//! Invariant: a handler that got [`Outcome::Durable`] can answer its client; the event is in
//! the primary sink. On [`Outcome::NotRecorded`] it must not send a success answer. A failing
//! sink is counted in [`Stats`] and never stops the pipeline: the next batch is tried again,
//! so the pipeline recovers by itself once the disk has room.
//! Invariant: while [`PipelineControl::set_refusing`] is on (the data volume is under its free-space
//! watermark), `record` answers `NotRecorded` at once without queueing, so the store is never
//! driven into `ENOSPC` by a flood.
//! Invariant: the queues are bounded; when the primary's queue is full, `record` waits
//! (backpressure); when a secondary's queue is full, that secondary misses the batch (counted)
//! rather than delay the primary.
//! Invariant: secondaries are best effort: they see a subset of the committed batches, in
//! commit order, never an event the primary did not commit. At shutdown every queued batch is
//! written and every sink flushed before [`PipelineHandle::join`] returns.

mod encoded;
mod jsonl;
mod pipeline;

pub use encoded::EncodedBatch;
pub use jsonl::{JsonlSink, JsonlSinkConfig};
pub use pipeline::{
    Outcome, Pipeline, PipelineConfig, PipelineControl, PipelineHandle, PrimaryState, Publisher,
    Stats, StatsSnapshot,
};

use smishtrap_event::Event;

/// A destination for events. Implementations are driven from one dedicated thread, so they
/// may block (SQLite, files); they must not panic on any event.
pub trait Sink: Send + 'static {
    /// Short fixed name for logs and metrics (never attacker data).
    fn name(&self) -> &'static str;
    /// Writes the whole batch durably or fails as a whole.
    fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError>;
    /// Same as [`Sink::write_batch`], with each event's JSON already encoded; the pipeline
    /// calls this one. Sinks that store JSON should override it to store `batch.json()`
    /// instead of encoding again; the default ignores the JSON.
    fn write_encoded(&mut self, batch: EncodedBatch<'_>) -> Result<(), SinkError> {
        self.write_batch(batch.events())
    }
    /// Makes everything written so far durable; called on shutdown.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// A sink failed to take a batch.
#[derive(Debug, thiserror::Error)]
#[error("sink {sink} failed: {message}")]
pub struct SinkError {
    pub sink: &'static str,
    pub message: String,
    /// Whether the failure was a full disk (or quota): the store recovers by itself once
    /// space is freed, and health says `store-full` rather than `store-failing`.
    pub no_space: bool,
}

impl SinkError {
    pub fn new(sink: &'static str, err: impl std::fmt::Display) -> SinkError {
        SinkError { sink, message: err.to_string(), no_space: false }
    }

    /// A failure because the disk (or the quota) is full.
    pub fn no_space(sink: &'static str, err: impl std::fmt::Display) -> SinkError {
        SinkError { sink, message: err.to_string(), no_space: true }
    }

    /// An I/O failure, classified (`ENOSPC`, `EDQUOT` and `EFBIG` count as no space).
    pub fn io(sink: &'static str, err: &std::io::Error) -> SinkError {
        if is_no_space(err) { SinkError::no_space(sink, err) } else { SinkError::new(sink, err) }
    }
}

/// Whether an I/O error means the file system (or the quota, or the file size limit) is full.
pub fn is_no_space(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge
    )
}
