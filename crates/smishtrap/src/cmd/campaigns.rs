//! `smishtrap campaigns`: the campaigns of a data directory (the console's, stored by the
//! analyst: captures and imports) or of SMS record files, as a table or JSON; and the shared
//! pieces that `export` and `analyze` use:
//! - [`campaigns_of`]: the stored campaigns of `--data DIR` (brought up to date first when no
//!   `run` holds the directory), or files clustered by the same pass the analyst runs;
//! - [`load`]: reads records with analyze's reader, analyses them in parallel and keeps only
//!   the compact campaign features in memory;
//! - [`CampaignPass`]: analyze's JSONL lines are spooled to an unlinked temporary file while
//!   features accumulate, then re-emitted in input order with `campaign` and `phase` filled.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rayon::prelude::*;
use smishtrap_analyst::{Clusterer, analyse_captures};
use smishtrap_intel::Phase;
use smishtrap_intel::campaign::{
    self, Assignment, Campaign, CampaignInput, Config, defang_text, sanitise,
};
use smishtrap_store::{CampaignAlias, DataLock, SqliteStore, StoreError};

use super::analyze::{Work, read_all};
use crate::input::Source;

/// Malformed-record messages printed before only counting the rest.
const MAX_PRINTED_PROBLEMS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// A readable terminal table, domains defanged
    Table,
    /// The campaign summaries as JSON (machine values, not defanged)
    Json,
}

/// Where campaigns come from (shared with `export`).
#[derive(Debug, clap::Args)]
pub(crate) struct InputArgs {
    /// SMS record files to cluster: JSONL, or CSV/TSV with a header; `-` reads standard input.
    /// Without FILE, the campaigns stored in the data directory are shown
    #[arg(value_name = "FILE")]
    pub(crate) files: Vec<String>,
    /// Data directory whose stored campaigns to show (those of `run`, `import` and the
    /// console; new captures and imports are analysed and clustered first unless a `run`
    /// holds the directory)
    #[arg(long, value_name = "DIR", conflicts_with = "files")]
    pub(crate) data: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) engine: super::EngineArgs,
    /// Exit 0 even when some records were malformed (they are still reported)
    #[arg(long)]
    pub(crate) allow_bad: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Show one campaign in detail (an id the console shows, or an older id merged into it):
    /// waves timeline, infrastructure, samples
    #[arg(long, value_name = "ID")]
    show: Option<String>,
    /// Leave out campaigns with fewer messages than this
    #[arg(long, value_name = "N", default_value_t = 1)]
    min_messages: usize,
}

/// Records read and analysed: the compact features, and how many records were malformed.
pub(crate) struct Loaded {
    pub(crate) inputs: Vec<CampaignInput>,
    pub(crate) bad: u64,
}

/// Campaigns from a data directory or from files, with what `--show` and exports need.
pub(crate) struct Found {
    /// Largest first, then by id.
    pub(crate) campaigns: Vec<Campaign>,
    /// Old ids of merged campaigns (stored campaigns only).
    pub(crate) aliases: Vec<CampaignAlias>,
    /// Where they came from, for messages.
    pub(crate) origin: String,
    /// Malformed input records (files only).
    pub(crate) bad: u64,
}

impl Found {
    /// The campaign `id` names, directly or as an alias of a merged campaign.
    pub(crate) fn find(&self, id: &str) -> Option<&Campaign> {
        let id = self.aliases.iter().find(|a| a.alias == id).map_or(id, |a| a.id.as_str());
        self.campaigns.iter().find(|c| c.id == id)
    }
}

#[allow(clippy::print_stderr, reason = "per-record problems go to stderr, as in analyze")]
fn report(line: &str) {
    eprintln!("{line}");
}

/// The campaigns of `args`: files clustered by the analyst's pass (no history, so the ids a
/// fresh store would give), or the stored campaigns of the data directory.
pub(crate) fn campaigns_of(args: &InputArgs) -> anyhow::Result<Found> {
    if !args.files.is_empty() {
        let loaded = load(args)?;
        let result = cluster(&loaded);
        return Ok(Found {
            campaigns: result.campaigns,
            aliases: Vec::new(),
            origin: "this input".into(),
            bad: loaded.bad,
        });
    }
    let dir = args.data.clone().unwrap_or_else(|| super::DEFAULT_DATA.into());
    stored(&dir, &args.engine)
}

