//! `smishtrap hub` (cargo feature `hub`): consume the events sensors forward through NATS
//! JetStream and store them in PostgreSQL until SIGINT or SIGTERM, run the analyst on that
//! store (capture analysis and clustering, each in one hub at a time) and, with `--console`,
//! serve the console and API from it; `hub enroll`, `hub revoke` and `hub nats-config` manage
//! the sensors' NATS credentials. The behaviour lives in `smishtrap_forward::hub`,
//! `smishtrap_forward::enroll` and `smishtrap_analyst`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use smishtrap_analyst::{Worker, WorkerConfig};
use smishtrap_forward::SensorName;
use smishtrap_forward::enroll::{NatsServerConfig, Registry};
use smishtrap_forward::hub::{Hub, HubConfig};
use smishtrap_store::PostgresStore;
use smishtrap_web::{Console, ConsoleConfig, StoreOpener};

/// Default registry directory of enrolled sensors (`hub.nk`, `sensors/`, `users.conf`).
const DEFAULT_NATS_DIR: &str = "/etc/smishtrap/nats";

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<HubCommand>,
    #[command(flatten)]
    ingest: IngestArgs,
}

#[derive(Debug, clap::Subcommand)]
enum HubCommand {
    /// Issue NATS credentials for a new sensor (an NKey seed file, mode 0600)
    Enroll(EnrollArgs),
    /// Withdraw a sensor's NATS credentials
    Revoke(RevokeArgs),
    /// Print the NATS server configuration the hub expects (creates the registry if needed)
    NatsConfig(NatsConfigArgs),
}

#[derive(Debug, clap::Args)]
struct RegistryArgs {
    /// Registry directory: hub.nk, sensors/, users.conf (the NATS configuration includes it)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_NATS_DIR)]
    nats_dir: PathBuf,
    /// PID file of nats-server: send it SIGHUP so the change applies without a restart
    #[arg(long, value_name = "FILE")]
    reload_pid_file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct EnrollArgs {
    /// Sensor name (its --sensor-name; 1 to 64 of A-Z a-z 0-9 _ -)
    name: String,
    /// Where to write the credentials file [default: NATS_DIR/creds/NAME.nk]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, clap::Args)]
struct RevokeArgs {
    /// Sensor name
    name: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, clap::Args)]
struct NatsConfigArgs {
    /// Registry directory (save the printed configuration there, as nats-server.conf)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_NATS_DIR)]
    nats_dir: PathBuf,
    /// Address NATS listens on for sensors and hubs
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:4222")]
    listen: String,
    /// JetStream store directory
    #[arg(long, value_name = "DIR", default_value = "/var/lib/nats/jetstream")]
    store_dir: PathBuf,
    /// Most disk JetStream may use, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 10_240)]
    max_store_mib: u64,
    /// Server certificate (PEM) for TLS; with --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM) for TLS; with --tls-cert
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// NATS monitoring port on 127.0.0.1 (health checks)
    #[arg(long, value_name = "PORT")]
    monitor_port: Option<u16>,
}

#[derive(Debug, clap::Args)]
struct IngestArgs {
    /// NATS server with JetStream (nats://HOST:PORT or tls://HOST:PORT)
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// NATS credentials file of the hub
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// CA certificate (PEM) that signed the NATS server's certificate; turns TLS on
    #[arg(long, value_name = "FILE")]
    nats_ca: Option<PathBuf>,
    /// PostgreSQL connection (libpq form, `host=… user=… dbname=…` or `postgres://…`);
    /// default: the SMISHTRAP_POSTGRES environment variable (keeps a password off argv)
    #[arg(long, value_name = "CONNINFO")]
    postgres: Option<String>,
    /// PostgreSQL schema of the store
    #[arg(long, value_name = "NAME", default_value = "public")]
    schema: String,
    /// Durable consumer name; hubs with the same name share the work
    #[arg(long, value_name = "NAME", default_value = "smishtrap-hub")]
    consumer: String,
    /// Most events per fetch and PostgreSQL transaction
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch: u64,
    /// Do not analyse what is stored (another hub or process does)
    #[arg(long)]
    no_analyst: bool,
    /// Serve the console and API from the PostgreSQL store on this address
    #[arg(long, value_name = "ADDR")]
    console: Option<SocketAddr>,
    /// Where the console keeps its token (DIR/console-token) when --console-token is not given
    #[arg(long, value_name = "DIR", default_value = super::DEFAULT_DATA)]
    data: PathBuf,
    /// Console access token (16 to 256 visible ASCII characters)
    #[arg(long, value_name = "TOKEN")]
    console_token: Option<String>,
    /// Flag a sensor silent on the console after this many seconds without a heartbeat (and
    /// no goodbye); sensors send one every 5 s [default: 15]
    #[arg(long, value_name = "SECS", requires = "console", value_parser = super::console::silent_after_secs())]
    silent_after: Option<u64>,
    #[command(flatten)]
    engine: super::EngineArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        None => ingest(args.ingest),
        Some(HubCommand::Enroll(args)) => enroll(args),
        Some(HubCommand::Revoke(args)) => revoke(args),
        Some(HubCommand::NatsConfig(args)) => nats_config(args),
    }
}

