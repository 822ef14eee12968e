//! Vulnerable firmware by version: a data file of advisories (model list, first fixed
//! version, severity, sources), validated at load, and the version order used to compare.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::finding::Severity;

/// The shipped advisories.
const BUILTIN: &str = include_str!("../data/firmware.toml");
const BUILTIN_NAME: &str = "smishtrap-audit/data/firmware.toml";

/// The advisories file could not be loaded; names the file, the key and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {reason}")]
pub struct FirmwareError {
    pub file: String,
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: u32,
    #[serde(default)]
    advisory: Vec<AdvisorySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvisorySpec {
    id: String,
    vendor: String,
    models: Vec<String>,
    fixed: String,
    severity: String,
    summary: String,
    remediation: String,
    sources: Vec<String>,
}

/// One published flaw, fixed from `fixed` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advisory {
    pub id: String,
    pub vendor: String,
    pub models: Vec<String>,
    pub fixed: Version,
    pub severity: Severity,
    pub summary: String,
    pub remediation: String,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisories(Vec<Advisory>);

impl Advisories {
    pub fn builtin() -> Result<Advisories, FirmwareError> {
        Advisories::parse(BUILTIN_NAME, BUILTIN)
    }

    pub fn parse(file: &str, text: &str) -> Result<Advisories, FirmwareError> {
        let err =
            |key: String, reason: String| FirmwareError { file: file.to_owned(), key, reason };
        let parsed: File =
            toml::from_str(text).map_err(|e| err("-".into(), e.message().trim().to_owned()))?;
        if parsed.version != 1 {
            return Err(err(
                "version".into(),
                format!("unsupported version {} (expected 1)", parsed.version),
            ));
        }
        let mut out: Vec<Advisory> = Vec::new();
        for (i, a) in parsed.advisory.into_iter().enumerate() {
            let key = |k: &str| format!("advisory[{i}].{k}");
            let id_ok = !a.id.is_empty()
                && a.id.len() <= 64
                && a.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(err(key("id"), "1-64 of A-Z, 0-9, - and _".into()));
            }
            if out.iter().any(|o| o.id == a.id) {
                return Err(err(key("id"), format!("{} is listed twice", a.id)));
            }
            if a.vendor.trim().is_empty() {
                return Err(err(key("vendor"), "empty".into()));
            }
            if a.models.is_empty() || a.models.iter().any(|m| m.trim().is_empty()) {
                return Err(err(key("models"), "at least one non-empty model".into()));
            }
            let fixed = Version::parse(&a.fixed).ok_or_else(|| {
                err(key("fixed"), format!("{:?} is not a dotted version", a.fixed))
            })?;
            let severity = Severity::parse(&a.severity).ok_or_else(|| {
                err(
                    key("severity"),
                    format!("{:?} is not info, low, medium, high or critical", a.severity),
                )
            })?;
            if a.summary.trim().is_empty() || a.remediation.trim().is_empty() {
                return Err(err(key("summary"), "summary and remediation are required".into()));
            }
            if a.sources.is_empty()
                || a.sources
                    .iter()
                    .any(|s| !s.starts_with("https://") || s.contains(char::is_whitespace))
            {
                return Err(err(key("sources"), "at least one https:// URL, no spaces".into()));
            }
            out.push(Advisory {
                id: a.id,
                vendor: a.vendor,
                models: a.models.iter().map(|m| m.trim().to_ascii_uppercase()).collect(),
                fixed,
                severity,
                summary: a.summary,
                remediation: a.remediation,
                sources: a.sources,
            });
        }
        Ok(Advisories(out))
    }

