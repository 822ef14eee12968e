//! One module per subcommand; each exposes `Args` and `run(Args) -> anyhow::Result<ExitCode>`.

pub(crate) mod analyze;
pub(crate) mod audit;
pub(crate) mod campaigns;
pub(crate) mod console;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod health;
#[cfg(feature = "hub")]
pub(crate) mod hub;
pub(crate) mod import;
pub(crate) mod maintain;
pub(crate) mod personas;
pub(crate) mod run;
pub(crate) mod sensor;

/// The data directory every subcommand uses when `--data` is not given.
pub(crate) const DEFAULT_DATA: &str = "./smishtrap-data";

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first. The handlers are installed
/// when this is called (inside the runtime), not when the future is first polled, so a signal
/// that arrives right after the start-up banner is not lost (it would kill the process).
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (term, int) = term;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {}
                _ = wait(int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `--default-region`: an ISO 3166-1 alpha-2 code, returned upper-case.
pub(crate) fn parse_region(region: Option<&str>) -> anyhow::Result<Option<String>> {
    match region {
        Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Ok(Some(r.to_ascii_uppercase()))
        }
        Some(r) => {
            anyhow::bail!("--default-region {r:?}: expected an ISO 3166-1 alpha-2 code such as BE")
        }
        None => Ok(None),
    }
}

/// How records are analysed: flags shared by every command that runs the engine.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct EngineArgs {
    /// Extra brand catalog (TOML, same format as the built-in one); repeatable
    #[arg(long = "brands", value_name = "FILE")]
    pub(crate) brands: Vec<std::path::PathBuf>,
    /// Region (ISO 3166-1 alpha-2) for national numbers of records without router_country
    #[arg(long, value_name = "CC")]
    pub(crate) default_region: Option<String>,
    /// Score with the rules only, without the statistical text model
    #[arg(long)]
    pub(crate) rules_only: bool,
    /// Text model file to use instead of the built-in one (as written by the trainer,
    /// e.g. for leave-one-source-out evaluation)
    #[arg(long, value_name = "FILE", conflicts_with = "rules_only")]
    pub(crate) model: Option<std::path::PathBuf>,
}

impl EngineArgs {
    /// The shipped engine plus the extra brand catalogs, and the analysis options.
    pub(crate) fn load(
        &self,
    ) -> anyhow::Result<(smishtrap_intel::Engine, smishtrap_intel::AnalyzeOptions)> {
        use anyhow::Context;
        let options = smishtrap_intel::AnalyzeOptions {
            default_region: parse_region(self.default_region.as_deref())?,
        };
        let mut extra = Vec::new();
        for path in &self.brands {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading brand catalog {}", path.display()))?;
            extra.push((path.display().to_string(), text));
        }
        let refs: Vec<(&str, &str)> = extra.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let catalog = smishtrap_intel::Catalog::with_extensions(&refs)
            .context("loading the brand catalog")?;
        let cues = smishtrap_intel::Cues::builtin().context("loading the cue vocabulary")?;
        let model = if self.rules_only {
            None
        } else if let Some(path) = &self.model {
            // a model file is a few MiB; refuse to read anything much larger
            const MAX_MODEL_BYTES: u64 = 256 << 20;
            let len = std::fs::metadata(path)
                .with_context(|| format!("reading text model {}", path.display()))?
                .len();
            anyhow::ensure!(
                len <= MAX_MODEL_BYTES,
                "text model {} is larger than {MAX_MODEL_BYTES} bytes",
                path.display()
            );
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading text model {}", path.display()))?;
            Some(
                smishtrap_intel::Model::from_bytes(&bytes)
                    .with_context(|| format!("loading text model {}", path.display()))?,
            )
        } else {
            Some(smishtrap_intel::Model::builtin().context("loading the text model")?)
        };
        Ok((smishtrap_intel::Engine::new(catalog, cues, model), options))
    }
}
