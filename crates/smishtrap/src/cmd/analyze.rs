//! `smishtrap analyze`: SMS records in, one analysis per record out (JSONL, CSV or table).
//!
//! Streaming pipeline: a reader thread splits records into numbered pieces of consecutive
//! records (bounded channel); one worker thread per core parses, analyses and renders each
//! piece into one output buffer; the main thread puts the buffers back in input order and
//! writes them. No worker waits for another (a chunk-wide barrier left cores idle), and
//! memory stays flat whatever the input size: at most the channels' pieces are in flight.
//!
//! Output ids: the record's own `id`, else its 1-based record number counted over the whole
//! run (all inputs in the order given; malformed records take a number too), so ids are
//! unique within a run and equal the line/record number for a single input.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use smishtrap_event::SmsRecord;
use smishtrap_intel::campaign::CampaignInput;
use smishtrap_intel::{Analysis, AnalyzeOptions, Engine, Verdict};

use crate::input::{self, Item, Source};

/// Records per chunk handed to `campaigns` and `export`.
const CHUNK: usize = 4096;
/// Records a worker analyses in one go into one output buffer: large enough to amortise
/// the channels, small enough to keep output flowing.
const PIECE: usize = 256;
/// Pieces each channel holds per worker.
const PIECES_PER_WORKER: usize = 4;
/// Malformed-record messages printed before only counting the rest.
const MAX_PRINTED_PROBLEMS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// One JSON object per record (the DESIGN.md contract)
    Jsonl,
    /// A readable terminal table, URLs defanged
    Table,
    /// Comma-separated values, safe to open in a spreadsheet
    Csv,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// SMS record files: JSONL, or CSV/TSV with a header; `-` reads standard input
    #[arg(value_name = "FILE")]
    files: Vec<String>,
    /// Also analyse the sms.send events a sensor stored in this data directory
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    format: OutputFormat,
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Exit 0 even when some records were malformed (they are still reported)
    #[arg(long)]
    allow_bad: bool,
    /// Worker threads (default: one per core)
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Leave `campaign` and `phase` null (skips the global campaign pass of jsonl output)
    #[arg(long)]
    no_campaigns: bool,
}

/// One unit of work, in input order (also read by `campaigns` and `export`).
pub(crate) enum Work {
    Record {
        id: String,
        record: Box<SmsRecord>,
        origin: Arc<str>,
        line: u64,
        warning: Option<String>,
    },
    Bad {
        origin: Arc<str>,
        line: Option<u64>,
        message: String,
    },
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.files.is_empty() && args.data.is_none() {
        anyhow::bail!("no input: give FILE... (- for standard input) or --data DIR");
    }
    let (engine, options) = args.engine.load()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .max(1);
    let sources: Vec<Source> = args.files.iter().map(|f| Source::parse(f)).collect();
    let data = args.data.clone();

    // reader thread (splits lines into numbered pieces) -> worker threads (parse, analyse
    // and render a piece each) -> this thread (restores input order, writes); bounded
    // channels keep memory flat and let reading, analysing and writing overlap
    let (tx, rx) = crossbeam_channel::bounded::<(u64, Vec<Pending>)>(jobs * PIECES_PER_WORKER);
    // A piece is sent only with a credit, which comes back once it is written: at most
    // `window` pieces are in flight, so the reorder buffer below stays bounded however
    // uneven the pieces' costs.
    let window = jobs * PIECES_PER_WORKER * 3;
    let (credit_tx, credit_rx) = crossbeam_channel::bounded::<()>(window);
    for _ in 0..window {
        let _ = credit_tx.send(());
    }
    let reader = std::thread::Builder::new()
        .name("analyze-reader".into())
        .spawn(move || {
            let mut seq = 0u64;
            read_chunks(&sources, data.as_deref(), PIECE, |piece| {
                seq += 1;
                credit_rx.recv().is_ok() && tx.send((seq - 1, piece)).is_ok()
            })
        })
        .context("starting the reader thread")?;

