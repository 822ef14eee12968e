//! smishtrap-audit: fleet audit of SMS-capable routers, read-only.
//!
//! An operator names targets ([`target`]); the [`probe`] asks each one a fixed set of
//! read-only questions; [`audit`] turns the answers into [`finding`]s (identification, the
//! CVE-2023-43261 log leak with the leaked passwords decrypted, vulnerable [`firmware`], the
//! SMS API open without login, mailboxes read where allowed, exposure extras);
//! [`forensics`] runs every message read through the analysis engine; [`report`] writes the
//! table, JSON lines, CSV, Markdown, HTML and SARIF with a fleet summary; [`stored`] is what
//! `--data` keeps for the console's Fleet page (never a secret).
//!
//! - [`cgi`]: the one allow-list of `/cgi` calls ([`cgi::ReadOnlyCall`]).
//! - [`reply`]: parsers of device replies (hostile input: pure, bounded, property-tested).
//! - [`cert`]: the certificate an HTTPS target presents.
//!
//! Invariant: the audit only issues allow-listed read-only calls to the given targets: pages
//! from a closed list, `/cgi` only through [`cgi::ReadOnlyCall`], redirects only to the same
//! target, no proxy, no DNS expansion, nothing that sends an SMS or changes a setting.
//! Invariant: no recovered password reaches a report unless the operator asks for it.

pub mod audit;
pub mod cert;
pub mod cgi;
pub mod finding;
pub mod firmware;
pub mod forensics;
pub mod probe;
pub mod reply;
pub mod report;
pub mod stored;
pub mod target;
pub mod text;

pub use audit::{Access, Credential, Device, Options, TargetReport, audit_fleet, audit_target};
pub use finding::{Check, Finding, Severity};
pub use firmware::{Advisories, FirmwareError};
pub use probe::{Limits, Prober};
pub use target::{DEFAULT_MAX_TARGETS, Scheme, Target, TargetError, parse_targets};
