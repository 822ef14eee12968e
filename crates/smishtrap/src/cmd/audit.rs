//! `smishtrap audit --targets FILE`: read-only audit of a router fleet. Reads the targets and
//! credentials, runs `smishtrap_audit` on a tokio runtime with a progress bar on a terminal,
//! stores the messages read from mailboxes (then one clustering pass), writes the report.
//! Exit status: 0 when no finding reaches `--fail-on`, 1 when one does, 2 on error.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use smishtrap_analyst::Clusterer;
use smishtrap_audit::stored::CampaignCount;
use smishtrap_audit::{Advisories, Credential, Limits, Options, Prober, Severity, report};
use smishtrap_intel::campaign::Config;
use smishtrap_store::{AnalysisStore, NewMessage, SqliteStore};

/// Largest targets or credentials file read.
const MAX_INPUT_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Jsonl,
    Csv,
    Markdown,
    Html,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Targets: one IP, host, host:port, URL or CIDR a line, or a Shodan/Censys JSON export
    #[arg(long, value_name = "FILE")]
    targets: PathBuf,
    /// Most targets the file may expand to (CIDRs included)
    #[arg(long, value_name = "N", default_value_t = smishtrap_audit::DEFAULT_MAX_TARGETS)]
    max_targets: usize,
    /// Targets audited at once
    #[arg(long, value_name = "N", default_value_t = 32)]
    concurrency: usize,
    /// Most requests per second to one target
    #[arg(long, value_name = "N", default_value_t = 10.0)]
    rate: f64,
    /// Deadline of one request (connect, head and body), in seconds
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    timeout: f64,
    /// Deadline of all checks of one target, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    target_timeout: f64,
    /// Connect timeout, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    connect_timeout: f64,
    /// Largest reply body read, in bytes (the rest is not read)
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body: usize,
    /// Most messages read from each mailbox of a target
    #[arg(long, value_name = "N", default_value_t = 500)]
    max_messages: u32,
    /// Operator credentials to read mailboxes with: `user:password` a line
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// Log in with credentials recovered from a leaked httpd.log to read the mailboxes
    #[arg(long)]
    use_leaked_credentials: bool,
    /// Try the vendor's default account (reported; never used to read mailboxes)
    #[arg(long)]
    try_default_credentials: bool,
    /// Also report the web UI on a public address and HTTP without TLS
    #[arg(long)]
    exposure: bool,
    /// Print recovered passwords in the report
    #[arg(long)]
    show_secrets: bool,
    /// Advisories file to use instead of the built-in one (same format)
    #[arg(long, value_name = "FILE")]
    firmware: Option<PathBuf>,
    /// Report format
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Write the report to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write every request made (JSON lines) to FILE
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Data directory to store and cluster the messages read (as `import` does)
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Store in the hub's PostgreSQL instead (libpq conninfo or postgres://…; a password is
    /// better kept in SMISHTRAP_POSTGRES, given as `--store env`)
    #[cfg(feature = "hub")]
    #[arg(long, value_name = "CONNINFO", conflicts_with = "data")]
    store: Option<String>,
    /// PostgreSQL schema of the hub's store (with --store)
    #[cfg(feature = "hub")]
    #[arg(long, value_name = "NAME", default_value = "public", requires = "store")]
    schema: String,
    /// Exit 1 when a finding of this severity or worse is found
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = parse_severity)]
    fail_on: Severity,
    #[command(flatten)]
    engine: super::EngineArgs,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("{s:?}: expected info, low, medium, high or critical"))
}

fn read_bounded(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    let shown = path.display();
    let len =
        std::fs::metadata(path).with_context(|| format!("{shown}: cannot read the {what}"))?.len();
    if len > MAX_INPUT_BYTES {
        bail!("{shown}: the {what} file is larger than {MAX_INPUT_BYTES} bytes");
    }
    std::fs::read_to_string(path).with_context(|| format!("{shown}: cannot read the {what}"))
}

