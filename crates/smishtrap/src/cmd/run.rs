//! `smishtrap run`: the whole system in one process on one data directory: a sensor, the
//! continuous analysis of what it captures (and of what `import` adds), and the console.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use smishtrap_analyst::{Worker, WorkerConfig};
use smishtrap_web::token;
use smishtrap_web::{Console, ConsoleConfig as WebConfig, ConsoleLimits};

use super::sensor::{ConfigFile, DEFAULT_PERSONA, Recording, SensorSetup, load_config};

const DEFAULT_SENSOR_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:9090";

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Data directory: event store, analysed messages, campaigns, console token
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Sensor address (repeatable; default 127.0.0.1:8080 when the config names none)
    #[arg(long = "sensor-listen", value_name = "ADDR")]
    sensor_listen: Vec<SocketAddr>,
    /// Persona of the --sensor-listen at the same position (one persona applies to all;
    /// default milesight-ur32l)
    #[arg(long = "persona", value_name = "NAME")]
    persona: Vec<String>,
    /// Console address (default 127.0.0.1:9090; put TLS in front of anything but loopback)
    #[arg(long, value_name = "ADDR")]
    console_listen: Option<SocketAddr>,
    /// Console access token (16 to 256 visible ASCII characters); without it the token in
    /// DIR/console-token is used, generated on first start
    #[arg(long, value_name = "TOKEN")]
    console_token: Option<String>,
    /// TOML configuration: the sensor's format plus [console] and [analysis]; flags override it
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of extra persona files
    #[arg(long, value_name = "DIR")]
    personas: Option<PathBuf>,
    /// Name recorded in every event (default: the host name)
    #[arg(long, value_name = "NAME")]
    sensor_name: Option<String>,
    #[command(flatten)]
    engine: super::EngineArgs,
    /// Validate the configuration, print the sensor listeners and the console address, exit
    #[arg(long)]
    check_config: bool,
}

/// `[console]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsoleConfig {
    listen: Option<SocketAddr>,
    token: Option<String>,
    session_hours: Option<u64>,
    session_idle_minutes: Option<u64>,
    /// Public addresses of this machine the listeners' own addresses do not show (behind NAT):
    /// never offered as indicators.
    #[serde(default)]
    own_addresses: Vec<std::net::IpAddr>,
    header_timeout_secs: Option<f64>,
    idle_timeout_secs: Option<f64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    max_body_bytes: Option<u64>,
    /// Seconds without a heartbeat before a sensor is flagged silent (`console --silent-after`).
    silent_after_secs: Option<u64>,
}

impl ConsoleConfig {
    /// The console's connection limits: the defaults of [`ConsoleLimits`] where not given.
    fn limits(&self, config_name: &str) -> anyhow::Result<ConsoleLimits> {
        let mut limits = ConsoleLimits::default();
        let secs = |key: &str, v: Option<f64>, default: Duration| -> anyhow::Result<Duration> {
            match v {
                None => Ok(default),
                Some(s) if s.is_finite() && (0.1..=86_400.0).contains(&s) => {
                    Ok(Duration::from_secs_f64(s))
                }
                Some(_) => bail!("{config_name}: console.{key}: expected 0.1 to 86400 seconds"),
            }
        };
        limits.header_timeout =
            secs("header_timeout_secs", self.header_timeout_secs, limits.header_timeout)?;
        limits.idle_timeout =
            secs("idle_timeout_secs", self.idle_timeout_secs, limits.idle_timeout)?;
        for (key, value, target) in [
            ("max_connections", self.max_connections, &mut limits.max_connections),
            (
                "max_connections_per_ip",
                self.max_connections_per_ip,
                &mut limits.max_connections_per_ip,
            ),
        ] {
            match value {
                None => {}
                Some(n) if (1..=1_000_000).contains(&n) => *target = n,
                Some(_) => bail!("{config_name}: console.{key}: expected 1 to 1000000"),
            }
        }
        if let Some(n) = self.max_body_bytes {
            limits.max_body_bytes = n;
        }
        Ok(limits)
    }
}

/// `[analysis]` of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalysisConfig {
    default_region: Option<String>,
    #[serde(default)]
    brands: Vec<PathBuf>,
}

