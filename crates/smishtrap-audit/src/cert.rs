//! The certificate a target presents over HTTPS: subject, issuer, validity and SHA-256
//! fingerprint. Routers use self-signed certificates, so nothing here is a trust decision; a
//! certificate that does not parse is reported as such, never a panic.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// Longest subject or issuer kept.
const MAX_NAME_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// RFC 4514 form, escaped and bounded.
    pub subject: String,
    pub issuer: String,
    pub not_before: Option<DateTime<Utc>>,
    pub not_after: Option<DateTime<Utc>>,
    /// Lowercase hex of SHA-256 over the DER bytes.
    pub sha256: String,
    pub self_signed: bool,
    /// `now` is past `not_after` or before `not_before`.
    pub expired: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadCert {
    pub sha256: String,
    pub reason: String,
}

impl CertInfo {
    /// Reads a DER certificate; `Err` carries its fingerprint and why it did not parse.
    pub fn from_der(der: &[u8], now: DateTime<Utc>) -> Result<CertInfo, BadCert> {
        let sha256 = hex::encode(Sha256::digest(der));
        let cert = Certificate::from_der(der).map_err(|e| BadCert {
            sha256: sha256.clone(),
            reason: crate::text::shown(&e.to_string(), 128),
        })?;
        let tbs = &cert.tbs_certificate;
        let time = |t: x509_cert::time::Time| {
            let d = t.to_unix_duration();
            DateTime::from_timestamp(i64::try_from(d.as_secs()).ok()?, 0)
        };
        let not_before = time(tbs.validity.not_before);
        let not_after = time(tbs.validity.not_after);
        let expired = not_after.is_some_and(|t| now > t) || not_before.is_some_and(|t| now < t);
        let name = |n: &x509_cert::name::Name| crate::text::shown(&n.to_string(), MAX_NAME_BYTES);
        Ok(CertInfo {
            subject: name(&tbs.subject),
            issuer: name(&tbs.issuer),
            not_before,
            not_after,
            sha256,
            self_signed: tbs.subject == tbs.issuer,
            expired,
        })
    }
}
