use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

#[derive(Debug, clap::Args)]
pub(crate) struct PersonasArgs {}

pub(crate) fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}

pub(crate) fn personas(_args: PersonasArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
