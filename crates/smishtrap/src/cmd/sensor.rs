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
use smishtrap_forward::{ForwardConfig, Forwarder, SensorName};
use smishtrap_sensor::{
    Counters, Device, Identity, Limits, Listener, PersonaSet, Seed, StateLimits,
};

use super::health::{Watch, WatchConfig};
use super::maintain::{Maintain, MaintainConfig, RetentionConfig};

pub(crate) const DEFAULT_PERSONA: &str = "milesight-ur32l";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on (e.g. 0.0.0.0:80; port 0 picks a free port)
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Persona for --listen (see `smishtrap personas`)
    #[arg(long, value_name = "NAME")]
    persona: Option<String>,
    /// Address to serve HTTPS on, with the persona of --persona (its certificate is made on
    /// first start and kept in the data directory)
    #[arg(long, value_name = "ADDR")]
    tls_listen: Option<SocketAddr>,
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
    /// Forward committed events to NATS JetStream (nats://HOST:PORT or tls://HOST:PORT)
    #[arg(long, value_name = "URL")]
    forward: Option<String>,
    /// NATS credentials file for --forward
    #[arg(long, value_name = "FILE", requires = "forward")]
    credentials: Option<PathBuf>,
    /// CA certificate (PEM) that signed the NATS server's certificate; turns TLS on
    #[arg(long, value_name = "FILE", requires = "forward")]
    nats_ca: Option<PathBuf>,
    /// Store size (MiB) past which forwarded events are deleted, oldest first
    /// [default: half the hard cap]
    #[arg(long, value_name = "MIB")]
    retention_max_mib: Option<u64>,
    /// Store size (MiB) past which even unforwarded events are deleted (counted)
    /// [default: 40 % of the data volume, at most 4096]
    #[arg(long, value_name = "MIB")]
    retention_hard_cap_mib: Option<u64>,
    /// Forwarded events older than this many days are deleted (0: keep) [default: 90]
    #[arg(long, value_name = "DAYS")]
    retention_max_age_days: Option<u64>,
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
    /// Forwarding to NATS JetStream (`--forward` and its flags override it).
    forward: Option<ForwardFile>,
    /// Retention of the event store (the `--retention-*` flags override it).
    #[serde(default)]
    retention: RetentionConfig,
}

