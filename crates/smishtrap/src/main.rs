//! The `smishtrap` command: argument parsing and glue only; the work lives in the crates.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod input;

/// mimalloc instead of glibc's allocator: `analyze` makes about 30 small allocations per
/// message on every worker thread, and glibc spent 15 % of the run in malloc and free (its
/// arena locks contend when a buffer is freed on another thread). Built without transparent
/// huge pages, which cost 40 MB of RSS and page-clearing time for no gain here.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "smishtrap",
    version,
    about = "Catch and investigate SMS phishing sent through abused cellular routers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run everything on one data directory: sensor, continuous analysis and web console
    Run(cmd::run::Args),
    /// Analyse SMS record files into a data directory for the console (then cluster them)
    Import(cmd::import::Args),
    /// Run a router honeypot sensor until SIGINT or SIGTERM
    Sensor(cmd::sensor::Args),
    /// List the personas a sensor can take (--families: the router families and models)
    Personas(cmd::personas::Args),
    /// Print the events a sensor recorded, oldest first
    Events(cmd::events::Args),
    /// Analyse SMS records: numbers, language, URLs, brands, verdicts
    Analyze(cmd::analyze::Args),
    /// Serve the web console and REST API over a data directory
    Console(cmd::console::Args),
    /// Group smishing into campaigns with waves, validation sends and infrastructure
    Campaigns(cmd::campaigns::Args),
    /// Export campaigns and indicators as STIX 2.1, MISP, CSV or JSON
    Export(cmd::export::Args),
    /// Audit a fleet of SMS-capable routers, read-only: log leak, open SMS API, abused outbox
    Audit(cmd::audit::Args),
    /// Store the events sensors forward through NATS JetStream in PostgreSQL
    #[cfg(feature = "hub")]
    Hub(cmd::hub::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SMISHTRAP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // colour codes only for a terminal, never into a log file or pipe
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Run(args) => cmd::run::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Sensor(args) => cmd::sensor::run(args),
        Command::Personas(args) => cmd::personas::run(args),
        Command::Events(args) => cmd::events::run(args),
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Console(args) => cmd::console::run(args),
        Command::Campaigns(args) => cmd::campaigns::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        #[cfg(feature = "hub")]
        Command::Hub(args) => cmd::hub::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line.
            #[allow(clippy::print_stderr, reason = "the binary's error report")]
            {
                eprintln!("error: {err:#}");
            }
            ExitCode::from(2)
        }
    }
}