/// The stored campaigns of `dir`. When no other process holds the directory, captures not
/// yet analysed and messages not yet clustered (a `sensor` without `run`, an `import
/// --no-cluster`) are brought up to date first, by the analyst's own code.
fn stored(dir: &Path, engine: &super::EngineArgs) -> anyhow::Result<Found> {
    let db = smishtrap_store::db_path(dir);
    if !db.is_file() {
        anyhow::bail!(
            "{}: no store in this data directory (record with `smishtrap run --data {0}` or \
             `smishtrap import --data {0} FILE...`, or give FILE...)",
            dir.display()
        );
    }
    match DataLock::acquire(dir) {
        Ok(_lock) => {
            let mut store = SqliteStore::open(&db)
                .with_context(|| format!("{}: cannot open the store", db.display()))?;
            let (engine, options) = engine.load()?;
            analyse_captures(&mut store, &engine, &options, usize::MAX)
                .with_context(|| format!("{}: analysing new captures", db.display()))?;
            let mut clusterer = Clusterer::new(Config::default());
            clusterer.load_new(&mut store).context("reading stored messages for clustering")?;
            // a pass carries the stored ids over and writes only what changed
            if !clusterer.is_empty() {
                clusterer.recluster(&mut store).context("clustering stored messages")?;
            }
        }
        // a running `run` keeps the store current: read what it wrote
        Err(StoreError::Locked { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let store = SqliteStore::open_read_only(&db)
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    let rows = store.all_campaigns()?;
    let aliases = store.campaign_aliases()?;
    let mut campaigns = Vec::with_capacity(rows.len());
    let mut unreadable = 0usize;
    for row in rows {
        match serde_json::from_str::<Campaign>(&row.summary) {
            Ok(c) => campaigns.push(c),
            Err(_) => unreadable += 1,
        }
    }
    if unreadable > 0 {
        report(&format!(
            "warning: {unreadable} stored campaign summaries do not decode (written by a newer \
             smishtrap?); left out"
        ));
    }
    campaigns.sort_by(|a, b| b.message_count.cmp(&a.message_count).then_with(|| a.id.cmp(&b.id)));
    Ok(Found { campaigns, aliases, origin: dir.display().to_string(), bad: 0 })
}

/// Reads and analyses every record (analyze's reader), keeping only campaign features.
pub(crate) fn load(args: &InputArgs) -> anyhow::Result<Loaded> {
    if args.files.is_empty() {
        anyhow::bail!("no input: give FILE... (- for standard input) or --data DIR");
    }
    let (engine, options) = args.engine.load()?;
    let sources: Vec<Source> = args.files.iter().map(|f| Source::parse(f)).collect();
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Work>>(4);
    let reader = std::thread::Builder::new()
        .name("campaigns-reader".into())
        .spawn(move || read_all(&sources, None, &tx))
        .context("starting the reader thread")?;
    let mut inputs: Vec<CampaignInput> = Vec::new();
    let (mut bad, mut printed) = (0u64, 0u64);
    for chunk in rx {
        let features: Vec<Option<CampaignInput>> = chunk
            .par_iter()
            .map(|w| match w {
                Work::Record { id, record, .. } => {
                    let analysis = engine.analyze(record, id.clone(), &options);
                    Some(CampaignInput::new(0, record, &analysis))
                }
                Work::Bad { .. } => None,
            })
            .collect();
        for (work, feature) in chunk.iter().zip(features) {
            match (work, feature) {
                (_, Some(mut f)) => {
                    f.index = inputs.len();
                    inputs.push(f);
                }
                (Work::Bad { origin, line, message }, None) => {
                    bad += 1;
                    if printed < MAX_PRINTED_PROBLEMS {
                        printed += 1;
                        let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                        report(&format!("error: {origin}{at}: {message}"));
                    }
                }
                (Work::Record { .. }, None) => {}
            }
        }
    }
    let fatal = reader.join().map_err(|_| anyhow::anyhow!("the reader thread panicked"))?;
    if let Some(e) = fatal {
        return Err(e);
    }
    if bad > 0 {
        let level = if args.allow_bad { "warning" } else { "error" };
        report(&format!(
            "{level}: {bad} malformed record{} skipped, {} read",
            if bad == 1 { "" } else { "s" },
            inputs.len()
        ));
    }
    Ok(Loaded { inputs, bad })
}

/// Clusters the loaded records (the pass the analyst runs; no earlier ids to carry); the
/// time it took is logged at debug level (benchmarks).
pub(crate) fn cluster(loaded: &Loaded) -> campaign::Clustering {
    let started = std::time::Instant::now();
    let result = campaign::cluster(&loaded.inputs, &Config::default());
    tracing::debug!(
        messages = loaded.inputs.len(),
        campaigns = result.campaigns.len(),
        seconds = started.elapsed().as_secs_f64(),
        "clustered"
    );
    result
}

/// Exit code after a run that read `found`: 1 when records were malformed (unless allowed).
pub(crate) fn exit_code(found: &Found, allow_bad: bool) -> ExitCode {
    if found.bad > 0 && !allow_bad { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let found = campaigns_of(&args.input)?;
    let campaigns: Vec<&Campaign> =
        found.campaigns.iter().filter(|c| c.message_count >= args.min_messages).collect();
    let mut text = match (&args.show, args.format) {
        (Some(id), format) => {
            let Some(c) = found.find(id) else {
                anyhow::bail!(
                    "no campaign {:?} in {} (ids are listed by `smishtrap campaigns`)",
                    sanitise(id),
                    found.origin
                );
            };
            match format {
                Format::Json => {
                    serde_json::to_string_pretty(c).context("serialising the campaign")?
                }
                Format::Table => detail(c),
            }
        }
        (None, Format::Json) => {
            serde_json::to_string_pretty(&serde_json::json!({ "campaigns": campaigns }))
                .context("serialising campaigns")?
        }
        (None, Format::Table) => table(&campaigns),
    };
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(anyhow::Error::from(e).context("writing output"));
    }
    Ok(exit_code(&found, args.input.allow_bad))
}

/// Printable, single-line, bounded.
fn clean(s: &str, max_chars: usize) -> String {
    let s = sanitise(s).replace(['\n', '\r', '\t'], " ");
    if s.chars().count() <= max_chars {
        return s;
    }
    let mut out: String = s.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let s = clean(s, width);
    let n = s.chars().count();
    format!("{s}{} ", " ".repeat(width.saturating_sub(n)))
}

fn list(values: &[String], max: usize) -> String {
    let mut s = values.iter().take(max).cloned().collect::<Vec<_>>().join(" ");
    if values.len() > max {
        s.push_str(&format!(" +{}", values.len() - max));
    }
    if s.is_empty() { "-".into() } else { s }
}

fn counted(values: &[campaign::Count], max: usize) -> String {
    list(&values.iter().map(|c| format!("{}:{}", c.value, c.count)).collect::<Vec<_>>(), max)
}

fn day(ts: Option<&str>) -> String {
    ts.and_then(|t| t.get(..10)).unwrap_or("-").to_owned()
}

fn table(campaigns: &[&Campaign]) -> String {
    const W: [usize; 13] = [20, 6, 4, 5, 16, 8, 16, 10, 10, 34, 7, 4, 28];
    let head = [
        "CAMPAIGN",
        "MSGS",
        "VAL",
        "WAVES",
        "BRAND",
        "LANGS",
        "TARGETS",
        "FIRST",
        "LAST",
        "HOSTS",
        "ROUTERS",
        "IPS",
        "OPERATOR NUMBERS",
    ];
    let mut s: String = head.iter().zip(W).map(|(h, w)| pad(h, w)).collect();
    s.push_str("LABEL\n");
    for c in campaigns {
        let domains: Vec<String> =
            c.domains.iter().map(|d| smishtrap_export::defang(&d.host)).collect();
        let ops: Vec<String> = c.operator_numbers.iter().map(|n| n.e164.clone()).collect();
        let cells = [
            c.id.clone(),
            c.message_count.to_string(),
            c.validation_messages.to_string(),
            c.waves.len().to_string(),
            c.brand.clone().unwrap_or_else(|| "-".into()),
            list(&c.languages.iter().map(|l| l.value.clone()).collect::<Vec<_>>(), 3),
            counted(&c.target_countries, 3),
            day(c.first_seen.as_deref()),
            day(c.last_seen.as_deref()),
            list(&domains, 2),
            c.routers.len().to_string(),
            c.source_ips.len().to_string(),
            list(&ops, 2),
        ];
        let row: String = cells.iter().zip(W).map(|(v, w)| pad(v, w)).collect();
        s.push_str(&row);
        s.push_str(&clean(&c.label, 100));
        s.push('\n');
    }
    if campaigns.is_empty() {
        s.push_str("(no campaigns: no message was judged smishing)\n");
    }
    s
}

fn detail(c: &Campaign) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<18}{}\n", clean(&v, 400)));
    line("campaign", c.id.clone());
    line("label", c.label.clone());
    line("brand", c.brand.clone().unwrap_or_else(|| "-".into()));
    line(
        "period",
        format!(
            "{} to {}",
            c.first_seen.as_deref().unwrap_or("?"),
            c.last_seen.as_deref().unwrap_or("?")
        ),
    );
    line(
        "messages",
        format!(
            "{} ({} wave, {} validation), {} recipients, {} templates",
            c.message_count, c.wave_messages, c.validation_messages, c.recipients, c.templates
        ),
    );
    line("languages", counted(&c.languages, 8));
    line("target countries", counted(&c.target_countries, 12));
    line("routers", counted(&c.routers, 12));
    line("source IPs", counted(&c.source_ips, 8));
    if !c.sender_numbers.is_empty() {
        line("sender numbers", counted(&c.sender_numbers, 8));
    }
    s.push_str("\nwaves\n");
    for w in &c.waves {
        s.push_str(&format!(
            "  #{:<3} {} .. {}  {} msgs ({} validation)  {} recipients {}  routers {}  hosts {}\n",
            w.number,
            w.start,
            w.end,
            w.messages,
            w.validation_messages,
            w.recipients,
            clean(&counted(&w.target_countries, 4), 40),
            clean(&list(&w.routers, 6), 120),
            clean(
                &list(&w.hosts.iter().map(|d| smishtrap_export::defang(d)).collect::<Vec<_>>(), 4),
                160
            ),
        ));
        if let Some(t) = &w.first_test_at {
            s.push_str(&format!(
                "        validation from {t} to {}\n",
                clean(&list(&w.validation_numbers, 6), 120)
            ));
        }
    }
    s.push_str("\nhosts (links; registrable domain where different)\n");
    for d in &c.domains {
        let mut how = match (&d.impersonates, &d.technique) {
            (Some(b), Some(t)) => format!("imitates {b} ({t})"),
            (Some(b), None) => format!("imitates {b}"),
            _ => "-".into(),
        };
        if d.registrable_domain != d.host {
            how = format!("{how}  under {}", smishtrap_export::defang(&d.registrable_domain));
        }
        s.push_str(&format!(
            "  {:<40} {:>6} msgs  {} .. {}  {}\n",
            clean(&smishtrap_export::defang(&d.host), 40),
            d.count,
            day(d.first_seen.as_deref()),
            day(d.last_seen.as_deref()),
            clean(&how, 160)
        ));
    }
    if !c.operator_numbers.is_empty() {
        s.push_str("\noperator numbers (validation recipients)\n");
        for n in &c.operator_numbers {
            s.push_str(&format!(
                "  {:<16} {:<3} {} sends, {} failed, {} routers, {} .. {}\n",
                clean(&n.e164, 16),
                clean(n.country.as_deref().unwrap_or("-"), 3),
                n.count,
                n.failed,
                n.routers,
                day(n.first_seen.as_deref()),
                day(n.last_seen.as_deref())
            ));
        }
    }
    s.push_str("\nsample messages (links defanged)\n");
    for m in &c.samples {
        let phase = match m.phase {
            Some(Phase::Validation) => "validation",
            _ => "wave",
        };
        s.push_str(&format!(
            "  [{}] {} {} -> {}: {}\n",
            m.ts.as_deref().unwrap_or("undated"),
            phase,
            clean(m.router.as_deref().unwrap_or("-"), 32),
            clean(m.recipient.as_deref().unwrap_or("-"), 20),
            clean(&defang_text(&m.text), 300)
        ));
    }
    s
}

/// The campaign pass of `analyze --format jsonl`: see the module doc.
pub(crate) struct CampaignPass {
    inputs: Vec<CampaignInput>,
    spool: BufWriter<File>,
}

impl CampaignPass {
    pub(crate) fn new() -> anyhow::Result<CampaignPass> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir()
            .join(format!("smishtrap-analyze-{}-{nanos}.jsonl", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating the spool file {}", path.display()))?;
        // unlinked at once: the open handle keeps it, nothing is left behind on exit
        let _ = std::fs::remove_file(&path);
        Ok(CampaignPass { inputs: Vec::new(), spool: BufWriter::with_capacity(1 << 16, file) })
    }

    /// The features of one analysed record (call it in the parallel step).
    pub(crate) fn features(
        record: &smishtrap_event::SmsRecord,
        analysis: &smishtrap_intel::Analysis,
    ) -> CampaignInput {
        CampaignInput::new(0, record, analysis)
    }

    /// Keeps one output line (with `campaign` and `phase` still null) and its features.
    pub(crate) fn push(&mut self, mut features: CampaignInput, line: &[u8]) -> anyhow::Result<()> {
        features.index = self.inputs.len();
        self.inputs.push(features);
        self.spool.write_all(line).context("writing the spool file")
    }

    /// Clusters, then writes every spooled line to `out` with `campaign` and `phase` filled.
    pub(crate) fn finish(self, out: &mut impl Write) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let assignments = campaign::assign(&self.inputs);
        tracing::debug!(
            messages = self.inputs.len(),
            seconds = started.elapsed().as_secs_f64(),
            "clustered"
        );
        drop(self.inputs);
        let mut file = self
            .spool
            .into_inner()
            .map_err(|e| e.into_error())
            .context("flushing the spool file")?;
        file.rewind().context("rewinding the spool file")?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        let mut at = 0usize;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).context("reading the spool file")? == 0 {
                break;
            }
            let a = assignments.get(at).cloned().unwrap_or_default();
            at += 1;
            out.write_all(&fill(&line, &a)).context("writing output")?;
        }
        Ok(())
    }
}