#[allow(clippy::print_stdout, clippy::print_stderr, reason = "the command's output")]
fn enroll(args: EnrollArgs) -> anyhow::Result<ExitCode> {
    let name = SensorName::parse(&args.name)?;
    let registry = Registry::open(&args.registry.nats_dir)?;
    let out = args.out.unwrap_or_else(|| registry.dir().join("creds").join(format!("{name}.nk")));
    registry.enroll(&name, &out)?;
    println!("{}", out.display());
    eprintln!(
        "enrolled sensor {name}: copy {} to the sensor (mode 0600) and start it with \
         --sensor-name {name} --credentials FILE",
        out.display()
    );
    apply(&registry, args.registry.reload_pid_file.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn revoke(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    let name = SensorName::parse(&args.name)?;
    let registry = Registry::open(&args.registry.nats_dir)?;
    registry.revoke(&name)?;
    #[allow(clippy::print_stderr, reason = "the command's output")]
    {
        eprintln!("revoked sensor {name}");
    }
    apply(&registry, args.registry.reload_pid_file.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Makes NATS re-read the users file (SIGHUP = `nats-server --signal reload`), or says how.
fn apply(registry: &Registry, pid_file: Option<&Path>) -> anyhow::Result<()> {
    let users = registry.users_path();
    let Some(pid_file) = pid_file else {
        #[allow(clippy::print_stderr, reason = "the command's output")]
        {
            eprintln!(
                "{} updated; apply it without a restart: systemctl reload smishtrap-nats \
                 (or nats-server --signal reload=PID)",
                users.display()
            );
        }
        return Ok(());
    };
    let text = std::fs::read_to_string(pid_file)
        .with_context(|| format!("{}: cannot read the NATS pid file", pid_file.display()))?;
    let pid: u32 =
        text.trim().parse().with_context(|| format!("{}: not a process id", pid_file.display()))?;
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    anyhow::ensure!(status.success(), "cannot signal nats-server (pid {pid}) to reload");
    tracing::info!(pid, users = %users.display(), "nats-server reloading its users");
    Ok(())
}

fn nats_config(args: NatsConfigArgs) -> anyhow::Result<ExitCode> {
    let registry = Registry::open(&args.nats_dir)?;
    let config = NatsServerConfig {
        listen: args.listen,
        store_dir: args.store_dir,
        max_file_store: args.max_store_mib.saturating_mul(1024 * 1024),
        tls: args.tls_cert.zip(args.tls_key),
        monitor_port: args.monitor_port,
    };
    #[allow(clippy::print_stdout, clippy::print_stderr, reason = "the command's output")]
    {
        print!("{}", config.render());
        eprintln!(
            "hub credentials: {} (smishtrap hub --credentials); sensors: smishtrap hub enroll NAME",
            registry.hub_key_path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ingest(args: IngestArgs) -> anyhow::Result<ExitCode> {
    let conninfo = match args.postgres {
        Some(c) => c,
        None => std::env::var("SMISHTRAP_POSTGRES")
            .context("no PostgreSQL connection: give --postgres or set SMISHTRAP_POSTGRES")?,
    };
    let store =
        PostgresStore::open(&conninfo, &args.schema).context("cannot open the PostgreSQL store")?;
    let worker = if args.no_analyst {
        None
    } else {
        let (engine, options) = args.engine.load()?;
        let mut config = WorkerConfig::new(PathBuf::new());
        config.options = options;
        let (conninfo, schema) = (conninfo.clone(), args.schema.clone());
        let open = Arc::new(move || PostgresStore::open(&conninfo, &schema));
        Some(
            Worker::start_on(open, config, Arc::new(engine))
                .context("cannot start the analysis")?,
        )
    };
    let console = match args.console {
        Some(addr) => {
            let (token, origin) =
                smishtrap_web::token::load_or_create(&args.data, args.console_token.as_deref())
                    .context("cannot set up the console token")?;
            let mut config = ConsoleConfig::new(&args.data, token.clone());
            let (conninfo, schema) = (conninfo.clone(), args.schema.clone());
            config.store = Some(StoreOpener::new(move || {
                let store = PostgresStore::open_read_only(&conninfo, &schema)?;
                Ok(Some(Box::new(store) as smishtrap_web::Store))
            }));
            config.producer.hygiene = smishtrap_export::indicator::Hygiene::builtin(&[])
                .context("loading the platform list")?;
            config.silent_after = super::console::silent_after(args.silent_after);
            config.producer.personas = super::personas::export_infos();
            let console = Console::start(config).context("cannot start the console")?;
            Some((addr, console, token, origin))
        }
        None => None,
    };
    let fleet = smishtrap_store::PostgresFleet::open(&conninfo, &args.schema)
        .context("cannot open the PostgreSQL fleet tables")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let config = HubConfig {
        consumer: args.consumer,
        batch: usize::try_from(args.batch).unwrap_or(256),
        ..HubConfig::default()
    };
    runtime.block_on(async {
        let signal = super::shutdown_signal();
        let hub = Hub::connect(
            &args.nats,
            args.credentials.as_deref(),
            args.nats_ca.as_deref(),
            store,
            config,
        )
        .await
        .context("cannot start ingestion")?
        .with_heartbeats(fleet)
        .await
        .context("cannot subscribe to the sensors' heartbeats")?;
        let stats = hub.stats();
        #[allow(clippy::print_stderr, reason = "the start-up contract")]
        {
            eprintln!(
                "hub consuming stream {} from {} into PostgreSQL schema {}",
                smishtrap_forward::STREAM,
                args.nats,
                args.schema
            );
        }
        let served = match &console {
            Some((addr, console, token, origin)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr}"))?;
                let local = listener.local_addr()?;
                super::console::announce(local, token, origin);
                let (stop_console, stopped) = tokio::sync::oneshot::channel::<()>();
                let state = console.state();
                let task = tokio::spawn(async move {
                    smishtrap_web::serve(listener, state, async move {
                        let _ = stopped.await;
                    })
                    .await
                });
                Some((stop_console, task))
            }
            None => None,
        };
        let ran = hub.run(signal).await;
        if let Some((stop_console, task)) = served {
            let _ = stop_console.send(());
            let _ = task.await;
        }
        ran.context("ingestion failed")?;
        tracing::info!(
            inserted = stats.inserted.load(Ordering::Relaxed),
            duplicates = stats.duplicates.load(Ordering::Relaxed),
            rejected_sensor = stats.rejected_sensor.load(Ordering::Relaxed),
            malformed = stats.malformed.load(Ordering::Relaxed),
            failures = stats.failures.load(Ordering::Relaxed),
            heartbeats = stats.heartbeats.load(Ordering::Relaxed),
            heartbeats_rejected = stats.heartbeats_rejected.load(Ordering::Relaxed),
            "hub stopped"
        );
        anyhow::Ok(())
    })?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Some((_, console, _, _)) = console {
        console.stop();
    }
    if let Some(worker) = worker {
        worker.stop();
    }
    Ok(ExitCode::SUCCESS)
}
