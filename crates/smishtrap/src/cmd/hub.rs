//! `smishtrap hub` (cargo feature `hub`): consume the events sensors forward through NATS
//! JetStream and store them in PostgreSQL until SIGINT or SIGTERM. The behaviour lives in
//! `smishtrap_forward::hub`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;
use smishtrap_forward::hub::{Hub, HubConfig};

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
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let conninfo = match args.postgres {
        Some(c) => c,
        None => std::env::var("SMISHTRAP_POSTGRES")
            .context("no PostgreSQL connection: give --postgres or set SMISHTRAP_POSTGRES")?,
    };
    let store = smishtrap_store::PostgresStore::open(&conninfo, &args.schema)
        .context("cannot open the PostgreSQL store")?;
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
        hub.run(signal).await.context("ingestion failed")?;
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
    Ok(ExitCode::SUCCESS)
}
