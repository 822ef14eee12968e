//! `smishtrap export`: campaigns and their indicators as STIX 2.1, MISP (events or a feed
//! directory), CSV or JSON; the stored campaigns of a data directory, or files clustered.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use smishtrap_export::{Producer, Tlp, misp};

use super::campaigns::{InputArgs, campaigns_of, exit_code};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// STIX 2.1 bundle (campaigns, indicators, SCOs, infrastructure, relationships, notes)
    Stix,
    /// MISP event JSON (see --misp-mode)
    Misp,
    /// A MISP feed directory (--out DIR): manifest.json, hashes.csv, one <uuid>.json per
    /// campaign event, for a MISP instance to subscribe to
    MispFeed,
    /// One indicator per row: type, value, defanged value, campaign, first/last seen, count
    Csv,
    /// The campaign summaries as JSON
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MispMode {
    /// One event per campaign: a directory of <campaign>.json with --out, else JSON lines
    PerCampaign,
    /// One event holding every campaign
    Single,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    input: InputArgs,
    /// Export format
    #[arg(long, value_enum)]
    format: Format,
    /// Write here instead of standard output (a directory for --misp-mode per-campaign)
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// MISP: one event per campaign or a single event
    #[arg(long, value_enum, default_value_t = MispMode::PerCampaign)]
    misp_mode: MispMode,
    /// Producer name (STIX identity, MISP creator organisation)
    #[arg(long, value_name = "NAME", default_value = "smishtrap")]
    producer: String,
    /// Leave out campaigns with fewer messages than this
    #[arg(long, value_name = "N", default_value_t = 1)]
    min_messages: usize,
    /// TLP 2.0 level of the export: STIX marking and MISP tag (clear, green, amber,
    /// amber+strict, red)
    #[arg(long, value_name = "LEVEL", default_value = "amber", value_parser = parse_tlp)]
    tlp: Tlp,
    /// An address of this sensor (repeatable): never exported as an indicator (loopback,
    /// private and documentation addresses never are)
    #[arg(long, value_name = "IP")]
    own_address: Vec<std::net::IpAddr>,
}

fn parse_tlp(s: &str) -> Result<Tlp, String> {
    s.parse()
}

fn pretty(value: &serde_json::Value) -> anyhow::Result<Vec<u8>> {
    let mut v = serde_json::to_vec_pretty(value).context("serialising the export")?;
    v.push(b'\n');
    Ok(v)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let found = campaigns_of(&args.input)?;
    let campaigns: Vec<_> =
        found.campaigns.iter().filter(|c| c.message_count >= args.min_messages).cloned().collect();
    let producer = Producer {
        name: args.producer.clone(),
        tlp: args.tlp,
        hygiene: smishtrap_export::indicator::Hygiene::builtin(&args.own_address)
            .context("loading the platform list")?,
        personas: super::personas::export_infos(),
    };
    let bytes = match args.format {
        Format::Stix => pretty(&smishtrap_export::stix::bundle(&campaigns, &producer))?,
        Format::Json => pretty(&smishtrap_export::json(&campaigns))?,
        Format::Csv => smishtrap_export::csv::indicators_for(&campaigns, &producer),
        Format::MispFeed => {
            let Some(dir) = &args.out else {
                anyhow::bail!("--format misp-feed writes a directory: give --out DIR");
            };
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            // names are event uuids and two fixed names: safe to join
            for (name, body) in smishtrap_export::feed::files(&campaigns, &producer) {
                let path = dir.join(name);
                std::fs::write(&path, body)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            return Ok(exit_code(&found, args.input.allow_bad));
        }
        Format::Misp => {
            let mode = match args.misp_mode {
                MispMode::PerCampaign => misp::Mode::PerCampaign,
                MispMode::Single => misp::Mode::Single,
            };
            let events = misp::events(&campaigns, mode, &producer);
            match (mode, &args.out) {
                (misp::Mode::PerCampaign, Some(dir)) => {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    for (c, event) in campaigns.iter().zip(&events) {
                        // campaign ids are `cmp-` and hex: safe as file names
                        let name: String =
                            c.id.chars()
                                .filter(|ch| ch.is_ascii_alphanumeric() || *ch == '-')
                                .collect();
                        let path = dir.join(format!("{name}.json"));
                        std::fs::write(&path, pretty(event)?)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                    return Ok(exit_code(&found, args.input.allow_bad));
                }
                (misp::Mode::PerCampaign, None) => {
                    let mut v = Vec::new();
                    for e in &events {
                        v.extend(serde_json::to_vec(e).context("serialising the export")?);
                        v.push(b'\n');
                    }
                    v
                }
                (misp::Mode::Single, _) => {
                    pretty(events.first().unwrap_or(&serde_json::Value::Null))?
                }
            }
        }
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, &bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if let Err(e) = out.write_all(&bytes).and_then(|()| out.flush())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(anyhow::Error::from(e).context("writing output"));
            }
        }
    }
    Ok(exit_code(&found, args.input.allow_bad))
}
