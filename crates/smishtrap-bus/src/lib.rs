//! Moves events from the sensor's request path to storage without losing acknowledged ones.
//!
//! A [`Pipeline`] owns one writer thread. Request handlers call [`Publisher::record`], which
//! queues the event on a bounded channel and resolves once the *primary* sink has committed
//! the batch holding it (group commit: one transaction for everything queued meanwhile).
//! Secondary sinks (JSONL files, later NATS) get the same batch after the primary; their
//! failures are counted, never propagated to the request.
//!
//! Invariant: a handler that got [`Outcome::Durable`] can answer its client; the event is in
//! the primary sink. A failing sink is counted in [`Stats`] and never stops the pipeline.
//! Invariant: the queue is bounded; when it is full, `record` waits (backpressure) rather than
//! drop or grow.

mod jsonl;
mod pipeline;

pub use jsonl::{JsonlSink, JsonlSinkConfig};
pub use pipeline::{
    Outcome, Pipeline, PipelineConfig, PipelineHandle, Publisher, Stats, StatsSnapshot,
};

use smishtrap_event::Event;

/// A destination for events. Implementations are driven from one dedicated thread, so they
/// may block (SQLite, files); they must not panic on any event.
pub trait Sink: Send + 'static {
    /// Short fixed name for logs and metrics (never attacker data).
    fn name(&self) -> &'static str;
    /// Writes the whole batch durably or fails as a whole.
    fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError>;
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
}

impl SinkError {
    pub fn new(sink: &'static str, err: impl std::fmt::Display) -> SinkError {
        SinkError { sink, message: err.to_string() }
    }
}