/// Descriptors `run` keeps from its sensor for the console (its listener and up to 1,024
/// connections, its default cap) and the store connections of the console and the analysis.
/// At most half of the descriptor limit is ever reserved (see `Limits::budget`).
const CONSOLE_RESERVED_DESCRIPTORS: usize = 1024 + 64;

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => ConfigFile::default(),
    };
    let config_name = args.config.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let console_cfg = std::mem::take(&mut config.console);
    let analysis_cfg = std::mem::take(&mut config.analysis);
    let extra = sensor_listeners(&args, config.listener.is_empty())?;
    let data =
        args.data.clone().or(config.data.clone()).unwrap_or_else(|| super::DEFAULT_DATA.into());
    let setup = SensorSetup::resolve(
        config,
        &config_name,
        extra,
        Vec::new(),
        args.personas.as_deref(),
        Some(data.clone()),
        args.sensor_name.clone(),
    )?;
    let console_listen = match args.console_listen.or(console_cfg.listen) {
        Some(addr) => addr,
        None => DEFAULT_CONSOLE_LISTEN.parse().context("default console address")?,
    };
    for (sensor, _) in setup.wanted.iter().chain(&setup.tls_wanted) {
        if clash(sensor, &console_listen) {
            bail!("the console ({console_listen}) cannot listen on a sensor port ({sensor})");
        }
    }
    let session_hours = console_cfg.session_hours.unwrap_or(12);
    if !(1..=720).contains(&session_hours) {
        bail!("{config_name}: console.session_hours: expected 1 to 720");
    }
    let session_idle_minutes = console_cfg.session_idle_minutes.unwrap_or(60);
    if !(1..=43_200).contains(&session_idle_minutes) {
        bail!("{config_name}: console.session_idle_minutes: expected 1 to 43200");
    }
    let console_limits = console_cfg.limits(&config_name)?;
    if console_cfg
        .silent_after_secs
        .is_some_and(|s| !super::console::SILENT_AFTER_SECS.contains(&s))
    {
        bail!("{config_name}: console.silent_after_secs: expected 6 to 2592000");
    }
    let silent_after = super::console::silent_after(console_cfg.silent_after_secs);
    // flags over the config file; brand catalogs add up
    let mut brands = analysis_cfg.brands;
    brands.extend(args.engine.brands.iter().cloned());
    let engine_args = super::EngineArgs {
        brands,
        default_region: args.engine.default_region.clone().or(analysis_cfg.default_region),
        rules_only: args.engine.rules_only,
        model: args.engine.model.clone(),
    };
    let (engine, options) = engine_args.load()?;
    let engine = Arc::new(engine);
    if args.check_config {
        let mut out = std::io::stdout().lock();
        for (addr, persona) in &setup.wanted {
            writeln!(out, "sensor\t{addr}\t{persona}")?;
        }
        writeln!(out, "console\t{console_listen}")?;
        return Ok(ExitCode::SUCCESS);
    }

    // one `run` per data directory: two would interleave analysis and clustering
    let _lock = smishtrap_store::DataLock::acquire(&data)?;
    let recording = Recording::start(&setup)?;
    let (token, origin) = token::load_or_create(
        &data,
        args.console_token.as_deref().or(console_cfg.token.as_deref()),
    )
    .context("cannot set up the console token")?;
    let db = smishtrap_store::db_path(&data);
    let mut worker_config = WorkerConfig::new(db);
    worker_config.options = options;
    let worker = Worker::start(worker_config, engine).context("cannot start the analysis")?;
    let mut web = WebConfig::new(&data, token.clone());
    web.session_ttl = std::time::Duration::from_secs(session_hours * 3600);
    web.session_idle = std::time::Duration::from_secs(session_idle_minutes * 60);
    // the sensors' own addresses are never indicators: every listener's, plus the configured
    let mut own: Vec<std::net::IpAddr> = setup
        .wanted
        .iter()
        .chain(&setup.tls_wanted)
        .map(|(addr, _)| addr.ip())
        .filter(|ip| !ip.is_unspecified())
        .chain(console_cfg.own_addresses.iter().copied())
        .collect();
    own.sort_unstable();
    own.dedup();
    web.producer.hygiene =
        smishtrap_export::indicator::Hygiene::builtin(&own).context("loading the platform list")?;
    web.producer.personas = super::personas::export_infos();
    web.limits = console_limits;
    web.silent_after = silent_after;
    let console = Console::start(web).context("cannot start the console")?;

    super::sensor::raise_descriptor_limit();
    // The sensor leaves these descriptors to the console and the analysis.
    let mut limits = setup.limits();
    limits.reserved_descriptors =
        limits.reserved_descriptors.saturating_add(CONSOLE_RESERVED_DESCRIPTORS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let served = runtime.block_on(async {
        let signal = super::shutdown_signal();
        let listeners = setup.bind().await?;
        recording.heartbeat_listeners(&listeners);
        // `[forward]` in the config; the task ends with the runtime (the cursor is committed).
        let _forwarding = setup.forward_config()?.map(super::sensor::Forwarding::start);
        let console_socket = tokio::net::TcpListener::bind(console_listen)
            .await
            .with_context(|| format!("cannot listen on {console_listen}"))?;
        let local = console_socket.local_addr()?;
        if !local.ip().is_loopback() {
            tracing::warn!(%local, "the console listens beyond loopback; put TLS in front of it");
        }
        super::console::announce(local, &token, &origin);
        // One signal stops both servers.
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        tokio::spawn(async move {
            signal.await;
            tracing::info!("shutting down: finishing in-flight requests");
            stop.send_replace(true);
        });
        let sensor = smishtrap_sensor::serve(
            listeners,
            &setup.name,
            limits,
            recording.publisher(),
            recording.counters.clone(),
            wait(stopping.clone()),
        );
        let console_served = smishtrap_web::serve(console_socket, console.state(), wait(stopping));
        let ((), console_result) = tokio::join!(sensor, console_served);
        console_result.context("console server failed")
    });
    // Open SSE streams never end by themselves: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    setup.save_devices();
    let code = recording.finish();
    // The analysis resumes from its cursors at the next start.
    worker.stop();
    console.stop();
    served?;
    Ok(code)
}

