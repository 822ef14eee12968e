//! `smishtrap import FILE...`: SMS records from files (router outbox dumps, telco exports)
//! analysed into the data directory's store, where `run` and `console` show them; then one
//! clustering pass so their campaigns are there even without a running `run`. The pipeline
//! is the analyst's ([`smishtrap_analyst::import()`]); this module reads the files and reports.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::Context;
use smishtrap_analyst::{Clusterer, Feed, ImportConfig, ImportTotals, Notice, Parsed};
use smishtrap_intel::campaign::Config;
use smishtrap_store::{BulkSink, DataLock, SqliteStore, StoreError};

use crate::input::{self, Item, RawItem, Source};

/// Records handed to a worker at once (as in `analyze`).
const PIECE: usize = 256;
/// Problems printed before only counting the rest.
const MAX_PRINTED_PROBLEMS: u64 = 100;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// SMS record files: JSONL, or CSV/TSV with a header; `-` reads standard input
    #[arg(value_name = "FILE", required = true)]
    files: Vec<String>,
    /// Data directory to import into (the one `run` and `console` use)
    #[arg(long, value_name = "DIR", default_value = super::DEFAULT_DATA)]
    data: PathBuf,
    /// Import into the hub's PostgreSQL instead (libpq conninfo or postgres://…; a password
    /// is better kept in SMISHTRAP_POSTGRES, given as `--store env`)
    #[cfg(feature = "hub")]
    #[arg(long, value_name = "CONNINFO", conflicts_with = "data")]
    store: Option<String>,
    /// PostgreSQL schema of the hub's store (with --store)
    #[cfg(feature = "hub")]
    #[arg(long, value_name = "NAME", default_value = "public", requires = "store")]
    schema: String,
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Exit 0 even when some records were malformed (they are still reported)
    #[arg(long)]
    allow_bad: bool,
    /// Skip the clustering pass at the end (a running `run` or hub clusters new messages
    /// itself)
    #[arg(long)]
    no_cluster: bool,
    /// Worker threads (default: one per core)
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    #[cfg(feature = "hub")]
    if let Some(conninfo) = &args.store {
        return run_postgres(&args, conninfo);
    }
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("{}: cannot create the data directory", args.data.display()))?;
    let db = smishtrap_store::db_path(&args.data);
    let mut store = SqliteStore::open(&db)
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    // the features of the new messages go straight to the clusterer, unless a running `run`
    // (holding the data directory) clusters them itself
    let mut clusterer = None;
    let mut note = None;
    if !args.no_cluster {
        match DataLock::acquire(&args.data) {
            Ok(_lock) => {
                let mut c = Clusterer::new(Config::default());
                c.load_new(&mut store).context("reading stored messages for clustering")?;
                clusterer = Some(c);
            }
            Err(err @ StoreError::Locked { .. }) => note = Some(err.to_string()),
            Err(err) => return Err(err.into()),
        }
    }
    let shown = db.display().to_string();
    let (totals, unreadable) = import_files(&mut store, clusterer.as_mut(), &args, &shown)?;
    let mut campaigns = None;
    if let Some(mut clusterer) = clusterer {
        match DataLock::acquire(&args.data) {
            Ok(_lock) => campaigns = Some(cluster(&mut store, &mut clusterer)?),
            Err(err @ StoreError::Locked { .. }) => note = Some(err.to_string()),
            Err(err) => return Err(err.into()),
        }
    }
    finish(&args, &args.data.display().to_string(), &totals, campaigns, note, &unreadable)
}

/// `--store`: the same import into the hub's PostgreSQL store; this process clusters when
/// no hub holds the clustering job (a hub that does clusters the new messages itself).
#[cfg(feature = "hub")]
fn run_postgres(args: &Args, conninfo: &str) -> anyhow::Result<ExitCode> {
    use smishtrap_store::AnalysisStore;
    let conninfo = if conninfo == "env" {
        std::env::var("SMISHTRAP_POSTGRES").context("--store env: SMISHTRAP_POSTGRES is not set")?
    } else {
        conninfo.to_owned()
    };
    let mut store = smishtrap_store::PostgresStore::open(&conninfo, &args.schema)
        .with_context(|| format!("cannot open the PostgreSQL store (schema {})", args.schema))?;
    let shown = format!("PostgreSQL schema {}", args.schema);
    let mut clusterer = None;
    let mut note = None;
    if !args.no_cluster {
        if store.lead(smishtrap_analyst::CLUSTER_JOB).context("asking for the clustering job")? {
            let mut c = Clusterer::new(Config::default());
            c.load_new(&mut store).context("reading stored messages for clustering")?;
            clusterer = Some(c);
        } else {
            note = Some(format!("a hub is clustering {shown}"));
        }
    }
    // indexes a large import defers are built after the clustering pass, which updates the
    // new rows (killed before, the next open builds them)
    store.hold_deferred_indexes();
    let (totals, unreadable) = import_files(&mut store, clusterer.as_mut(), args, &shown)?;
    let campaigns = match clusterer {
        Some(mut clusterer) => Some(cluster(&mut store, &mut clusterer)?),
        None => None,
    };
    store.build_deferred_indexes().context("building the indexes the import deferred")?;
    finish(args, &shown, &totals, campaigns, note, &unreadable)
}

