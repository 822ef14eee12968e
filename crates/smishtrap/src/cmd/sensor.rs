//! `smishtrap sensor` and `smishtrap personas`: wiring of personas, identity, limits, the event
//! pipeline and the listeners. The behaviour lives in `smishtrap-sensor`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, bail};
use serde::Deserialize;
use smishtrap_bus::{JsonlSink, JsonlSinkConfig, Pipeline, PipelineConfig, Sink};
use smishtrap_sensor::{
    Counters, Device, Identity, Limits, Listener, PersonaSet, Seed, StateLimits,
};

const DEFAULT_PERSONA: &str = "milesight-ur32l";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on (e.g. 0.0.0.0:80; port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Persona for --listen (see `smishtrap personas`)
    #[arg(long, value_name = "NAME")]
    persona: Option<String>,
    /// Data directory: event store, JSONL events, the sensor's identity seed
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Directory of extra persona files (same-named ones replace the shipped personas)
    #[arg(long, value_name = "DIR")]
    personas: Option<PathBuf>,
    /// TOML configuration (listeners, limits, storage); flags override it
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Name recorded in every event (default: the host name)
    #[arg(long, value_name = "NAME")]
    sensor_name: Option<String>,
    /// Validate the configuration and personas, print the listeners, and exit
    #[arg(long)]
    check_config: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PersonasArgs {
    /// Directory of extra persona files
    #[arg(long, value_name = "DIR")]
    personas: Option<PathBuf>,
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    sensor_name: Option<String>,
    data: Option<PathBuf>,
    personas: Option<PathBuf>,
    #[serde(default)]
    listener: Vec<ListenerConfig>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    state: StateLimits,
    #[serde(default)]
    storage: StorageConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenerConfig {
    listen: SocketAddr,
    persona: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct StorageConfig {
    /// Size after which `events/events.jsonl` rotates.
    jsonl_max_bytes: u64,
    /// Rotated JSONL segments kept.
    jsonl_keep: usize,
    /// Events waiting for the writer before requests wait (backpressure).
    queue_capacity: usize,
    /// Most events committed in one transaction.
    max_batch: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let p = PipelineConfig::default();
        StorageConfig {
            jsonl_max_bytes: 256 * 1024 * 1024,
            jsonl_keep: 8,
            queue_capacity: p.queue_capacity,
            max_batch: p.max_batch,
        }
    }
}

fn load_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).with_context(|| format!("{shown}: cannot read"))?;
    let config: ConfigFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| {
            text.as_bytes()[..s.start.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
        });
        let msg = e.message().trim().to_owned();
        match line {
            Some(line) => anyhow::anyhow!("{shown}: line {line}: {msg}"),
            None => anyhow::anyhow!("{shown}: {msg}"),
        }
    })?;
    if let Err((key, reason)) = config.limits.validate() {
        bail!("{shown}: limits.{key}: {reason}");
    }
    let s = &config.storage;
    if s.queue_capacity == 0 || s.max_batch == 0 || s.jsonl_max_bytes == 0 {
        bail!("{shown}: storage: queue_capacity, max_batch and jsonl_max_bytes must be at least 1");
    }
    if config.state.max_clients == 0 || config.state.max_sessions == 0 {
        bail!("{shown}: state: max_clients and max_sessions must be at least 1");
    }
    for (i, l) in config.listener.iter().enumerate() {
        smishtrap_sensor::PersonaName::parse(&l.persona)
            .map_err(|e| anyhow::anyhow!("{shown}: listener[{i}].persona: {e}"))?;
    }
    Ok(config)
}

/// A sensor name safe for events and logs: printable ASCII, bounded.
fn sensor_name(given: Option<String>) -> anyhow::Result<String> {
    let name = match given {
        Some(n) => n,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
    };
    let name = if name.is_empty() { "sensor".to_owned() } else { name };
    if name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        bail!("sensor name {name:?}: use 1-64 of A-Z, a-z, 0-9, '-', '_', '.'");
    }
    Ok(name)
}

/// The primary sink, which decides durability: the SQLite store `DIR/smishtrap.db`.
fn primary_sink(data: &Path) -> anyhow::Result<Box<dyn Sink>> {
    let path = smishtrap_store::db_path(data);
    let store = smishtrap_store::SqliteStore::open(&path)
        .with_context(|| format!("{}: cannot open the event store", path.display()))?;
    Ok(Box::new(store))
}

/// Secondary sinks, fed after the primary committed: the rotated JSONL log under `DIR/events/`.
fn secondary_sinks(data: &Path, storage: &StorageConfig) -> anyhow::Result<Vec<Box<dyn Sink>>> {
    Ok(vec![Box::new(jsonl_sink(data, storage)?)])
}