/// The `[forward]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForwardFile {
    url: String,
    credentials: Option<PathBuf>,
    ca: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListenerConfig {
    listen: SocketAddr,
    persona: String,
    /// Serve HTTPS with the persona's certificate.
    #[serde(default)]
    tls: bool,
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

fn known_persona<'a>(
    personas: &'a PersonaSet,
    name: &str,
    origin: &str,
) -> anyhow::Result<&'a smishtrap_sensor::Persona> {
    personas.get(name).ok_or_else(|| {
        anyhow::anyhow!(
            "{origin}: unknown persona {name:?} (known: {})",
            personas.names().join(", ")
        )
    })
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
    } else if args.persona.is_some() && config.listener.is_empty() && args.tls_listen.is_none() {
        bail!("--persona needs --listen");
    }
    let tls_wanted = match args.tls_listen {
        Some(addr) => vec![(
            addr,
            args.persona.clone().unwrap_or_else(|| DEFAULT_PERSONA.to_owned()),
            "--persona".to_owned(),
        )],
        None => Vec::new(),
    };
    let mut setup = SensorSetup::resolve(
        config,
        &config_name,
        wanted,
        tls_wanted,
        args.personas.as_deref(),
        args.data.clone(),
        args.sensor_name.clone(),
    )?;
    if let Some(url) = args.forward.clone() {
        setup.forward = Some(ForwardFile { url, credentials: args.credentials, ca: args.nats_ca });
    }
    let r = &mut setup.retention;
    r.max_mib = args.retention_max_mib.or(r.max_mib);
    r.hard_cap_mib = args.retention_hard_cap_mib.or(r.hard_cap_mib);
    r.max_age_days = args.retention_max_age_days.or(r.max_age_days);
    setup.retention.policy(0)?;
    let forward = setup.forward_config()?;
    if args.check_config {
        let mut out = std::io::stdout().lock();
        for (addr, name) in &setup.wanted {
            writeln!(out, "{addr}\t{name}")?;
        }
        for (addr, name) in &setup.tls_wanted {
            writeln!(out, "{addr}\t{name}\ttls")?;
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
        let forwarding = forward.map(Forwarding::start);
        smishtrap_sensor::serve(
            listeners,
            &setup.name,
            setup.limits,
            recording.publisher(),
            recording.counters.clone(),
            stop,
        )
        .await;
        if let Some(forwarding) = forwarding {
            forwarding.stop().await;
        }
        anyhow::Ok(())
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    setup.save_devices();
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
    /// Address and persona of every HTTPS listener.
    pub(crate) tls_wanted: Vec<(SocketAddr, String)>,
    personas: PersonaSet,
    limits: Limits,
    state: StateLimits,
    storage: StorageConfig,
    /// The devices bound, to save their state at stop.
    devices: std::sync::Mutex<Vec<Arc<Device>>>,
    forward: Option<ForwardFile>,
    retention: RetentionConfig,
}

impl SensorSetup {
    /// Merges the listeners of the config file with `extra` and `extra_tls` (address, persona,
    /// where it was given), checks every persona exists and serves what it is asked to, and
    /// resolves data directory and sensor name.
    pub(crate) fn resolve(
        config: ConfigFile,
        config_name: &str,
        extra: Vec<(SocketAddr, String, String)>,
        extra_tls: Vec<(SocketAddr, String, String)>,
        personas_dir: Option<&Path>,
        data: Option<PathBuf>,
        sensor_name_flag: Option<String>,
    ) -> anyhow::Result<SensorSetup> {
        let personas = persona_set(personas_dir.or(config.personas.as_deref()))?;
        let (tls, plain): (Vec<_>, Vec<_>) = config
            .listener
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    l.listen,
                    l.persona.clone(),
                    format!("{config_name}: listener[{i}].persona"),
                    l.tls,
                )
            })
            .partition(|l| l.3);
        let mut wanted: Vec<(SocketAddr, String, String)> =
            plain.into_iter().map(|(a, p, o, _)| (a, p, o)).collect();
        wanted.extend(extra);
        let mut tls_wanted: Vec<(SocketAddr, String, String)> =
            tls.into_iter().map(|(a, p, o, _)| (a, p, o)).collect();
        tls_wanted.extend(extra_tls);
        if wanted.is_empty() && tls_wanted.is_empty() {
            bail!("nothing to listen on: give --listen ADDR or [[listener]] entries in --config");
        }
        for (_, name, origin) in &wanted {
            let persona = known_persona(&personas, name, origin)?;
            if persona.tls.as_ref().is_some_and(|t| t.https_only) {
                bail!("{origin}: persona {name} serves HTTPS only: listen with TLS instead");
            }
        }
        for (_, name, origin) in &tls_wanted {
            if known_persona(&personas, name, origin)?.tls.is_none() {
                bail!("{origin}: persona {name} serves no HTTPS (no [tls] in its file)");
            }
        }
        // the same default as every other subcommand
        let data = data.or(config.data.clone()).unwrap_or_else(|| super::DEFAULT_DATA.into());
        let name = sensor_name(sensor_name_flag.or(config.sensor_name.clone()))?;
        Ok(SensorSetup {
            data,
            name,
            wanted: wanted.into_iter().map(|(addr, persona, _)| (addr, persona)).collect(),
            tls_wanted: tls_wanted.into_iter().map(|(addr, persona, _)| (addr, persona)).collect(),
            personas,
            limits: config.limits,
            state: config.state,
            storage: config.storage,
            devices: std::sync::Mutex::default(),
            forward: config.forward,
            retention: config.retention,
        })
    }

    /// Binds every listener with its persona and identity, printing the start-up contract.
    pub(crate) async fn bind(&self) -> anyhow::Result<Vec<Listener>> {
        let seed = Seed::load_or_create(&self.data)?;
        let mut listeners = Vec::new();
        let all =
            self.wanted.iter().map(|w| (w, false)).chain(self.tls_wanted.iter().map(|w| (w, true)));
        for ((addr, name), tls) in all {
            let Some(persona) = self.personas.get(name) else { continue };
            let socket = smishtrap_sensor::bind(*addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local = socket.local_addr()?;
            let identity = Identity::derive(&seed, persona);
            let tls = if tls {
                let data = self.data.clone();
                let (p, i) = (persona.clone(), identity.clone());
                // Making an RSA key takes a while: off the runtime's threads.
                let config = tokio::task::spawn_blocking(move || {
                    smishtrap_sensor::tls::server_config(&data, &p, &i)
                })
                .await
                .context("certificate task")??;
                Some(config)
            } else {
                None
            };
            let scheme = if tls.is_some() { " tls" } else { "" };
            // One device per persona: listeners of the same persona share its state, saved in
            // DIR/device/<persona>.json.
            let mut devices = self.devices.lock().unwrap_or_else(|e| e.into_inner());
            let device = match devices.iter().find(|d| d.persona.name == persona.name) {
                Some(device) => device.clone(),
                None => {
                    let device = Arc::new(
                        Device::open(
                            persona.clone(),
                            identity,
                            self.state,
                            &self.data.join(smishtrap_sensor::state::STATE_DIR),
                        )
                        .context("cannot load the device state")?,
                    );
                    devices.push(device.clone());
                    device
                }
            };
            drop(devices);
            #[allow(clippy::print_stderr, reason = "the bound address is the start-up contract")]
            {
                eprintln!("listening on {local} persona={name}{scheme}");
            }
            listeners.push(Listener { socket, device, tls });
        }
        Ok(listeners)
    }

    pub(crate) fn limits(&self) -> Limits {
        self.limits
    }

    /// Writes every device's state (call once the server stopped).
    pub(crate) fn save_devices(&self) {
        for device in self.devices.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if let Err(err) = device.save() {
                tracing::warn!(error = %err, "cannot save the device state");
            }
        }
    }

    /// The forwarder's settings when forwarding is configured; the sensor name must then be
    /// a single NATS subject token.
    pub(crate) fn forward_config(&self) -> anyhow::Result<Option<ForwardConfig>> {
        let Some(forward) = &self.forward else { return Ok(None) };
        let sensor = SensorName::parse(&self.name)
            .context("forwarding names the sensor in the NATS subject (set --sensor-name)")?;
        smishtrap_forward::check_url(&forward.url)?;
        let mut config =
            ForwardConfig::new(forward.url.clone(), smishtrap_store::db_path(&self.data), sensor);
        config.credentials = forward.credentials.clone();
        config.ca = forward.ca.clone();
        Ok(Some(config))
    }
}