    let progress = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} messages analysed ({per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb
    });

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let format = args.format;
    if format == OutputFormat::Table {
        write_out(&mut out, table_header().as_bytes())?;
    } else if format == OutputFormat::Csv {
        write_out(&mut out, csv_header().as_bytes())?;
    }
    // campaigns (issue 4): jsonl lines are spooled with compact features, then re-emitted
    let mut campaign_pass = if format == OutputFormat::Jsonl && !args.no_campaigns {
        Some(super::campaigns::CampaignPass::new()?)
    } else {
        None
    };
    let with_features = campaign_pass.is_some();
    let (done_tx, done_rx) =
        crossbeam_channel::bounded::<(u64, Option<Done>)>(jobs * PIECES_PER_WORKER);
    let engine = Arc::new(engine);
    let options = Arc::new(options);
    let mut workers = Vec::with_capacity(jobs);
    for n in 0..jobs {
        let (rx, done_tx, engine, options) =
            (rx.clone(), done_tx.clone(), engine.clone(), options.clone());
        let worker = std::thread::Builder::new()
            .name(format!("analyze-{n}"))
            .spawn(move || {
                // each piece is analysed by one worker into one buffer: no per-record
                // output allocation, records freed by the thread that parsed them
                for (seq, piece) in rx {
                    // the engine never panics by contract; should it, the piece comes back
                    // empty and the run fails instead of waiting for it forever
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        analyse_piece(piece, &engine, &options, format, with_features)
                    }))
                    .ok();
                    // the receiver is gone after a broken pipe or an error: stop reading
                    if done_tx.send((seq, done)).is_err() {
                        break;
                    }
                }
            })
            .context("starting a worker thread")?;
        workers.push(worker);
    }
    drop((rx, done_tx));
    let mut bad: u64 = 0;
    let mut printed: u64 = 0;
    let mut analysed: u64 = 0;
    let mut broken_pipe = false;
    // pieces that finished before an earlier one; at most `window`
    let mut early: std::collections::BTreeMap<u64, Done> = std::collections::BTreeMap::new();
    let mut next: u64 = 0;
    for (seq, done) in done_rx {
        let Some(done) = done else {
            anyhow::bail!("analysing a piece of the input failed; the output is incomplete");
        };
        early.insert(seq, done);
        while let Some(done) = early.remove(&next) {
            next += 1;
            let _ = credit_tx.try_send(());
            for problem in &done.problems {
                if problem.bad {
                    bad += 1;
                }
                if printed < MAX_PRINTED_PROBLEMS {
                    printed += 1;
                    report(progress.as_ref(), &problem.message);
                }
            }
            analysed += done.analysed;
            match campaign_pass.as_mut() {
                // campaigns (issue 4): spool instead of writing while the pass collects features
                Some(pass) => {
                    for (features, span) in done.features {
                        pass.push(features, done.out.get(span).unwrap_or_default())?;
                    }
                }
                None => {
                    if !broken_pipe && let Err(e) = write_out(&mut out, &done.out) {
                        if !is_broken_pipe(&e) {
                            return Err(e);
                        }
                        broken_pipe = true;
                    }
                }
            }
        }
        if let Some(pb) = &progress {
            pb.set_position(analysed);
        }
        if broken_pipe {
            // The workers and then the reader stop when their channels close.
            break;
        }
    }
    drop(credit_tx);
    // every piece sent was written unless the output broke: a piece missing here means a
    // worker died, and the output would silently lack records
    let worker_died = workers.into_iter().map(|w| w.join().is_err()).fold(false, |a, b| a | b);
    if !broken_pipe && (worker_died || !early.is_empty()) {
        anyhow::bail!("an analysis worker thread failed; the output is incomplete");
    }
    // campaigns (issue 4): cluster, then write the spooled lines with campaign and phase
    if let Some(pass) = campaign_pass
        && !broken_pipe
        && let Err(e) = pass.finish(&mut out)
    {
        if !is_broken_pipe(&e) {
            return Err(e);
        }
        broken_pipe = true;
    }
    if !broken_pipe
        && let Err(e) = out.flush()
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(anyhow::Error::from(e).context("writing output"));
    }
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let fatal = reader.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    if printed >= MAX_PRINTED_PROBLEMS && bad > printed {
        report(None, &format!("error: {} more malformed records not shown", bad - printed));
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    if bad > 0 {
        report(
            None,
            &format!(
                "{}: {bad} malformed record{} skipped, {analysed} analysed",
                if args.allow_bad { "warning" } else { "error" },
                if bad == 1 { "" } else { "s" }
            ),
        );
        if !args.allow_bad {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[allow(clippy::print_stderr, reason = "per-record problems go to stderr by contract")]
fn report(progress: Option<&indicatif::ProgressBar>, line: &str) {
    match progress {
        Some(pb) => pb.suspend(|| eprintln!("{line}")),
        None => eprintln!("{line}"),
    }
}

fn write_out(out: &mut impl Write, bytes: &[u8]) -> anyhow::Result<()> {
    out.write_all(bytes).context("writing output")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Reads every source in order into chunks of parsed records (for `campaigns` and `export`);
/// returns a fatal error (unreadable source) to report after the records already read were
/// written.
pub(crate) fn read_all(
    sources: &[Source],
    data: Option<&std::path::Path>,
    tx: &crossbeam_channel::Sender<Vec<Work>>,
) -> Option<anyhow::Error> {
    read_chunks(sources, data, CHUNK, |chunk| {
        tx.send(chunk.into_iter().map(Pending::into_work).collect()).is_ok()
    })
}

/// A record as the reader thread hands it over: JSONL lines are parsed later, in parallel,
/// by [`Pending::into_work`] (one reader thread parsing JSON was a bottleneck).
pub(crate) enum Pending {
    Ready(Work),
    Raw { raw: input::RawItem, ordinal: u64, origin: Arc<str> },
}

impl Pending {
    pub(crate) fn into_work(self) -> Work {
        match self {
            Pending::Ready(work) => work,
            Pending::Raw { raw, ordinal, origin } => match raw.parse() {
                Item::Record { record, line, warning } => Work::Record {
                    id: record.id.clone().unwrap_or_else(|| ordinal.to_string()),
                    record,
                    origin,
                    line,
                    warning,
                },
                Item::Bad { line, message } => Work::Bad { origin, line: Some(line), message },
            },
        }
    }
}

/// A problem to report on stderr, in input order.
struct Problem {
    /// A malformed record (counted), not a warning.
    bad: bool,
    message: String,
}

/// The analysed output of a run of consecutive records.
struct Done {
    /// The rendered records, concatenated in input order.
    out: Vec<u8>,
    /// Campaign pass only: each record's features and the byte range of its line in `out`.
    features: Vec<(CampaignInput, std::ops::Range<usize>)>,
    analysed: u64,
    problems: Vec<Problem>,
}

/// Parses, analyses and renders `piece` in order, on the calling (pool) thread: each step
/// over the whole piece before the next (and the engine's own steps, see
/// [`Engine::analyze_all`]), so that the code of one step stays in the instruction cache
/// from record to record; one record's steps in turn missed it once per 70 instructions.
fn analyse_piece(
    piece: Vec<Pending>,
    engine: &Engine,
    options: &AnalyzeOptions,
    format: OutputFormat,
    with_features: bool,
) -> Done {
    let mut done = Done {
        out: Vec::with_capacity(piece.len() * 384),
        features: Vec::new(),
        analysed: 0,
        problems: Vec::new(),
    };
    let (mut records, mut ids) = (Vec::with_capacity(piece.len()), Vec::with_capacity(piece.len()));
    for pending in piece {
        match pending.into_work() {
            Work::Bad { origin, line, message } => {
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                done.problems.push(Problem {
                    bad: true,
                    message: format!("error: {origin}{at}: {message}"),
                });
            }
            Work::Record { id, record, origin, line, warning } => {
                if let Some(w) = warning {
                    done.problems.push(Problem {
                        bad: false,
                        message: format!("warning: {origin}:{line}: {w}"),
                    });
                }
                records.push(record);
                ids.push(id);
            }
        }
    }
    let analyses = engine.analyze_all(records.iter().map(|r| &**r).zip(ids), options);
    for (record, analysis) in records.iter().zip(&analyses) {
        let start = done.out.len();
        render_into(analysis, format, &mut done.out);
        if with_features {
            let features = super::campaigns::CampaignPass::features(record, analysis);
            done.features.push((features, start..done.out.len()));
        }
        done.analysed += 1;
    }
    done
}

/// Reads every source in order into chunks of `size` records passed to `send` (which
/// returns false to stop); returns a fatal error (unreadable source) to report after the
/// records already read were written.
fn read_chunks(
    sources: &[Source],
    data: Option<&std::path::Path>,
    size: usize,
    mut send: impl FnMut(Vec<Pending>) -> bool,
) -> Option<anyhow::Error> {
    let size = size.max(1);
    let mut ordinal: u64 = 0;
    let mut chunk: Vec<Pending> = Vec::with_capacity(size);
    let mut fatal: Option<anyhow::Error> = None;
    let mut send = |chunk: &mut Vec<Pending>| -> bool {
        send(std::mem::replace(chunk, Vec::with_capacity(size)))
    };
    for source in sources {
        let origin: Arc<str> = source.name().into();
        let items = match input::open_raw(source) {
            Ok(items) => items,
            Err(e) => {
                chunk.push(Pending::Ready(Work::Bad {
                    origin: origin.clone(),
                    line: None,
                    message: format!("{e:#}"),
                }));
                fatal.get_or_insert_with(|| anyhow::anyhow!("{origin}: could not be read"));
                continue;
            }
        };
        for raw in items {
            ordinal += 1;
            chunk.push(Pending::Raw { raw, ordinal, origin: origin.clone() });
            if chunk.len() >= size && !send(&mut chunk) {
                return fatal;
            }
        }
    }
    if let Some(dir) = data {
        let origin: Arc<str> = format!("{} (sensor store)", dir.display()).into();
        let path = smishtrap_store::db_path(dir);
        let store = if path.exists() {
            smishtrap_store::SqliteStore::open_read_only(&path)
                .with_context(|| format!("opening the sensor store {}", path.display()))
        } else {
            Err(anyhow::anyhow!("{}: no sensor store (expected {})", dir.display(), path.display()))
        };
        let records = store.and_then(|store| {
            let records = store
                .sms_records(&smishtrap_store::EventFilter::default())
                .with_context(|| format!("reading {}", path.display()))?;
            for r in records {
                ordinal += 1;
                chunk.push(Pending::Ready(match r {
                    Ok(record) => Work::Record {
                        id: record.id.clone().unwrap_or_else(|| ordinal.to_string()),
                        record: Box::new(record),
                        origin: origin.clone(),
                        line: ordinal,
                        warning: None,
                    },
                    Err(e) => {
                        Work::Bad { origin: origin.clone(), line: None, message: format!("{e:#}") }
                    }
                }));
                if chunk.len() >= size && !send(&mut chunk) {
                    return Ok(false);
                }
            }
            Ok(true)
        });
        match records {
            Ok(true) => {}
            Ok(false) => return fatal,
            Err(e) => {
                fatal.get_or_insert(e);
            }
        }
    }
    if !chunk.is_empty() {
        send(&mut chunk);
    }
    fatal
}

fn render_into(a: &Analysis, format: OutputFormat, out: &mut Vec<u8>) {
    match format {
        OutputFormat::Jsonl => {
            let start = out.len();
            if serde_json::to_writer(&mut *out, a).is_err() {
                out.truncate(start);
                out.extend_from_slice(b"{}");
            }
            out.push(b'\n');
        }
        OutputFormat::Csv => out.extend_from_slice(csv_row(a).as_bytes()),
        OutputFormat::Table => out.extend_from_slice(table_row(a).as_bytes()),
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Smishing => "smishing",
        Verdict::Spam => "spam",
        Verdict::Ham => "ham",
    }
}

/// Printable, single-line, bounded: control and bidi characters become spaces.
fn clean(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        let bidi = matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
        out.push(if c.is_control() || bidi { ' ' } else { c });
    }
    out
}

fn defanged_urls(a: &Analysis) -> String {
    a.urls.iter().map(|u| smishtrap_extract::defang(&u.url)).collect::<Vec<_>>().join(" ")
}

const CSV_COLUMNS: &[&str] = &[
    "id",
    "verdict",
    "score",
    "brand",
    "lang",
    "recipient",
    "recipient_country",
    "sender",
    "sender_country",
    "urls",
    "impersonates",
    "reasons",
];

fn csv_header() -> String {
    let mut s = CSV_COLUMNS.join(",");
    s.push('\n');
    s
}

/// A CSV cell: spreadsheet formulas neutralised (leading `= + - @` tab or CR get a `'`),
/// quoted when needed.
fn csv_cell(value: &str) -> String {
    let value = clean(value, 4000);
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn csv_row(a: &Analysis) -> String {
    let impersonates: Vec<&str> = a.urls.iter().filter_map(|u| u.impersonates.as_deref()).collect();
    let cells = [
        a.id.clone(),
        verdict_name(a.verdict).to_string(),
        format!("{:.3}", a.score),
        a.brand.clone().unwrap_or_default(),
        a.lang.clone().unwrap_or_default(),
        a.recipient.as_ref().map(|n| n.e164.clone()).unwrap_or_default(),
        a.recipient.as_ref().and_then(|n| n.country.clone()).unwrap_or_default(),
        a.sender.as_ref().map(|n| n.e164.clone()).unwrap_or_default(),
        a.sender.as_ref().and_then(|n| n.country.clone()).unwrap_or_default(),
        defanged_urls(a),
        impersonates.join(" "),
        a.reasons.join(" | "),
    ];
    let mut row = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    row.push('\n');
    row
}

const TABLE_WIDTHS: [usize; 7] = [16, 8, 5, 18, 4, 16, 36];

fn pad(s: &str, width: usize) -> String {
    let s = clean(s, width.saturating_sub(1).max(1));
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn table_header() -> String {
    let cols = ["ID", "VERDICT", "SCORE", "BRAND", "LANG", "RECIPIENT", "LINK"];
    let mut s: String = cols.iter().zip(TABLE_WIDTHS).map(|(c, w)| pad(c, w + 1)).collect();
    s.push_str("TOP REASON\n");
    s
}

fn table_row(a: &Analysis) -> String {
    let link = a.urls.first().map(|u| smishtrap_extract::defang(&u.url)).unwrap_or_default();
    let cells = [
        a.id.clone(),
        verdict_name(a.verdict).to_string(),
        format!("{:.2}", a.score),
        a.brand.clone().unwrap_or_else(|| "-".into()),
        a.lang.clone().unwrap_or_else(|| "-".into()),
        a.recipient.as_ref().map(|n| n.e164.clone()).unwrap_or_else(|| "-".into()),
        if link.is_empty() { "-".into() } else { link },
    ];
    let mut s: String = cells.iter().zip(TABLE_WIDTHS).map(|(c, w)| pad(c, w + 1)).collect();
    s.push_str(&clean(a.reasons.first().map(String::as_str).unwrap_or("-"), 120));
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_formula_safe() {
        for (input, expect) in [
            ("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\""),
            ("+32470123456", "'+32470123456"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("line\nbreak", "line break"),
        ] {
            assert_eq!(csv_cell(input), expect, "{input}");
        }
    }

    #[test]
    fn table_cells_are_clean_and_bounded() {
        assert_eq!(clean("a\u{1b}[31mb\u{202E}c", 80), "a [31mb c");
        assert_eq!(pad("abcdefghij", 5), "abcd…");
    }
}