/// The `--sensor-listen`/`--persona` pairs; the default listener when neither flags nor the
/// config name one.
fn sensor_listeners(
    args: &Args,
    config_has_none: bool,
) -> anyhow::Result<Vec<(SocketAddr, String, String)>> {
    let mut listens = args.sensor_listen.clone();
    if listens.is_empty() && config_has_none {
        listens.push(DEFAULT_SENSOR_LISTEN.parse().context("default sensor address")?);
    }
    let persona_for = |i: usize| -> anyhow::Result<String> {
        Ok(match args.persona.len() {
            0 => DEFAULT_PERSONA.to_owned(),
            1 => args.persona[0].clone(),
            n if n == listens.len() => args.persona[i].clone(),
            n => bail!("--persona given {n} times for {} --sensor-listen", listens.len()),
        })
    };
    if listens.is_empty() && !args.persona.is_empty() {
        bail!("--persona needs --sensor-listen");
    }
    listens
        .iter()
        .enumerate()
        .map(|(i, addr)| Ok((*addr, persona_for(i)?, "--persona".to_owned())))
        .collect()
}

/// Whether two bind addresses would share a port (same port and overlapping addresses).
fn clash(a: &SocketAddr, b: &SocketAddr) -> bool {
    a.port() == b.port()
        && a.port() != 0
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(a: &str, b: &str, expect: bool) {
        let (a, b): (SocketAddr, SocketAddr) = (
            a.parse().unwrap_or_else(|e| panic!("{e}")),
            b.parse().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(clash(&a, &b), expect, "{a} {b}");
    }

    #[test]
    fn console_and_sensor_ports_must_not_clash() {
        check("127.0.0.1:8080", "127.0.0.1:8080", true);
        check("0.0.0.0:8080", "127.0.0.1:8080", true);
        check("127.0.0.1:8080", "[::]:8080", true);
        check("127.0.0.1:8080", "127.0.0.2:8080", false);
        check("127.0.0.1:8080", "127.0.0.1:9090", false);
        check("127.0.0.1:0", "127.0.0.1:0", false);
    }
}
