//! Facts about domain names the scorer weighs (`data/domains.toml`): registries that vet
//! their holders, top-level domains common in phishing, generic TLDs of spaced-out links,
//! and link services that give each customer its own subdomain. Validated at load.

use std::collections::HashSet;

use serde::Deserialize;
use smishtrap_extract::RegistrableDomain;

/// The domain facts shipped with smishtrap.
pub const BUILTIN_DOMAINS: &str = include_str!("../data/domains.toml");

/// A domain file problem, naming the file and the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {list}: {message}")]
pub struct DomainsError {
    pub file: String,
    pub list: &'static str,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainsFile {
    vetted_suffixes: Vec<String>,
    suspicious_tlds: Vec<String>,
    common_tlds: Vec<String>,
    link_services: Vec<String>,
}

/// The validated lists.
#[derive(Debug, Clone)]
pub struct Domains {
    vetted_suffixes: HashSet<String, foldhash::fast::RandomState>,
    suspicious_tlds: HashSet<String, foldhash::fast::RandomState>,
    common_tlds: HashSet<String, foldhash::fast::RandomState>,
    link_services: Vec<String>,
}

impl Domains {
    pub fn builtin() -> Result<Domains, DomainsError> {
        Domains::parse("builtin domains.toml", BUILTIN_DOMAINS)
    }

    pub fn parse(file: &str, text: &str) -> Result<Domains, DomainsError> {
        let err = |list: &'static str, message: String| DomainsError {
            file: file.to_string(),
            list,
            message,
        };
        let parsed: DomainsFile = toml::from_str(text)
            .map_err(|e| err("file", e.to_string().trim().replace('\n', " ")))?;
        let set = |list: &'static str,
                   names: Vec<String>,
                   valid: &dyn Fn(&str) -> bool,
                   what: &str|
         -> Result<HashSet<String, foldhash::fast::RandomState>, DomainsError> {
            let mut out = HashSet::with_hasher(foldhash::fast::RandomState::default());
            for n in names {
                if n.is_empty() || n != n.to_ascii_lowercase() || n.starts_with('.') {
                    return Err(err(
                        list,
                        format!("{n:?} must be lowercase ASCII without a leading dot"),
                    ));
                }
                if !valid(&n) {
                    return Err(err(list, format!("{n:?} is not {what}")));
                }
                if !out.insert(n.clone()) {
                    return Err(err(list, format!("{n:?} is listed twice")));
                }
            }
            Ok(out)
        };
        // `example.SUFFIX` is registrable exactly under SUFFIX when SUFFIX is a public suffix
        let is_suffix = |s: &str| {
            RegistrableDomain::parse(&format!("example.{s}")).is_some_and(|d| d.suffix() == s)
        };
        let is_tld = |s: &str| !s.contains('.') && is_suffix(s);
        // a service's own registrable domain, or a suffix it runs in the private section
        let is_service =
            |s: &str| RegistrableDomain::parse(s).is_some_and(|d| d.as_str() == s) || is_suffix(s);
        let vetted_suffixes =
            set("vetted_suffixes", parsed.vetted_suffixes, &is_suffix, "a public suffix")?;
        if let Some(tld) = vetted_suffixes.iter().find(|s| !s.contains('.')) {
            // a whole TLD open to anyone would make every link under it "vetted"
            return Err(err(
                "vetted_suffixes",
                format!("{tld:?} is a top-level domain, not a second-level registry"),
            ));
        }
        let suspicious_tlds =
            set("suspicious_tlds", parsed.suspicious_tlds, &is_tld, "a top-level domain")?;
        let common_tlds = set("common_tlds", parsed.common_tlds, &is_tld, "a top-level domain")?;
        let link_services = set(
            "link_services",
            parsed.link_services,
            &is_service,
            "a registrable domain or public suffix",
        )?;
        let mut link_services: Vec<String> = link_services.into_iter().collect();
        link_services.sort();
        Ok(Domains { vetted_suffixes, suspicious_tlds, common_tlds, link_services })
    }

    /// Links under this public suffix come from a holder its registry checked.
    pub fn is_vetted(&self, suffix: &str) -> bool {
        self.vetted_suffixes.contains(suffix)
    }

    /// A top-level domain common in phishing.
    pub fn is_suspicious_tld(&self, tld: &str) -> bool {
        self.suspicious_tlds.contains(tld)
    }

    /// A generic top-level domain recognised in spaced-out or spelled-out links.
    pub fn is_common_tld(&self, tld: &str) -> bool {
        self.common_tlds.contains(tld)
    }

    /// The host (lowercase ASCII) is a customer's subdomain of a link service.
    pub fn is_link_service_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.link_services.iter().any(|s| {
            host.strip_suffix(s.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty() && sub != "www")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lists_load_and_hold_real_suffixes() {
        let d = match Domains::builtin() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        for (query, expect) in [
            (d.is_vetted("co.th"), true),
            (d.is_vetted("com"), false),
            (d.is_suspicious_tld("top"), true),
            (d.is_suspicious_tld("com"), false),
            (d.is_common_tld("com"), true),
            (d.is_link_service_host("mybank.onelink.me"), true),
            (d.is_link_service_host("onelink.me"), false),
            (d.is_link_service_host("www.onelink.me"), false),
            (d.is_link_service_host("notonelink.me"), false),
        ] {
            assert_eq!(query, expect);
        }
    }

    #[track_caller]
    fn check_error(text: &str, fragment: &str) {
        match Domains::parse("t.toml", text) {
            Ok(_) => panic!("accepted {text:?}"),
            Err(e) => assert!(e.to_string().contains(fragment), "{e} lacks {fragment:?}"),
        }
    }

    #[test]
    fn bad_lists_are_refused_at_load() {
        let file = |vetted: &str, tlds: &str, services: &str| {
            format!(
                "vetted_suffixes = [{vetted}]\nsuspicious_tlds = [{tlds}]\ncommon_tlds = [\"com\"]\nlink_services = [{services}]\n"
            )
        };
        assert!(Domains::parse("t.toml", &file("\"co.th\"", "\"top\"", "\"onelink.me\"")).is_ok());
        check_error(&file("\"co.notarealtld\"", "", ""), "not a public suffix");
        check_error(&file("\"Co.th\"", "", ""), "lowercase");
        check_error(&file("\"co.th\", \"co.th\"", "", ""), "twice");
        check_error(&file("\"th\"", "", ""), "not a second-level registry");
        check_error(&file("", "\"co.uk\"", ""), "not a top-level domain");
        check_error(&file("", "\"notarealtld\"", ""), "not a top-level domain");
        check_error(&file("", "", "\"www.onelink.me\""), "not a registrable domain");
        check_error("vetted_suffixes = []\n", "missing field");
        check_error(&format!("{}extra = 1\n", file("", "", "")), "unknown field");
    }
}
