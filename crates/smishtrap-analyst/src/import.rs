//! Bulk import of SMS records into the store (`smishtrap import`).
//!
//! Pipeline (the shape of `smishtrap analyze`): the caller's feed runs on a reader thread
//! and hands numbered pieces of consecutive records over a bounded channel; one worker per
//! core parses, analyses and turns each piece into store rows (and campaign features when a
//! [`Clusterer`] is given); the calling thread puts the pieces back in input order into
//! batches, and a writer thread stores each batch in one transaction of any [`BulkSink`]
//! (SQLite, PostgreSQL) while the next one fills. A piece is sent only with a credit that
//! comes back once it is in a batch, and at most one batch waits for the writer, so at most a
//! window of pieces plus three batches are in memory, whatever the input.
//!
//! The features of the new messages go to the clusterer as they are stored, so the clustering
//! pass after an import does not read a million messages back and decode their JSON.
//!
//! Invariant: message ids are the caller's (e.g. [`crate::import_id`]) and inserts skip ids
//! already stored, so re-running a crashed or finished import stores nothing twice; every
//! committed batch survives `kill -9` (WAL, see the store's durability note).

use std::collections::BTreeMap;
use std::sync::Arc;

use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{BulkSink, NewMessage, StoreError};

use crate::clusterer::Features;
use crate::{Clusterer, import_id, message_of};

/// Messages stored per transaction: large enough that commits and the text index's segment
/// merges are rare, small enough to keep a batch's rows (a few MB) and the WAL bounded.
const BATCH: usize = 16_384;
/// Pieces each channel holds per worker.
const PIECES_PER_WORKER: usize = 4;

/// What the caller's reader yields, in input order.
#[derive(Debug)]
pub enum Feed<T> {
    /// Consecutive records of one source, not parsed yet (the workers parse them).
    Records { source: Arc<str>, items: Vec<T> },
    /// A source that could not be opened, with the reason.
    Unreadable { source: Arc<str>, error: String },
    /// A source without a single record (empty, or a header only).
    Empty { source: Arc<str> },
}

/// One parsed input record, or its line and problem.
#[derive(Debug)]
pub enum Parsed {
    Record { record: Box<SmsRecord>, line: u64, warning: Option<String> },
    Bad { line: u64, message: String },
}

/// What the import tells its caller, in input order.
#[derive(Debug)]
pub enum Notice<'a> {
    Unreadable {
        source: &'a str,
        error: &'a str,
    },
    Empty {
        source: &'a str,
    },
    /// A record stored with a warning (e.g. lossy UTF-8).
    Warning {
        source: &'a str,
        line: u64,
        message: &'a str,
    },
    /// A malformed record (not stored).
    Bad {
        source: &'a str,
        line: u64,
        message: &'a str,
    },
    /// A batch was committed: records read so far, and the source of the last one.
    Stored {
        records: u64,
        source: &'a str,
    },
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Worker threads (at least one).
    pub jobs: usize,
    /// The message time of records without a parsable `ts`, microseconds since the epoch.
    pub started_micros: i64,
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportTotals {
    /// Records analysed (stored now or before).
    pub records: u64,
    /// Messages stored by this import.
    pub new: u64,
    /// Malformed records.
    pub bad: u64,
    /// Sources that could not be opened.
    pub unreadable: u64,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug, not input: the engine never panics by contract.
    #[error("an analysis worker failed; the import stopped")]
    Worker,
}

/// One analysed record: its row and features, with the reader's warning; or its problem.
type Row = Result<(NewMessage, Option<Features>, Option<(u64, String)>), (u64, String)>;

/// What a worker hands back for one piece.
enum Done {
    Rows(Arc<str>, Vec<Row>),
    Unreadable(Arc<str>, String),
    Empty(Arc<str>),
}

/// A batch on its way to the writer thread.
struct Batch {
    messages: Vec<NewMessage>,
    features: Vec<Option<Features>>,
    /// Records read up to its last one, and that one's source (for [`Notice::Stored`]).
    records: u64,
    source: Arc<str>,
}

