//! `smishtrap import FILE...`: SMS records from files (router outbox dumps, telco exports)
//! analysed into the data directory's store, where `run` and `console` show them; then one
//! clustering pass so their campaigns are there even without a running `run`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use rayon::prelude::*;
use smishtrap_analyst::{Clusterer, import_id, message_of};
use smishtrap_intel::campaign::Config;
use smishtrap_intel::{AnalyzeOptions, Engine};
use smishtrap_store::{NewMessage, SqliteStore};

use crate::input::{self, Item, RawItem, Source};

/// Records analysed and stored per transaction.
const CHUNK: usize = 4096;
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
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Exit 0 even when some records were malformed (they are still reported)
    #[arg(long)]
    allow_bad: bool,
    /// Skip the clustering pass at the end (a running `run` clusters new messages itself)
    #[arg(long)]
    no_cluster: bool,
}

/// One input record analysed (with the reader's warning, e.g. lossy UTF-8), or its line and
/// problem.
type Analysed = Result<(NewMessage, Option<(u64, String)>), (u64, String)>;

/// What the reading thread hands to the storing one.
enum Chunk {
    /// A file that could not be opened, with the reason.
    Unreadable(std::sync::Arc<str>, String),
    /// The analysed records (or their problems) of one chunk of a file.
    Analysed(std::sync::Arc<str>, Vec<Analysed>),
    /// A file without a single record (empty, or a header only).
    Empty(std::sync::Arc<str>),
}

#[derive(Debug, Default)]
struct Totals {
    records: u64,
    new: u64,
    bad: u64,
    printed: u64,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (engine, options) = args.engine.load()?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("{}: cannot create the data directory", args.data.display()))?;
    let db = smishtrap_store::db_path(&args.data);
    let mut store = SqliteStore::open(&db)
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    let progress = progress_bar();
    let started = chrono::Utc::now().timestamp_micros();
    let mut totals = Totals::default();
    let mut unreadable = Vec::new();
    // reading and analysing (rayon) on one thread, storing on this one: the two overlap, and
    // the bounded channel keeps at most a few chunks in memory
    let (tx, rx) = crossbeam_channel::bounded::<Chunk>(2);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let engine = &engine;
        let options = &options;
        let files = &args.files;
        scope.spawn(move || {
            for file in files {
                let source = Source::parse(file);
                let name: std::sync::Arc<str> = source.name().into();
                let items = match input::open_raw(&source) {
                    Ok(items) => items,
                    Err(err) => {
                        let _ = tx.send(Chunk::Unreadable(name, format!("{err:#}")));
                        continue;
                    }
                };
                let mut items = items.peekable();
                if items.peek().is_none() && tx.send(Chunk::Empty(name.clone())).is_err() {
                    return;
                }
                while items.peek().is_some() {
                    let batch: Vec<RawItem> = items.by_ref().take(CHUNK).collect();
                    let analysed = batch
                        .into_par_iter()
                        .map(|raw| analyse(raw.parse(), engine, options, started))
                        .collect();
                    if tx.send(Chunk::Analysed(name.clone(), analysed)).is_err() {
                        return;
                    }
                }
            }
        });
        for chunk in rx {
            let (name, analysed) = match chunk {
                Chunk::Unreadable(name, err) => {
                    // name the file once: open errors name it, format errors may already
                    let err = if err.starts_with(&*name) { err } else { format!("{name}: {err}") };
                    report(progress.as_ref(), &format!("error: {err}"));
                    unreadable.push(name.to_string());
                    continue;
                }
                Chunk::Empty(name) => {
                    report(progress.as_ref(), &format!("warning: {name}: empty input, no records"));
                    continue;
                }
                Chunk::Analysed(name, analysed) => (name, analysed),
            };
            if let Some(pb) = &progress {
                pb.set_message(name.to_string());
            }
            let mut messages = Vec::with_capacity(analysed.len());
            for item in analysed {
                match item {
                    Ok((message, warning)) => {
                        messages.push(message);
                        if let Some((line, warning)) = warning
                            && totals.printed < MAX_PRINTED_PROBLEMS
                        {
                            totals.printed += 1;
                            report(
                                progress.as_ref(),
                                &format!("warning: {name}:{line}: {warning}"),
                            );
                        }
                    }
                    Err((line, message)) => {
                        totals.bad += 1;
                        if totals.printed < MAX_PRINTED_PROBLEMS {
                            totals.printed += 1;
                            report(progress.as_ref(), &format!("error: {name}:{line}: {message}"));
                        }
                    }
                }
            }
            totals.records += messages.len() as u64;
            // an error here drops the receiver, which stops the reader at its next chunk
            totals.new += store
                .insert_messages(&messages, None)
                .with_context(|| format!("{}: cannot store messages of {name}", db.display()))?
                as u64;
            if let Some(pb) = &progress {
                pb.set_position(totals.records);
            }
        }
        Ok(())
    })?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let mut campaigns = None;
    if !args.no_cluster {
        match smishtrap_store::DataLock::acquire(&args.data) {
            Ok(_lock) => {
                let mut clusterer = Clusterer::new(Config::default());
                clusterer.load_new(&mut store).context("reading stored messages for clustering")?;
                let pass = clusterer.recluster(&mut store).context("clustering stored messages")?;
                campaigns = Some(pass.campaigns);
            }
            // the running `run` clusters them itself, within seconds
            Err(err @ smishtrap_store::StoreError::Locked { .. }) => {
                report(None, &format!("note: {err}; it clusters the new messages itself"));
            }
            Err(err) => return Err(err.into()),
        }
    }
    summary(&args, &totals, campaigns);
    if !unreadable.is_empty() {
        anyhow::bail!("could not read {}", unreadable.join(", "));
    }
    if totals.bad > 0 && !args.allow_bad {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The store row of one input item, or its line and problem.
fn analyse(item: Item, engine: &Engine, options: &AnalyzeOptions, started: i64) -> Analysed {
    match item {
        Item::Record { record, line, warning } => {
            let id = import_id(&record, line);
            let analysis = engine.analyze(&record, id, options);
            Ok((
                message_of(&record, &analysis, "import", None, started),
                warning.map(|w| (line, w)),
            ))
        }
        Item::Bad { line, message } => Err((line, message)),
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
fn summary(args: &Args, totals: &Totals, campaigns: Option<usize>) {
    let old = totals.records - totals.new;
    eprintln!(
        "imported {} messages into {} ({} new, {old} already stored, {} malformed)",
        totals.records,
        args.data.display(),
        totals.new,
        totals.bad
    );
    if let Some(n) = campaigns {
        eprintln!("{n} campaigns in the store");
    }
}
