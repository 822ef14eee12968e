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
use smishtrap_bus::{
    JsonlSink, JsonlSinkConfig, Pipeline, PipelineConfig, PipelineHandle, Publisher, Sink,
};
use smishtrap_sensor::{
    Counters, Device, Identity, Limits, Listener, PersonaSet, Seed, StateLimits,
};

use super::health::{Watch, WatchConfig};

pub(crate) const DEFAULT_PERSONA: &str = "milesight-ur32l";

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

/// The `--config` file (shared with `run`, which also reads `[console]` and `[analysis]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    sensor_name: Option<String>,
    pub(crate) data: Option<PathBuf>,
    personas: Option<PathBuf>,
    #[serde(default)]
    pub(crate) listener: Vec<ListenerConfig>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    state: StateLimits,
    #[serde(default)]
    storage: StorageConfig,
    /// Read by `run` only.
    #[serde(default)]
    pub(crate) console: super::run::ConsoleConfig,
    /// Read by `run` only.
    #[serde(default)]
    pub(crate) analysis: super::run::AnalysisConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenerConfig {
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
    /// Free bytes on the data volume under which nothing new is stored and requests get the
    /// busy page (default: 5 % of the volume, 1 to 64 MiB; 0 turns the watermark off).
    min_free_bytes: Option<u64>,
    /// Free bytes under which health says `low-disk` (default: 15 % of the volume, at most
    /// 1 GiB).
    warn_free_bytes: Option<u64>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        let p = PipelineConfig::default();
        StorageConfig {
            jsonl_max_bytes: 256 * 1024 * 1024,
            jsonl_keep: 8,
            queue_capacity: p.queue_capacity,
            max_batch: p.max_batch,
            min_free_bytes: None,
            warn_free_bytes: None,
        }
    }
}

