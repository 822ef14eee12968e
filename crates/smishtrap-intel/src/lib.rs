//! Turns SMS records into findings: brands, impersonation, verdicts and (later) campaigns.
//!
//! Invariant: no I/O; catalog and model data come in as values (parsed from embedded or
//! user-supplied files by the caller).

mod analysis;

pub use analysis::{Analysis, NumberInfo, Phase, UrlInfo, Verdict};