/// One JSONL line with `campaign`/`phase` set. Fast path: the two fields are serialised last
/// as nulls; otherwise the line is parsed and written again.
fn fill(line: &[u8], a: &Assignment) -> Vec<u8> {
    const TAIL: &[u8] = b"\"campaign\":null,\"phase\":null}\n";
    if a.campaign.is_none() && a.phase.is_none() {
        return line.to_vec();
    }
    let campaign = serde_json::to_string(&a.campaign).unwrap_or_else(|_| "null".into());
    let phase = serde_json::to_string(&a.phase).unwrap_or_else(|_| "null".into());
    if let Some(head) = line.strip_suffix(TAIL) {
        let mut v = head.to_vec();
        v.extend_from_slice(format!("\"campaign\":{campaign},\"phase\":{phase}}}\n").as_bytes());
        return v;
    }
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(mut value) => {
            if let Some(obj) = value.as_object_mut() {
                obj.insert("campaign".into(), serde_json::json!(a.campaign));
                obj.insert("phase".into(), serde_json::json!(a.phase));
            }
            let mut v = serde_json::to_vec(&value).unwrap_or_else(|_| line.to_vec());
            v.push(b'\n');
            v
        }
        Err(_) => line.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_sets_campaign_and_phase() {
        let a = Assignment { campaign: Some("cmp-1".into()), phase: Some(Phase::Validation) };
        assert_eq!(
            fill(b"{\"id\":\"1\",\"campaign\":null,\"phase\":null}\n", &a),
            b"{\"id\":\"1\",\"campaign\":\"cmp-1\",\"phase\":\"validation\"}\n".to_vec()
        );
        // another field order still works
        assert_eq!(
            fill(b"{\"campaign\":null,\"phase\":null,\"id\":\"1\"}\n", &a),
            b"{\"campaign\":\"cmp-1\",\"id\":\"1\",\"phase\":\"validation\"}\n".to_vec()
        );
        let none = Assignment::default();
        assert_eq!(fill(b"{\"x\":1}\n", &none), b"{\"x\":1}\n".to_vec());
    }

    #[test]
    fn table_cells_are_clean_and_bounded() {
        assert_eq!(clean("a\u{1b}[31mb\nc", 80), "a\\u{1b}[31mb\\u{a}c");
        assert_eq!(pad("abcdefghij", 5), "abcd… ");
    }
}
