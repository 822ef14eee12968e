//! `smishtrap hub` (cargo feature `hub`): consume the events sensors forward through NATS
//! JetStream and store them in PostgreSQL until SIGINT or SIGTERM, run the analyst on that
//! store (capture analysis and clustering, each in one hub at a time) and, with `--console`,
//! serve the console and API from it. Ingestion lives in `smishtrap_forward::hub`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use smishtrap_analyst::{Worker, WorkerConfig};
use smishtrap_forward::hub::{Hub, HubConfig};
use smishtrap_store::PostgresStore;
use smishtrap_web::{Console, ConsoleConfig, StoreOpener};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
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
    #[command(flatten)]
    engine: super::EngineArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
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
            let console = Console::start(config).context("cannot start the console")?;
            Some((addr, console, token, origin))
        }
        None => None,
    };
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
        .context("cannot start ingestion")?;
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