pub(crate) fn load_config(path: &Path) -> anyhow::Result<ConfigFile> {
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
    let config_name = args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let mut wanted = Vec::new();
    if let Some(listen) = args.listen {
        wanted.push((
            listen,
            args.persona.clone().unwrap_or_else(|| DEFAULT_PERSONA.to_owned()),
            "--persona".to_owned(),
        ));
    } else if args.persona.is_some() && config.listener.is_empty() {
        bail!("--persona needs --listen");
    }
    let setup = SensorSetup::resolve(
        config,
        &config_name,
        wanted,
        args.personas.as_deref(),
        args.data.clone(),
        args.sensor_name.clone(),
    )?;
    if args.check_config {
        let mut out = std::io::stdout().lock();
        for (addr, name) in &setup.wanted {
            writeln!(out, "{addr}\t{name}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    raise_descriptor_limit();
    let recording = Recording::start(&setup)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let served = runtime.block_on(async {
        let stop = shutdown_signal();
        let listeners = setup.bind().await?;
        recording.heartbeat_listeners(&listeners);
        smishtrap_sensor::serve(
            listeners,
            &setup.name,
            setup.limits,
            recording.publisher(),
            recording.counters.clone(),
            stop,
        )
        .await;
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let code = recording.finish();
    served?;
    Ok(code)
}

/// Raises the soft descriptor limit to the hard one (connection caps follow the limit).
pub(crate) fn raise_descriptor_limit() {
    match smishtrap_sensor::raise_descriptor_limit() {
        Ok(limit) => tracing::info!(limit, "descriptor limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the descriptor limit"),
    }
}

/// A sensor's settings once flags and the config file are merged and checked.
#[derive(Debug)]
pub(crate) struct SensorSetup {
    pub(crate) data: PathBuf,
    pub(crate) name: String,
    /// Address and persona of every listener.
    pub(crate) wanted: Vec<(SocketAddr, String)>,
    personas: PersonaSet,
    limits: Limits,
    state: StateLimits,
    storage: StorageConfig,
}

impl SensorSetup {
    /// Merges the listeners of the config file with `extra` (address, persona, where it was
    /// given), checks every persona exists and resolves data directory and sensor name.
    pub(crate) fn resolve(
        config: ConfigFile,
        config_name: &str,
        extra: Vec<(SocketAddr, String, String)>,
        personas_dir: Option<&Path>,
        data: Option<PathBuf>,
        sensor_name_flag: Option<String>,
    ) -> anyhow::Result<SensorSetup> {
        let personas = persona_set(personas_dir.or(config.personas.as_deref()))?;
        let mut wanted: Vec<(SocketAddr, String, String)> = config
            .listener
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (l.listen, l.persona.clone(), format!("{config_name}: listener[{i}].persona"))
            })
            .collect();
        wanted.extend(extra);
        if wanted.is_empty() {
            bail!("nothing to listen on: give --listen ADDR or [[listener]] entries in --config");
        }
        for (_, name, origin) in &wanted {
            if personas.get(name).is_none() {
                bail!(
                    "{origin}: unknown persona {name:?} (known: {})",
                    personas.names().join(", ")
                );
            }
        }
        // the same default as every other subcommand
        let data = data.or(config.data.clone()).unwrap_or_else(|| super::DEFAULT_DATA.into());
        let name = sensor_name(sensor_name_flag.or(config.sensor_name.clone()))?;
        Ok(SensorSetup {
            data,
            name,
            wanted: wanted.into_iter().map(|(addr, persona, _)| (addr, persona)).collect(),
            personas,
            limits: config.limits,
            state: config.state,
            storage: config.storage,
        })
    }

    /// Binds every listener with its persona and identity, printing the start-up contract.
    pub(crate) async fn bind(&self) -> anyhow::Result<Vec<Listener>> {
        let seed = Seed::load_or_create(&self.data)?;
        let mut listeners = Vec::new();
        for (addr, name) in &self.wanted {
            let Some(persona) = self.personas.get(name) else { continue };
            let socket = smishtrap_sensor::bind(*addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = socket.local_addr()?;
            let identity = Identity::derive(&seed, persona);
            let device = Arc::new(Device::new(persona.clone(), identity, self.state));
            #[allow(clippy::print_stderr, reason = "the bound address is the start-up contract")]
            {
                eprintln!("listening on {local} persona={name}");
            }
            listeners.push(Listener { socket, device });
        }
        Ok(listeners)
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }
}

/// The event pipeline of a running sensor, its counters and its health watch.
pub(crate) struct Recording {
    publisher: Publisher,
    pipeline: PipelineHandle,
    pub(crate) counters: Arc<Counters>,
    watch: Watch,
}

/// Exit status of a sensor that stopped cleanly but could not record every request (each got
/// the busy page instead of its answer).
pub(crate) const EXIT_NOT_RECORDED: u8 = 3;

impl Recording {
    /// Creates the data directory and starts the writer (SQLite primary, JSONL secondary)
    /// and the heartbeat.
    pub(crate) fn start(setup: &SensorSetup) -> anyhow::Result<Recording> {
        let data = &setup.data;
        std::fs::create_dir_all(data)
            .with_context(|| format!("{}: cannot create the data directory", data.display()))?;
        let primary = primary_sink(data)?;
        let secondary = secondary_sinks(data, &setup.storage)?;
        let (publisher, pipeline) = Pipeline::start(
            primary,
            secondary,
            PipelineConfig {
                queue_capacity: setup.storage.queue_capacity,
                max_batch: setup.storage.max_batch,
            },
        )
        .context("cannot start the event writer")?;
        let counters = Arc::new(Counters::default());
        let watch = Watch::start(
            &WatchConfig {
                data,
                sensor: &setup.name,
                refuse_below: setup.storage.min_free_bytes,
                warn_below: setup.storage.warn_free_bytes,
            },
            pipeline.control(),
            counters.clone(),
        )?;
        Ok(Recording { publisher, pipeline, counters, watch })
    }

    /// A publisher for the server (the writer ends when every publisher is gone).
    pub(crate) fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Tells the heartbeat which listeners are up.
    pub(crate) fn heartbeat_listeners(&self, listeners: &[Listener]) {
        let names = listeners
            .iter()
            .map(|l| {
                let addr = l.socket.local_addr().map(|a| a.to_string()).unwrap_or_default();
                format!("{}@{addr}", l.device.persona.name)
            })
            .collect();
        self.watch.set_listeners(names);
    }

    /// Drains and flushes the writer, stops the health watch (writing a last, `stopped`
    /// status with the final counts) and logs the totals. Call after the server returned.
    /// The exit status is [`EXIT_NOT_RECORDED`] when some request could not be recorded.
    pub(crate) fn finish(self) -> ExitCode {
        let Recording { publisher, pipeline, counters, mut watch } = self;
        drop(publisher);
        let stats = pipeline.join();
        watch.stop();
        tracing::info!(
            requests = counters.requests.load(Ordering::Relaxed),
            malformed = counters.malformed.load(Ordering::Relaxed),
            refused_connections = counters.refused_connections.load(Ordering::Relaxed),
            refused_unrecorded = counters.refused_unrecorded.load(Ordering::Relaxed),
            accept_errors = counters.accept_errors.load(Ordering::Relaxed),
            recorded = stats.recorded,
            not_recorded = stats.not_recorded,
            secondary_failures = stats.secondary_failures,
            secondary_dropped = stats.secondary_dropped,
            "sensor stopped"
        );
        if stats.not_recorded > 0 {
            tracing::error!(
                not_recorded = stats.not_recorded,
                refused_while_full = stats.refused,
                "some requests could not be recorded; they got the busy page"
            );
            return ExitCode::from(EXIT_NOT_RECORDED);
        }
        ExitCode::SUCCESS
    }
}

fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let signal = super::shutdown_signal();
    async move {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

pub(crate) fn personas(args: PersonasArgs) -> anyhow::Result<ExitCode> {
    let set = persona_set(args.personas.as_deref())?;
    let mut out = std::io::stdout().lock();
    for p in set.iter() {
        writeln!(out, "{}\t{} {} {}", p.name, p.vendor, p.model, p.rtver)?;
    }
    Ok(ExitCode::SUCCESS)
}