/// Imports the files into `store` (any backend) with a progress bar and problem reports;
/// returns the totals and the sources that could not be read.
fn import_files<S: BulkSink>(
    store: &mut S,
    clusterer: Option<&mut Clusterer>,
    args: &Args,
    shown: &str,
) -> anyhow::Result<(ImportTotals, Vec<String>)> {
    let (engine, options) = args.engine.load()?;
    let progress = progress_bar();
    let config = ImportConfig {
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)),
        started_micros: chrono::Utc::now().timestamp_micros(),
    };
    let mut printed = 0u64;
    let mut unreadable = Vec::new();
    let mut problem = |line: String| {
        if printed < MAX_PRINTED_PROBLEMS {
            printed += 1;
            report(progress.as_ref(), &line);
        }
    };
    let totals = smishtrap_analyst::import(
        store,
        FileFeed::new(&args.files),
        |raw: RawItem| match raw.parse() {
            Item::Record { record, line, warning } => Parsed::Record { record, line, warning },
            Item::Bad { line, message } => Parsed::Bad { line, message },
        },
        &engine,
        &options,
        &config,
        clusterer,
        |notice| match notice {
            Notice::Unreadable { source, error } => {
                // name the file once: open errors name it, format errors may already
                let err = if error.starts_with(source) {
                    error.to_owned()
                } else {
                    format!("{source}: {error}")
                };
                report(progress.as_ref(), &format!("error: {err}"));
                unreadable.push(source.to_owned());
            }
            Notice::Empty { source } => {
                report(progress.as_ref(), &format!("warning: {source}: empty input, no records"));
            }
            Notice::Warning { source, line, message } => {
                problem(format!("warning: {source}:{line}: {message}"));
            }
            Notice::Bad { source, line, message } => {
                problem(format!("error: {source}:{line}: {message}"));
            }
            Notice::Stored { records, source } => {
                if let Some(pb) = &progress {
                    pb.set_message(source.to_owned());
                    pb.set_position(records);
                }
            }
        },
    )
    .with_context(|| format!("{shown}: cannot import"))?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    Ok((totals, unreadable))
}

/// The clustering pass after an import: returns how many campaigns the store holds.
fn cluster<S: BulkSink>(store: &mut S, clusterer: &mut Clusterer) -> anyhow::Result<usize> {
    clusterer.verify_held(store).context("reading stored messages for clustering")?;
    Ok(clusterer.recluster(store).context("clustering stored messages")?.campaigns)
}

/// Reports the outcome; the exit code says whether every record was read.
fn finish(
    args: &Args,
    shown: &str,
    totals: &ImportTotals,
    campaigns: Option<usize>,
    note: Option<String>,
    unreadable: &[String],
) -> anyhow::Result<ExitCode> {
    // the running `run` or hub clusters them itself, within seconds
    if let Some(note) = note {
        report(None, &format!("note: {note}; it clusters the new messages itself"));
    }
    summary(shown, totals, campaigns);
    if !unreadable.is_empty() {
        anyhow::bail!("could not read {}", unreadable.join(", "));
    }
    if totals.bad > 0 && !args.allow_bad {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The unparsed records of one open input file.
type Records = std::iter::Peekable<Box<dyn Iterator<Item = RawItem> + Send>>;

/// The records of the input files in order, in pieces of [`PIECE`], unparsed.
struct FileFeed<'a> {
    files: std::slice::Iter<'a, String>,
    current: Option<(Arc<str>, Records)>,
}

impl FileFeed<'_> {
    fn new(files: &[String]) -> FileFeed<'_> {
        FileFeed { files: files.iter(), current: None }
    }
}

impl Iterator for FileFeed<'_> {
    type Item = Feed<RawItem>;

    fn next(&mut self) -> Option<Feed<RawItem>> {
        loop {
            if let Some((source, items)) = &mut self.current {
                let items: Vec<RawItem> = items.by_ref().take(PIECE).collect();
                if !items.is_empty() {
                    return Some(Feed::Records { source: source.clone(), items });
                }
                self.current = None;
            }
            let source = Source::parse(self.files.next()?);
            let name: Arc<str> = source.name().into();
            match input::open_raw(&source) {
                Ok(items) => {
                    let mut items = items.peekable();
                    if items.peek().is_none() {
                        return Some(Feed::Empty { source: name });
                    }
                    self.current = Some((name, items));
                }
                Err(err) => {
                    return Some(Feed::Unreadable { source: name, error: format!("{err:#}") });
                }
            }
        }
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} messages imported ({per_sec}) {elapsed} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(200));
        pb
    })
}

#[allow(clippy::print_stderr, reason = "per-record problems go to stderr, as in analyze")]
fn report(progress: Option<&indicatif::ProgressBar>, line: &str) {
    match progress {
        Some(pb) => pb.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

#[allow(clippy::print_stderr, reason = "the import summary is for the person running it")]
fn summary(shown: &str, totals: &ImportTotals, campaigns: Option<usize>) {
    let old = totals.records - totals.new;
    eprintln!(
        "imported {} messages into {shown} ({} new, {old} already stored, {} malformed)",
        totals.records, totals.new, totals.bad
    );
    if let Some(n) = campaigns {
        eprintln!("{n} campaigns in the store");
    }
}
