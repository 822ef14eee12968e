//! `smishtrap personas`: the personas a sensor can take, or (`--families`) the router
//! families and their models.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use smishtrap_sensor::PersonaSet;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory of extra persona files
    #[arg(long, value_name = "DIR")]
    personas: Option<PathBuf>,
    /// One line per family (vendor and API dialect) with its models
    #[arg(long)]
    families: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let set = match &args.personas {
        Some(dir) => PersonaSet::with_dir(dir)?,
        None => PersonaSet::embedded()?,
    };
    let mut out = std::io::stdout().lock();
    if args.families {
        let mut families: Vec<(String, &str, Vec<String>)> = Vec::new();
        for p in set.iter() {
            let dialect = p.dialect.name();
            match families.iter_mut().find(|(v, d, _)| *v == p.vendor && *d == dialect) {
                Some((_, _, models)) => models.push(p.model.clone()),
                None => families.push((p.vendor.clone(), dialect, vec![p.model.clone()])),
            }
        }
        for (vendor, dialect, models) in families {
            writeln!(out, "{vendor}\t{dialect}\t{}", models.join(", "))?;
        }
    } else {
        for p in set.iter() {
            writeln!(
                out,
                "{}\t{} {} {}\t{}",
                p.name,
                p.vendor,
                p.model,
                p.rtver,
                p.dialect.name()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The shipped personas as exports show them (router family and API dialect by name); empty
/// if they cannot load (exports then leave the capture columns empty).
pub(crate) fn export_infos() -> std::collections::BTreeMap<String, smishtrap_export::PersonaInfo> {
    let Ok(set) = PersonaSet::embedded() else { return Default::default() };
    set.iter()
        .map(|p| {
            let info = smishtrap_export::PersonaInfo {
                family: p.vendor.clone(),
                dialect: p.dialect.name().to_owned(),
            };
            (p.name.as_str().to_owned(), info)
        })
        .collect()
}
