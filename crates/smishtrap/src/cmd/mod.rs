//! One module per subcommand; each exposes `Args` and `run(Args) -> anyhow::Result<ExitCode>`.

pub(crate) mod analyze;
pub(crate) mod campaigns;
pub(crate) mod console;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod sensor;

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, whichever comes first.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
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