/// `user:password` a line; `#` comments and blank lines skipped.
fn credentials(path: &PathBuf) -> anyhow::Result<Vec<Credential>> {
    let text = read_bounded(path, "credentials")?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((user, password)) = line.split_once(':') else {
            bail!("{}: line {}: expected user:password", path.display(), i + 1);
        };
        out.push(Credential { username: user.to_owned(), password: password.to_owned() });
    }
    Ok(out)
}

fn seconds(name: &str, s: f64) -> anyhow::Result<Duration> {
    if !(s.is_finite() && s > 0.0 && s <= 3600.0) {
        bail!("--{name} {s}: expected seconds between 0 and 3600");
    }
    Ok(Duration::from_secs_f64(s))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = read_bounded(&args.targets, "targets")?;
    let targets = smishtrap_audit::parse_targets(&text, args.max_targets)
        .with_context(|| format!("{}", args.targets.display()))?;
    let advisories = match &args.firmware {
        Some(path) => {
            Advisories::parse(&path.display().to_string(), &read_bounded(path, "advisories")?)?
        }
        None => Advisories::builtin()?,
    };
    if !(args.rate.is_finite() && args.rate > 0.0) {
        bail!("--rate {}: expected a positive number of requests per second", args.rate);
    }
    if args.concurrency == 0 || args.concurrency > 4096 {
        bail!("--concurrency {}: expected 1 to 4096", args.concurrency);
    }
    let limits = Limits {
        connect_timeout: seconds("connect-timeout", args.connect_timeout)?,
        request_timeout: seconds("timeout", args.timeout)?,
        max_body_bytes: args.max_body.max(1024),
        min_interval: Duration::from_secs_f64(1.0 / args.rate),
        max_requests: 0,
        target_timeout: seconds("target-timeout", args.target_timeout)?,
    };
    let credentials = match &args.credentials {
        Some(p) => credentials(p)?,
        None => Vec::new(),
    };
    // the fixed checks, every page of both mailboxes, one login per credential
    let pages = 2 * args.max_messages.div_ceil(smishtrap_audit::cgi::MAX_PAGE);
    let logins = u32::try_from(credentials.len()).unwrap_or(u32::MAX);
    let limits =
        Limits { max_requests: 24u32.saturating_add(pages).saturating_add(logins), ..limits };
    let options = Options {
        credentials,
        use_leaked_credentials: args.use_leaked_credentials,
        try_default_credentials: args.try_default_credentials,
        exposure: args.exposure,
        show_secrets: args.show_secrets,
        max_mailbox_rows: args.max_messages,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let progress = progress_bar(targets.len() as u64);
    let total = targets.len();
    let mut reports = runtime.block_on(async {
        let prober = Prober::new(limits)?;
        let pb = progress.clone();
        anyhow::Ok(
            smishtrap_audit::audit_fleet(
                &prober,
                &advisories,
                &options,
                targets,
                args.concurrency,
                move |_| {
                    if let Some(pb) = &pb {
                        pb.inc(1);
                    }
                },
            )
            .await,
        )
    })?;
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    let stored = analyse_and_store(&args, &mut reports)?;
    if let Some(path) = &args.record {
        let mut out = std::fs::File::create(path)
            .with_context(|| format!("{}: cannot create", path.display()))?;
        for r in &reports {
            for req in &r.requests {
                let line = serde_json::json!({"target": r.target.to_string(), "request": req});
                writeln!(out, "{line}")
                    .with_context(|| format!("{}: cannot write", path.display()))?;
            }
        }
    }
    let body = match args.format {
        Format::Table => report::table(&reports),
        Format::Jsonl => report::jsonl(&reports),
        Format::Csv => report::csv(&reports),
        Format::Markdown => report::markdown(&reports),
        Format::Html => report::html(&reports),
        Format::Sarif => report::sarif(&reports),
    };
    match &args.out {
        Some(path) => std::fs::write(path, body)
            .with_context(|| format!("{}: cannot write the report", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(body.as_bytes()).and_then(|()| stdout.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(e).context("writing the report");
            }
        }
    }
    if let Some((messages, campaigns)) = stored {
        note(&format!(
            "{total} targets audited and stored; {messages} mailbox messages stored, {campaigns} campaigns after clustering"
        ));
    }
    let failing = reports.iter().any(|r| r.worst() >= args.fail_on);
    Ok(if failing { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Runs the engine over every message read and, with `--data`, stores them, clusters, and
/// stores each target's result (with the campaigns its messages joined) for the console.
/// Returns (messages stored, campaigns) when it stored.
fn analyse_and_store(
    args: &Args,
    reports: &mut [smishtrap_audit::TargetReport],
) -> anyhow::Result<Option<(usize, usize)>> {
    let mut rows = Vec::new();
    // the ids of each report's stored messages, in report order
    let mut ids: Vec<Vec<String>> = Vec::with_capacity(reports.len());
    if reports.iter().any(|r| !r.messages.is_empty()) {
        let (engine, options) = args.engine.load()?;
        let now = chrono::Utc::now().timestamp_micros();
        for r in reports.iter_mut() {
            let (_, mut stored) = smishtrap_audit::forensics::analyse(r, &engine, &options, now);
            ids.push(stored.iter().map(|m| m.id.clone()).collect());
            rows.append(&mut stored);
        }
    }
    #[cfg(feature = "hub")]
    if let Some(conninfo) = &args.store {
        let conninfo = if conninfo == "env" {
            std::env::var("SMISHTRAP_POSTGRES")
                .context("--store env: SMISHTRAP_POSTGRES is not set")?
        } else {
            conninfo.clone()
        };
        let mut store = smishtrap_store::PostgresStore::open(&conninfo, &args.schema)
            .with_context(|| {
                format!("cannot open the PostgreSQL store (schema {})", args.schema)
            })?;
        // a hub's analyst may be clustering this store: then it clusters these messages too
        let cluster =
            store.lead(smishtrap_analyst::CLUSTER_JOB).context("asking for the clustering job")?;
        let where_ = format!("PostgreSQL schema {}", args.schema);
        return store_results(&mut store, &where_, &rows, &ids, reports, cluster).map(Some);
    }
    let Some(dir) = &args.data else { return Ok(None) };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the data directory", dir.display()))?;
    let db = smishtrap_store::db_path(dir);
    let mut store = SqliteStore::open(&db)
        .with_context(|| format!("{}: cannot open the store", db.display()))?;
    store_results(&mut store, &db.display().to_string(), &rows, &ids, reports, true).map(Some)
}

/// Stores the messages read and each target's result (with the campaigns its messages
/// joined) in any backend; clusters first when `cluster` (this process runs the job).
fn store_results<S: AnalysisStore>(
    store: &mut S,
    shown: &str,
    rows: &[NewMessage],
    ids: &[Vec<String>],
    reports: &[smishtrap_audit::TargetReport],
    cluster: bool,
) -> anyhow::Result<(usize, usize)> {
    let mut new = 0;
    let mut campaigns = 0;
    if !rows.is_empty() {
        new = store
            .insert_messages(rows, None)
            .with_context(|| format!("{shown}: cannot store messages"))?;
        if cluster {
            let mut clusterer = Clusterer::new(Config::default());
            clusterer.load_new(store).context("reading stored messages for clustering")?;
            campaigns = clusterer.recluster(store).context("clustering stored messages")?.campaigns;
        }
    }
    let mut results = Vec::with_capacity(reports.len());
    for (i, r) in reports.iter().enumerate() {
        let mut joined: BTreeMap<String, usize> = BTreeMap::new();
        for id in ids.get(i).into_iter().flatten() {
            let stored = store.message(id).context("reading a stored message's campaign")?;
            if let Some(c) = stored.and_then(|m| m.campaign) {
                *joined.entry(c).or_default() += 1;
            }
        }
        let joined: Vec<CampaignCount> =
            joined.into_iter().map(|(id, messages)| CampaignCount { id, messages }).collect();
        results.push(smishtrap_audit::stored::row(r, &joined));
    }
    store
        .put_audit_results(&results)
        .with_context(|| format!("{shown}: cannot store the audit results"))?;
    Ok((new, campaigns))
}

fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(len);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} targets ({per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    })
}

#[allow(
    clippy::print_stderr,
    reason = "the run's closing note goes to stderr, the report to stdout"
)]
fn note(message: &str) {
    eprintln!("{message}");
}