    /// Advisories that apply to `model` at firmware `rtver`, in file order. A firmware that
    /// does not parse as a version matches nothing (reported as unknown by the caller).
    pub fn affecting(&self, vendor: Option<&str>, model: &str, rtver: &str) -> Vec<&Advisory> {
        let Some(version) = Version::parse(rtver) else { return Vec::new() };
        let model = model.trim().to_ascii_uppercase();
        let base = model.split(['-', ' ', '_']).next().unwrap_or("");
        self.0
            .iter()
            .filter(|a| vendor.is_none_or(|v| v.eq_ignore_ascii_case(&a.vendor)))
            .filter(|a| a.models.iter().any(|m| *m == model || m == base))
            .filter(|a| version < a.fixed)
            .collect()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A firmware version: dotted numbers, then an optional `-rN` release (`32.3.0.8-r1`).
/// Compared number by number (missing ones are 0), then by release.
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<u32>,
    release: u32,
    raw: String,
}

impl Version {
    pub fn parse(raw: &str) -> Option<Version> {
        let raw = raw.trim();
        let raw = raw.strip_prefix(['v', 'V']).unwrap_or(raw);
        if raw.is_empty() || raw.len() > 32 {
            return None;
        }
        let (nums, release) = match raw.split_once('-') {
            Some((n, r)) => (n, r.strip_prefix(['r', 'R'])?.parse().ok()?),
            None => (raw, 0),
        };
        let parts: Option<Vec<u32>> = nums.split('.').map(|p| p.parse().ok()).collect();
        let parts = parts?;
        (parts.len() <= 6).then(|| Version { parts, release, raw: raw.to_owned() })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        let at = |v: &Version, i: usize| v.parts.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(self.release.cmp(&other.release))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(model: &str, rtver: &str, expect: &[&str]) {
        let db = Advisories::builtin().unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<&str> =
            db.affecting(Some("Milesight"), model, rtver).iter().map(|a| a.id.as_str()).collect();
        assert_eq!(got, expect, "{model} {rtver}");
    }

    #[test]
    fn builtin_advisories() {
        check("UR32L", "32.3.0.8-r1", &["CVE-2023-43261"]);
        check("ur32l-L04EU", "32.2.0.1", &["CVE-2023-43261"]);
        check("UR35", "35.3.0.6-r9", &["CVE-2023-43261"]);
        check("UR35", "35.3.0.7", &[]);
        check("UR41", "41.0.0.3", &[]);
        check("UR75", "32.0.0.1", &[]);
        check("UR32L", "garbage", &[]);
        check("UR32L", "", &[]);
    }

    #[test]
    fn versions_order() {
        let v = |s: &str| Version::parse(s).unwrap_or_else(|| panic!("{s}"));
        assert!(v("32.3.0.8-r1") < v("35.3.0.7"));
        assert!(v("35.3.0.7") < v("35.3.0.7-r1"));
        assert!(v("35.3") == v("35.3.0.0"));
        assert!(v("v35.3.0.10") > v("35.3.0.9"));
        for bad in ["", "x", "1..2", "1.2-b3", "1.2.3.4.5.6.7", "99999999999"] {
            assert_eq!(Version::parse(bad), None, "{bad}");
        }
    }

    #[track_caller]
    fn check_file(text: &str, expect: &str) {
        let got = Advisories::parse("f.toml", text).map(|a| a.len().to_string());
        assert_eq!(got.unwrap_or_else(|e| e.to_string()), expect, "{text}");
    }

    #[test]
    fn validation_names_file_and_key() {
        let entry = |k: &str, v: &str| {
            let mut fields = vec![
                ("id", r#""CVE-1""#),
                ("vendor", r#""V""#),
                ("models", r#"["M"]"#),
                ("fixed", r#""1.2""#),
                ("severity", r#""high""#),
                ("summary", r#""s""#),
                ("remediation", r#""r""#),
                ("sources", r#"["https://example.org/a"]"#),
            ];
            for f in &mut fields {
                if f.0 == k {
                    f.1 = v;
                }
            }
            let body: String = fields
                .iter()
                .filter(|f| !f.1.is_empty())
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect();
            format!("version = 1\n[[advisory]]\n{body}")
        };
        check_file(&entry("", ""), "1");
        check_file("version = 2", "f.toml: version: unsupported version 2 (expected 1)");
        check_file(
            &entry("fixed", r#""one""#),
            "f.toml: advisory[0].fixed: \"one\" is not a dotted version",
        );
        check_file(
            &entry("severity", r#""dire""#),
            "f.toml: advisory[0].severity: \"dire\" is not info, low, medium, high or critical",
        );
        check_file(
            &entry("sources", r#"["http://x"]"#),
            "f.toml: advisory[0].sources: at least one https:// URL, no spaces",
        );
        check_file(
            &entry("models", "[]"),
            "f.toml: advisory[0].models: at least one non-empty model",
        );
        check_file(&entry("id", r#""a b""#), "f.toml: advisory[0].id: 1-64 of A-Z, 0-9, - and _");
        check_file(&entry("extra", ""), "1");
        assert!(Advisories::parse("f.toml", &format!("{}\nbogus = 1", entry("", ""))).is_err());
    }

    proptest::proptest! {
        #[test]
        fn version_parse_never_panics_and_orders_totally(a in "[0-9.vr-]{0,20}", b in "[0-9.vr-]{0,20}") {
            if let (Some(x), Some(y)) = (Version::parse(&a), Version::parse(&b)) {
                proptest::prop_assert_eq!(x.cmp(&y), y.cmp(&x).reverse());
            }
        }
    }
}
