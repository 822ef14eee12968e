//! `smishtrap console`: serve the web console and REST API over an existing data directory
//! until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use smishtrap_web::token::{self, TokenOrigin};
use smishtrap_web::{Console, ConsoleConfig};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Data directory of the sensor (holds smishtrap.db); the console only reads events
    #[arg(long, value_name = "DIR", default_value = super::DEFAULT_DATA)]
    data: PathBuf,
    /// Address to serve the console on (loopback by default; put TLS in front of any other)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Access token (16 to 256 visible ASCII characters); without it the token stored in
    /// DIR/console-token is used, generated on first start
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// How long a browser login lasts before the token is needed again
    #[arg(long, value_name = "HOURS", default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=720))]
    session_hours: u64,
    /// How long a browser login lasts without a request (never longer than --session-hours)
    #[arg(long, value_name = "MINUTES", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=43_200))]
    session_idle_minutes: u64,
    /// An address of the sensors (repeatable): never offered as an indicator to block
    /// (loopback, private and documentation addresses never are)
    #[arg(long, value_name = "IP")]
    own_address: Vec<std::net::IpAddr>,
    /// Flag a sensor silent after this many seconds without a heartbeat (and no goodbye);
    /// sensors send one every 5 s [default: 15]
    #[arg(long, value_name = "SECS", value_parser = silent_after_secs())]
    silent_after: Option<u64>,
}

/// Bounds of `--silent-after` and `[console] silent_after_secs`: more than one heartbeat
/// period (5 s), at most 30 days.
pub(crate) const SILENT_AFTER_SECS: std::ops::RangeInclusive<u64> = 6..=2_592_000;

pub(crate) fn silent_after_secs() -> clap::builder::RangedU64ValueParser {
    clap::value_parser!(u64).range(SILENT_AFTER_SECS)
}

/// The console's silent threshold: `secs`, else three heartbeat periods.
pub(crate) fn silent_after(secs: Option<u64>) -> std::time::Duration {
    secs.map_or(smishtrap_web::findings::DEFAULT_SILENT_AFTER, std::time::Duration::from_secs)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (token, origin) = token::load_or_create(&args.data, args.token.as_deref())
        .context("cannot set up the console token")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let mut config = ConsoleConfig::new(&args.data, token.clone());
    config.session_ttl = std::time::Duration::from_secs(args.session_hours * 3600);
    config.session_idle = std::time::Duration::from_secs(args.session_idle_minutes * 60);
    config.producer.hygiene = smishtrap_export::indicator::Hygiene::builtin(&args.own_address)
        .context("loading the platform list")?;
    config.silent_after = silent_after(args.silent_after);
    config.producer.personas = super::personas::export_infos();
    let console = Console::start(config).context("cannot start the console")?;
    let served = runtime.block_on(async {
        let signal = super::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() {
            tracing::warn!(%local, "the console listens beyond loopback; put TLS in front of it");
        }
        announce(local, &token, &origin);
        smishtrap_web::serve(listener, console.state(), signal)
            .await
            .context("console server failed")
    });
    // Open SSE streams never end by themselves: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    console.stop();
    served?;
    Ok(ExitCode::SUCCESS)
}

/// The start-up contract on stderr: where the console is and how to log in. The token is
/// printed only when it was just generated (nobody else knows it yet).
#[allow(clippy::print_stderr, reason = "the bound address and login URL are the start-up contract")]
pub(crate) fn announce(local: SocketAddr, token: &smishtrap_web::Token, origin: &TokenOrigin) {
    eprintln!("console listening on http://{local}/");
    match origin {
        TokenOrigin::Generated(path) => {
            eprintln!("new console token stored in {}", path.display());
            eprintln!("log in: http://{local}/login?token={}", token.expose());
        }
        TokenOrigin::Stored(path) => {
            eprintln!("log in: http://{local}/login (token in {})", path.display());
        }
        TokenOrigin::Given => eprintln!("log in: http://{local}/login (token given with --token)"),
    }
}