/// Imports every record `feed` yields into `store` (see the module docs). With a
/// `clusterer` (which must hold what was stored before, [`Clusterer::load_new`]), the new
/// messages' features are handed to it; call [`Clusterer::verify_held`] before its pass.
#[allow(clippy::too_many_arguments, reason = "the parts of one import, each used once")]
pub fn import<S, T, I, P>(
    store: &mut S,
    feed: I,
    parse: P,
    engine: &Engine,
    options: &AnalyzeOptions,
    config: &ImportConfig,
    clusterer: Option<&mut Clusterer>,
    mut notice: impl FnMut(Notice<'_>),
) -> Result<ImportTotals, ImportError>
where
    S: BulkSink + ?Sized,
    T: Send,
    I: Iterator<Item = Feed<T>> + Send,
    P: Fn(T) -> Parsed + Sync,
{
    store.begin_bulk()?;
    let jobs = config.jobs.max(1);
    let cluster_cfg: Option<Config> = clusterer.as_ref().map(|c| c.config().clone());
    let (work_tx, work_rx) = crossbeam_channel::bounded::<(u64, Feed<T>)>(jobs * PIECES_PER_WORKER);
    let (done_tx, done_rx) =
        crossbeam_channel::bounded::<(u64, Option<Done>)>(jobs * PIECES_PER_WORKER);
    let window = jobs * PIECES_PER_WORKER * 3;
    let (credit_tx, credit_rx) = crossbeam_channel::bounded::<()>(window);
    for _ in 0..window {
        let _ = credit_tx.send(());
    }
    // one batch waits while the writer stores the previous one
    let (batch_tx, batch_rx) = crossbeam_channel::bounded::<Batch>(1);
    let (stored_tx, stored_rx) = crossbeam_channel::unbounded::<(u64, u64, Arc<str>)>();
    let mut totals = ImportTotals::default();
    std::thread::scope(|scope| -> Result<(), ImportError> {
        scope.spawn(move || {
            for (seq, piece) in (0u64..).zip(feed) {
                if credit_rx.recv().is_err() || work_tx.send((seq, piece)).is_err() {
                    return;
                }
            }
        });
        for _ in 0..jobs {
            let (work_rx, done_tx) = (work_rx.clone(), done_tx.clone());
            let (parse, cluster_cfg) = (&parse, cluster_cfg.as_ref());
            scope.spawn(move || {
                for (seq, piece) in work_rx {
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        analyse_piece(piece, parse, engine, options, config, cluster_cfg)
                    }))
                    .ok();
                    // the receiver is gone after an error: stop
                    if done_tx.send((seq, done)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let writer = scope.spawn(move || write_batches(store, clusterer, batch_rx, stored_tx));
        let stored = |totals: &mut ImportTotals, notice: &mut dyn FnMut(Notice<'_>)| {
            for (new, records, source) in stored_rx.try_iter() {
                totals.new += new;
                notice(Notice::Stored { records, source: &source });
            }
        };
        let read = (|| -> Result<(), ImportError> {
            let mut early: BTreeMap<u64, Done> = BTreeMap::new();
            let mut next = 0u64;
            let mut batch: Vec<NewMessage> = Vec::with_capacity(BATCH);
            let mut features: Vec<Option<Features>> = Vec::with_capacity(BATCH);
            let mut last_source: Arc<str> = Arc::from("");
            // on an error, closing the channels below stops the other threads
            for (seq, done) in &done_rx {
                let done = done.ok_or(ImportError::Worker)?;
                early.insert(seq, done);
                while let Some(done) = early.remove(&next) {
                    next += 1;
                    let _ = credit_tx.try_send(());
                    let (source, rows) = match done {
                        Done::Unreadable(source, error) => {
                            totals.unreadable += 1;
                            notice(Notice::Unreadable { source: &source, error: &error });
                            continue;
                        }
                        Done::Empty(source) => {
                            notice(Notice::Empty { source: &source });
                            continue;
                        }
                        Done::Rows(source, rows) => (source, rows),
                    };
                    for row in rows {
                        match row {
                            Ok((message, feature, warning)) => {
                                if let Some((line, message)) = &warning {
                                    notice(Notice::Warning {
                                        source: &source,
                                        line: *line,
                                        message,
                                    });
                                }
                                totals.records += 1;
                                batch.push(message);
                                features.push(feature);
                            }
                            Err((line, message)) => {
                                totals.bad += 1;
                                notice(Notice::Bad { source: &source, line, message: &message });
                            }
                        }
                    }
                    last_source = source;
                    if batch.len() >= BATCH {
                        let full = Batch {
                            messages: std::mem::replace(&mut batch, Vec::with_capacity(BATCH)),
                            features: std::mem::replace(&mut features, Vec::with_capacity(BATCH)),
                            records: totals.records,
                            source: last_source.clone(),
                        };
                        // a writer that stopped has its error for the join below
                        if batch_tx.send(full).is_err() {
                            return Ok(());
                        }
                    }
                    stored(&mut totals, &mut notice);
                }
            }
            if !early.is_empty() {
                return Err(ImportError::Worker);
            }
            if !batch.is_empty() {
                let records = totals.records;
                let _ = batch_tx.send(Batch {
                    messages: batch,
                    features,
                    records,
                    source: last_source,
                });
            }
            Ok(())
        })();
        // the reader may wait for a credit, the workers for the reorderer, the writer for
        // a batch: closing these ends them all
        drop((batch_tx, done_rx, credit_tx));
        let written = writer.join().map_err(|_| ImportError::Worker)?;
        stored(&mut totals, &mut notice);
        read?;
        written.map_err(ImportError::from)
    })?;
    Ok(totals)
}

/// The writer thread: stores each batch and hands the new messages' features to the
/// clusterer, reporting `(new messages, records, source)` per batch; then ends the bulk load.
fn write_batches<S: BulkSink + ?Sized>(
    store: &mut S,
    mut clusterer: Option<&mut Clusterer>,
    batches: crossbeam_channel::Receiver<Batch>,
    stored: crossbeam_channel::Sender<(u64, u64, Arc<str>)>,
) -> Result<(), StoreError> {
    for batch in batches {
        let seqs = store.insert_messages_bulk(&batch.messages)?;
        let mut new = 0;
        for (seq, feature) in seqs.into_iter().zip(batch.features) {
            let Some(seq) = seq else { continue };
            new += 1;
            if let (Some(clusterer), Some(feature)) = (clusterer.as_deref_mut(), feature) {
                clusterer.hold_stored(seq, feature);
            }
        }
        let _ = stored.send((new, batch.records, batch.source));
    }
    store.finish_bulk()
}

/// Parses and analyses one piece, on a worker thread.
fn analyse_piece<T>(
    piece: Feed<T>,
    parse: &(impl Fn(T) -> Parsed + Sync),
    engine: &Engine,
    options: &AnalyzeOptions,
    config: &ImportConfig,
    cluster: Option<&Config>,
) -> Done {
    let (source, items) = match piece {
        Feed::Records { source, items } => (source, items),
        Feed::Unreadable { source, error } => return Done::Unreadable(source, error),
        Feed::Empty { source } => return Done::Empty(source),
    };
    // each step over the whole piece before the next, so that its code stays in the
    // instruction cache from record to record (see `Engine::analyze_all`)
    let parsed: Vec<Parsed> = items.into_iter().map(parse).collect();
    let records = parsed.iter().filter_map(|p| match p {
        Parsed::Record { record, line, .. } => Some((&**record, import_id(record, *line))),
        Parsed::Bad { .. } => None,
    });
    let mut analyses = engine.analyze_all(records, options).into_iter();
    let rows = parsed
        .into_iter()
        .map(|p| match p {
            Parsed::Record { record, line, warning } => {
                let Some(analysis) = analyses.next() else {
                    return Err((line, "record left without an analysis".to_string()));
                };
                let message = message_of(&record, &analysis, "import", None, config.started_micros);
                let features = cluster.map(|cfg| Features::new(&record, &analysis, cfg));
                Ok((message, features, warning.map(|w| (line, w))))
            }
            Parsed::Bad { line, message } => Err((line, message)),
        })
        .collect();
    Done::Rows(source, rows)
}