fn jsonl_sink(data: &Path, storage: &StorageConfig) -> anyhow::Result<JsonlSink> {
    let dir = smishtrap_store::events_dir(data);
    JsonlSink::open(JsonlSinkConfig {
        dir: dir.clone(),
        max_bytes: storage.jsonl_max_bytes,
        keep: storage.jsonl_keep,
    })
    .with_context(|| format!("{}: cannot open the JSONL event log", dir.display()))
}

fn persona_set(dir: Option<&Path>) -> anyhow::Result<PersonaSet> {
    Ok(match dir {
        Some(dir) => PersonaSet::with_dir(dir)?,
        None => PersonaSet::embedded()?,
    })
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => load_config(path)?,
        None => ConfigFile::default(),
    };
    let personas = persona_set(args.personas.as_deref().or(config.personas.as_deref()))?;
    // Where each listener was declared, for error messages.
    let config_name = args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let mut origins: Vec<String> = (0..config.listener.len())
        .map(|i| format!("{config_name}: listener[{i}].persona"))
        .collect();
    let mut wanted: Vec<(SocketAddr, String)> =
        config.listener.iter().map(|l| (l.listen, l.persona.clone())).collect();
    if let Some(listen) = args.listen {
        wanted.push((listen, args.persona.clone().unwrap_or_else(|| DEFAULT_PERSONA.to_owned())));
        origins.push("--persona".to_owned());
    } else if args.persona.is_some() && wanted.is_empty() {
        bail!("--persona needs --listen");
    }
    if wanted.is_empty() {
        bail!("nothing to listen on: give --listen ADDR or [[listener]] entries in --config");
    }
    for ((_, name), origin) in wanted.iter().zip(&origins) {
        if personas.get(name).is_none() {
            bail!("{origin}: unknown persona {name:?} (known: {})", personas.names().join(", "));
        }
    }
    let Some(data) = args.data.clone().or(config.data.clone()) else {
        bail!("no data directory: give --data DIR or `data` in --config");
    };
    let sensor = sensor_name(args.sensor_name.clone().or(config.sensor_name.clone()))?;
    if args.check_config {
        let mut out = std::io::stdout().lock();
        for (addr, name) in &wanted {
            writeln!(out, "{addr}\t{name}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&data)
        .with_context(|| format!("{}: cannot create the data directory", data.display()))?;
    let seed = Seed::load_or_create(&data)?;
    let primary = primary_sink(&data)?;
    let secondary = secondary_sinks(&data, &config.storage)?;
    let (publisher, pipeline) = Pipeline::start(
        primary,
        secondary,
        PipelineConfig {
            queue_capacity: config.storage.queue_capacity,
            max_batch: config.storage.max_batch,
        },
    )
    .context("cannot start the event writer")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let counters = Arc::new(Counters::default());
    let limits = config.limits;
    let state = config.state;
    let served = runtime.block_on(async {
        let mut listeners = Vec::new();
        for (addr, name) in &wanted {
            let Some(persona) = personas.get(name) else { continue };
            let socket = smishtrap_sensor::bind(*addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = socket.local_addr()?;
            let identity = Identity::derive(&seed, persona);
            let device = Arc::new(Device::new(persona.clone(), identity, state));
            #[allow(clippy::print_stderr, reason = "the bound address is the start-up contract")]
            {
                eprintln!("listening on {local} persona={name}");
            }
            listeners.push(Listener { socket, device });
        }
        smishtrap_sensor::serve(
            listeners,
            &sensor,
            limits,
            publisher,
            counters.clone(),
            shutdown_signal(),
        )
        .await;
        anyhow::Ok(())
    });
    // The publisher was moved into `serve` and dropped with the connections; the writer now
    // drains the queue and flushes every sink.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let stats = pipeline.join();
    served?;
    tracing::info!(
        requests = counters.requests.load(Ordering::Relaxed),
        malformed = counters.malformed.load(Ordering::Relaxed),
        refused_connections = counters.refused_connections.load(Ordering::Relaxed),
        recorded = stats.recorded,
        not_recorded = stats.not_recorded,
        secondary_failures = stats.secondary_failures,
        secondary_dropped = stats.secondary_dropped,
        "sensor stopped"
    );
    if stats.not_recorded > 0 {
        tracing::error!(
            not_recorded = stats.not_recorded,
            "some answered requests were not recorded"
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    super::shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
}

pub(crate) fn personas(args: PersonasArgs) -> anyhow::Result<ExitCode> {
    let set = persona_set(args.personas.as_deref())?;
    let mut out = std::io::stdout().lock();
    for p in set.iter() {
        writeln!(out, "{}\t{} {} {}", p.name, p.vendor, p.model, p.rtver)?;
    }
    Ok(ExitCode::SUCCESS)
}
