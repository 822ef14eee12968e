//! Continuous, incremental analysis: what the sensors capture and what analysts import becomes
//! analysed messages and campaigns in the store, without re-analysing what is already there.
//!
//! - [`message_of`] turns a record and its [`Analysis`](smishtrap_intel::Analysis) into the
//!   store's [`NewMessage`](smishtrap_store::NewMessage) (indexed columns plus the JSON).
//! - [`analyse_captures`] reads the `sms.send` events stored after the
//!   [`ANALYSED_CURSOR`](smishtrap_store::ANALYSED_CURSOR), analyses them and stores the
//!   messages, moving the cursor in the same transaction (exactly once, across restarts).
//! - [`Clusterer`] keeps the compact campaign features of every stored message that can take
//!   part in a campaign in memory,
//!   reads only the messages stored since its last pass, re-clusters (cheap next to analysis:
//!   seconds for a million messages) and writes only the assignments and campaigns that
//!   changed, moving the [`CLUSTERED_CURSOR`](smishtrap_store::CLUSTERED_CURSOR).
//! - [`import()`] stores SMS records from files: parsed and analysed on every core, stored in
//!   large transactions in input order, their features handed straight to a [`Clusterer`].
//! - [`Worker`] runs both on their own threads and connections, polling the store, so a
//!   capture is analysed within a poll and a slow clustering pass never delays verdicts.
//!
//! Invariant: a stored message is analysed once; re-clustering reads the stored features,
//! never the engine.
//! Invariant: this crate opens no network connection; it reads and writes one store.

mod capture;
mod clusterer;
mod import;
mod message;
mod worker;

pub use capture::{CaptureProgress, analyse_captures};
pub use clusterer::{ClusterError, ClusterPass, Clusterer, Features};
pub use import::{Feed, ImportConfig, ImportError, ImportTotals, Notice, Parsed, import};
pub use message::{MAX_STORED_TEXT_BYTES, import_id, message_of};
pub use worker::{CAPTURE_JOB, CLUSTER_JOB, OpenStore, Worker, WorkerConfig, WorkerStats};
