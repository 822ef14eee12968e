//! smishtrap-intel turns SMS records into findings: the brand a message impersonates, how
//! its links imitate that brand, a verdict (`smishing`, `spam`, `ham`) with a score and
//! reasons a person can read, and (in `campaign/`, later) campaigns.
//!
//! Pieces, each loaded from a data file and validated once:
//! - [`Catalog`] (`data/brands.toml`, extendable): brands with official domains, tokens,
//!   keywords per language, sectors and countries, indexed with Aho-Corasick automata and a
//!   one-deletion index of typosquat sources; [`Catalog::choose`] picks a message's brand.
//! - [`domains::Domains`] (`data/domains.toml`, held by the catalog): registries that vet
//!   their holders, TLDs common in phishing, link services with a subdomain per customer.
//! - [`squat`]: impersonation of a host (combosquatting, TLD swap, typosquats, homoglyphs).
//! - [`Cues`] (`data/cues.toml`): urgency, threat, reward, credential, payment, delivery,
//!   marketing, call-to-action, generic request to act, event to disown ("if this wasn't
//!   you"), authority, personal ("hi mum, new number") and one-time-code vocabulary in 21
//!   languages (Thai and Japanese phrases match inside words).
//! - [`Model`] (`data/model.bin`): logistic regression over hashed n-grams, retrained with
//!   `cargo run --release -p smishtrap-intel --example train`.
//! - [`Engine`]: runs extraction (`smishtrap-extract`) and all of the above per message; a
//!   message is smishing when it invokes a trusted party and asks for an action towards
//!   data or money (`docs/verdict.md`), and its reasons always argue for its verdict.
//!
//! Invariant: no I/O; catalog, cue and model data come in as values (embedded or read by
//! the caller). Invariant: analysis never panics on any input and its score agrees with
//! its verdict (`ham` below 0.5, `spam`/`smishing` at or above).

mod analysis;
pub mod campaign;
pub mod catalog;
pub mod cues;
pub mod domains;
mod engine;
pub mod model;
mod notice;
mod phrases;
pub mod squat;
pub mod text;
mod words;

pub use analysis::{Analysis, NumberInfo, Phase, UrlInfo, Verdict};
pub use catalog::{Brand, BrandId, Catalog, CatalogError};
pub use cues::{Cue, Cues};
pub use engine::{AnalyzeOptions, Engine, EngineError};
pub use model::{Model, TrainConfig};