/// The forwarder task of a running sensor: reads committed events from the store, so the
/// capture path never waits on NATS.
pub(crate) struct Forwarding {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Forwarding {
    /// Spawns the forwarder on the current runtime.
    pub(crate) fn start(config: ForwardConfig) -> Forwarding {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let forwarder = Forwarder::new(config);
        let stats = forwarder.stats();
        let task = tokio::spawn(async move {
            let result = forwarder
                .run(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(err) = result {
                // Capture goes on; events stay spooled for the next start.
                tracing::error!(error = %err, "forwarding stopped");
            }
            tracing::info!(
                forwarded = stats.forwarded.load(Ordering::Relaxed),
                cursor = stats.cursor.load(Ordering::Relaxed),
                failures = stats.failures.load(Ordering::Relaxed),
                skipped = stats.skipped.load(Ordering::Relaxed),
                "forwarder stopped"
            );
        });
        Forwarding { stop, task }
    }

    /// Stops the forwarder (unacknowledged events stay spooled; the cursor is committed).
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.task).await;
    }
}

/// The event pipeline of a running sensor, its counters and its health watch.
pub(crate) struct Recording {
    publisher: Publisher,
    pipeline: PipelineHandle,
    pub(crate) counters: Arc<Counters>,
    watch: Watch,
    maintain: Maintain,
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
        let volume = smishtrap_store::space::volume_bytes(data).unwrap_or(0);
        let mut personas: Vec<String> =
            setup.wanted.iter().chain(&setup.tls_wanted).map(|(_, p)| p.clone()).collect();
        personas.sort();
        personas.dedup();
        let maintain = Maintain::start(MaintainConfig::new(
            smishtrap_store::db_path(data),
            &setup.retention,
            volume,
            setup.forward.is_some(),
            personas,
        )?)?;
        let watch = Watch::start(
            &WatchConfig {
                data,
                sensor: &setup.name,
                refuse_below: setup.storage.min_free_bytes,
                warn_below: setup.storage.warn_free_bytes,
                fleet: maintain.fleet(),
            },
            pipeline.control(),
            counters.clone(),
        )?;
        Ok(Recording { publisher, pipeline, counters, watch, maintain })
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
        let Recording { publisher, pipeline, counters, mut watch, mut maintain } = self;
        drop(publisher);
        let stats = pipeline.join();
        maintain.stop();
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
