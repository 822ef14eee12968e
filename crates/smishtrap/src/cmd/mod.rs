//! One module per subcommand; each exposes `Args` and `run(Args) -> anyhow::Result<ExitCode>`.

pub(crate) mod analyze;
pub(crate) mod campaigns;
pub(crate) mod console;
pub(crate) mod events;
pub(crate) mod export;
pub(crate) mod sensor;
