//! Reports: a table for people (worst target first), JSON lines for tools, CSV (one row per
//! finding), Markdown, HTML (each with the fleet summary) and SARIF 2.1.0 for code-scanning
//! tools. Device text reaches them only escaped ([`shown`]); CSV cells that a spreadsheet would run as a formula are quoted with `'`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::audit::TargetReport;
use crate::finding::{Check, Severity};
use crate::text::shown;

/// Counts over the whole fleet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FleetSummary {
    pub targets: usize,
    /// Targets that answered over HTTP or HTTPS.
    pub reachable: usize,
    /// Targets with each finding.
    pub by_check: BTreeMap<Check, usize>,
    /// Targets by their worst finding.
    pub by_severity: BTreeMap<Severity, usize>,
    /// `model firmware` of identified targets.
    pub firmware: BTreeMap<String, usize>,
    /// Targets whose outbox holds smishing, with the finding's evidence.
    pub abused: Vec<Abused>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Abused {
    pub target: String,
    pub evidence: Vec<String>,
}

pub fn summary(reports: &[TargetReport]) -> FleetSummary {
    let mut s = FleetSummary { targets: reports.len(), ..FleetSummary::default() };
    for r in reports {
        if r.url.is_some() {
            s.reachable += 1;
        }
        let mut checks: Vec<Check> = r.findings.iter().map(|f| f.check).collect();
        checks.sort();
        checks.dedup();
        for c in checks {
            *s.by_check.entry(c).or_default() += 1;
        }
        *s.by_severity.entry(r.worst()).or_default() += 1;
        if r.device.model.is_some() || r.device.firmware.is_some() {
            let name = format!(
                "{} {}",
                shown(r.device.model.as_deref().unwrap_or("?"), 32),
                shown(r.device.firmware.as_deref().unwrap_or("?"), 32)
            );
            *s.firmware.entry(name).or_default() += 1;
        }
        if let Some(f) = r.findings.iter().find(|f| f.check == Check::OutboxAbused) {
            s.abused.push(Abused { target: r.target.to_string(), evidence: f.evidence.clone() });
        }
    }
    s
}

/// Reports ordered worst first (their severities, highest first, compared in turn: more
/// critical findings rank higher), then by target.
pub fn worst_first(reports: &[TargetReport]) -> Vec<&TargetReport> {
    let key = |r: &TargetReport| {
        let mut s: Vec<Severity> =
            r.findings.iter().map(|f| f.severity).filter(|s| *s > Severity::Info).collect();
        s.sort_by(|a, b| b.cmp(a));
        s
    };
    let mut v: Vec<(Vec<Severity>, &TargetReport)> = reports.iter().map(|r| (key(r), r)).collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.target.cmp(&b.1.target)));
    v.into_iter().map(|(_, r)| r).collect()
}

fn device_name(r: &TargetReport) -> String {
    let d = &r.device;
    let parts: Vec<&str> =
        [d.vendor.as_deref(), d.model.as_deref()].into_iter().flatten().collect();
    if parts.is_empty() { "-".to_owned() } else { shown(&parts.join(" "), 40) }
}

fn checks_of(r: &TargetReport) -> String {
    let mut v: Vec<(Severity, &'static str)> = r
        .findings
        .iter()
        .filter(|f| f.check != Check::Identified)
        .map(|f| (f.severity, f.check.as_str()))
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    v.dedup();
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.iter().map(|(_, c)| *c).collect::<Vec<_>>().join(",")
    }
}

/// The table for people.
pub fn table(reports: &[TargetReport]) -> String {
    let rows: Vec<[String; 5]> = worst_first(reports)
        .into_iter()
        .map(|r| {
            [
                shown(&r.target.to_string(), 48),
                device_name(r),
                shown(r.device.firmware.as_deref().unwrap_or("-"), 24),
                r.worst().as_str().to_owned(),
                checks_of(r),
            ]
        })
        .collect();
    let header = ["TARGET", "DEVICE", "FIRMWARE", "WORST", "FINDINGS"];
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[&str]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut out, &header);
    for row in &rows {
        line(&mut out, &row.iter().map(String::as_str).collect::<Vec<_>>());
    }
    out.push('\n');
    out.push_str(&summary_text(&summary(reports)));
    out
}

fn summary_text(s: &FleetSummary) -> String {
    let mut out = format!("{} targets, {} reachable\n", s.targets, s.reachable);
    let checks: Vec<String> =
        s.by_check.iter().map(|(c, n)| format!("{} {n}", c.as_str())).collect();
    if !checks.is_empty() {
        let _ = writeln!(out, "findings (targets): {}", checks.join(", "));
    }
    let fw: Vec<String> = s.firmware.iter().map(|(f, n)| format!("{f} ({n})")).collect();
    if !fw.is_empty() {
        let _ = writeln!(out, "firmware: {}", fw.join(", "));
    }
    for a in &s.abused {
        let _ = writeln!(out, "abused: {} ({})", shown(&a.target, 48), a.evidence.join("; "));
    }
    out
}

/// JSON lines: one object per target (`"type":"target"`), then one `"type":"summary"`.
pub fn jsonl(reports: &[TargetReport]) -> String {
    #[derive(Serialize)]
    struct Tagged<'a, T: Serialize> {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(flatten)]
        value: &'a T,
    }
    let mut out = String::new();
    for r in reports {
        if let Ok(line) = serde_json::to_string(&Tagged { kind: "target", value: r }) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    if let Ok(line) = serde_json::to_string(&Tagged { kind: "summary", value: &summary(reports) }) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// CSV: one row per finding (`target,url,vendor,model,firmware,check,severity,title,evidence,
/// remediation`); a target without findings gets one row with empty check.
pub fn csv(reports: &[TargetReport]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "target",
        "url",
        "vendor",
        "model",
        "firmware",
        "check",
        "severity",
        "title",
        "evidence",
        "remediation",
    ]);
    for r in worst_first(reports) {
        let d = &r.device;
        let base = [
            r.target.to_string(),
            r.url.clone().unwrap_or_default(),
            d.vendor.clone().unwrap_or_default(),
            d.model.clone().unwrap_or_default(),
            d.firmware.clone().unwrap_or_default(),
        ];
        let rows: Vec<[String; 5]> = if r.findings.is_empty() {
            vec![Default::default()]
        } else {
            r.findings
                .iter()
                .map(|f| {
                    [
                        f.check.as_str().to_owned(),
                        f.severity.as_str().to_owned(),
                        f.title.clone(),
                        f.evidence.join("; "),
                        f.remediation.clone(),
                    ]
                })
                .collect()
        };
        for row in rows {
            let cells: Vec<String> = base.iter().chain(row.iter()).map(|c| cell(c)).collect();
            let _ = w.write_record(&cells);
        }
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// A CSV cell: escaped, bounded, and never a formula (`=`, `+`, `-`, `@`, tab, CR first).
fn cell(s: &str) -> String {
    let s = shown(s, 4096);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s }
}

/// Markdown: summary, table, then every finding of every target worst first.
pub fn markdown(reports: &[TargetReport]) -> String {
    let md = |s: &str| {
        shown(s, 512)
            .replace('|', "\\|")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('`', "\\`")
    };
    let s = summary(reports);
    let mut out = String::from("# smishtrap audit\n\n");
    let _ = writeln!(out, "{} targets, {} reachable.\n", s.targets, s.reachable);
    if !s.by_check.is_empty() {
        out.push_str("| finding | targets |\n|---|---|\n");
        for (c, n) in &s.by_check {
            let _ = writeln!(out, "| {} | {n} |", c.as_str());
        }
        out.push('\n');
    }
    if !s.abused.is_empty() {
        out.push_str("## Abused routers\n\n");
        for a in &s.abused {
            let _ = writeln!(out, "- {}: {}", md(&a.target), md(&a.evidence.join("; ")));
        }
        out.push('\n');
    }
    out.push_str(
        "## Targets\n\n| target | device | firmware | worst | findings |\n|---|---|---|---|---|\n",
    );
    for r in worst_first(reports) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            md(&r.target.to_string()),
            md(&device_name(r)),
            md(r.device.firmware.as_deref().unwrap_or("-")),
            r.worst().as_str(),
            checks_of(r)
        );
    }
    out.push_str("\n## Findings\n");
    for r in worst_first(reports) {
        if r.findings.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {}\n", md(&r.target.to_string()));
        let mut findings: Vec<_> = r.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in findings {
            let _ = writeln!(
                out,
                "- **{}** `{}`: {}",
                f.severity.as_str(),
                f.check.as_str(),
                md(&f.title)
            );
            for e in &f.evidence {
                let _ = writeln!(out, "  - {}", md(e));
            }
            if !f.remediation.is_empty() {
                let _ = writeln!(out, "  - fix: {}", md(&f.remediation));
            }
        }
    }
    out
}

/// Text for HTML: escaped (`&`, `<`, `>`, quotes) after [`shown`].
fn h(s: &str) -> String {
    shown(s, 1024)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One HTML file, no external assets (inline style, no script, no link): fleet summary,
/// abused routers, the target table worst first, then every target's findings.
pub fn html(reports: &[TargetReport]) -> String {
    let s = summary(reports);
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <title>smishtrap audit</title>\n<style>body{font:14px sans-serif;margin:2em}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}\
         .critical{background:#f8c9c9}.high{background:#fbe0c4}.medium{background:#fdf2c4}</style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>smishtrap audit</h1>\n<p>{} targets, {} reachable.</p>",
        s.targets, s.reachable
    );
    out.push_str("<h2>Findings</h2>\n<table><tr><th>finding</th><th>targets</th></tr>\n");
    for (c, n) in &s.by_check {
        let _ = writeln!(out, "<tr><td>{}</td><td>{n}</td></tr>", c.as_str());
    }
    out.push_str(
        "</table>\n<h2>Firmware</h2>\n<table><tr><th>model firmware</th><th>targets</th></tr>\n",
    );
    for (f, n) in &s.firmware {
        let _ = writeln!(out, "<tr><td>{}</td><td>{n}</td></tr>", h(f));
    }
    out.push_str("</table>\n");
    if !s.abused.is_empty() {
        out.push_str("<h2>Abused routers</h2>\n<ul>\n");
        for a in &s.abused {
            let _ = writeln!(out, "<li>{}: {}</li>", h(&a.target), h(&a.evidence.join("; ")));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Targets</h2>\n<table><tr><th>target</th><th>device</th><th>firmware</th><th>worst</th><th>findings</th></tr>\n");
    for r in worst_first(reports) {
        let worst = r.worst().as_str();
        let _ = writeln!(
            out,
            "<tr class=\"{worst}\"><td>{}</td><td>{}</td><td>{}</td><td>{worst}</td><td>{}</td></tr>",
            h(&r.target.to_string()),
            h(&device_name(r)),
            h(r.device.firmware.as_deref().unwrap_or("-")),
            checks_of(r)
        );
    }
    out.push_str("</table>\n");
    for r in worst_first(reports).into_iter().filter(|r| !r.findings.is_empty()) {
        let _ = writeln!(out, "<h3>{}</h3>\n<ul>", h(&r.target.to_string()));
        let mut findings: Vec<_> = r.findings.iter().collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        for f in findings {
            let _ = write!(
                out,
                "<li class=\"{}\"><b>{}</b> {}: {}<ul>",
                f.severity.as_str(),
                f.severity.as_str(),
                f.check.as_str(),
                h(&f.title)
            );
            for e in &f.evidence {
                let _ = write!(out, "<li>{}</li>", h(e));
            }
            if !f.remediation.is_empty() {
                let _ = write!(out, "<li>fix: {}</li>", h(&f.remediation));
            }
            out.push_str("</ul></li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// SARIF `level` of a severity: critical and high are errors, medium a warning, low a note,
/// info carries no level of concern.
pub fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
        Severity::Info => "none",
    }
}

/// The `security-severity` score code-scanning tools rank by (CVSS-like, 0 to 10).
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// SARIF 2.1.0: one run, one rule per finding kind (description, help with the general
/// remediation), one result per finding with the target's URL as its location, the level
/// mapped from the severity ([`sarif_level`]), and the finding's own evidence and remediation
/// in its properties. Device text is escaped as in every report.
pub fn sarif(reports: &[TargetReport]) -> String {
    use serde_json::{Value, json};
    let rules: Vec<Value> = Check::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.name(),
                "shortDescription": {"text": c.description()},
                "fullDescription": {"text": c.description()},
                "help": {"text": c.help(), "markdown": c.help()},
                "properties": {"tags": ["security", "router", "sms"]},
            })
        })
        .collect();
    let mut results = Vec::new();
    for r in worst_first(reports) {
        let uri = r.url.clone().unwrap_or_else(|| {
            r.target.base_url(r.target.schemes().first().copied().unwrap_or(crate::Scheme::Http))
        });
        let d = &r.device;
        for f in &r.findings {
            let rule_index = Check::ALL.iter().position(|c| *c == f.check).unwrap_or(0);
            let mut message = shown(&f.title, 1024);
            if !message.ends_with('.') {
                message.push('.');
            }
            results.push(json!({
                "ruleId": f.check.as_str(),
                "ruleIndex": rule_index,
                "level": sarif_level(f.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": shown(&uri, 512)}},
                    "logicalLocations": [{"name": shown(&r.target.to_string(), 256), "kind": "device"}],
                }],
                "partialFingerprints": {"target/check": format!("{}/{}", shown(&r.target.to_string(), 256), f.check.as_str())},
                "properties": {
                    "severity": f.severity.as_str(),
                    "security-severity": security_severity(f.severity),
                    "evidence": f.evidence.iter().map(|e| shown(e, 1024)).collect::<Vec<_>>(),
                    "remediation": shown(&f.remediation, 1024),
                    "vendor": d.vendor.as_deref().map(|v| shown(v, 64)),
                    "model": d.model.as_deref().map(|v| shown(v, 64)),
                    "firmware": d.firmware.as_deref().map(|v| shown(v, 64)),
                },
            }));
        }
    }
    let log = json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "smishtrap-audit",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/smishtrap/smishtrap",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::audit::Device;
    use crate::finding::Finding;
    use crate::target::parse_targets;

    fn report(target: &str, model: Option<&str>, findings: &[(Check, Severity)]) -> TargetReport {
        TargetReport {
            target: parse_targets(target, 1).unwrap_or_default().remove(0),
            url: Some(format!("http://{target}")),
            device: Device {
                vendor: model.map(|_| "Milesight".into()),
                model: model.map(Into::into),
                firmware: model.map(|_| "32.3.0.8-r1".into()),
                ..Device::default()
            },
            certificate: None,
            bad_certificate: None,
            findings: findings
                .iter()
                .map(|(c, s)| Finding::new(*c, *s, format!("{} title", c.as_str())))
                .collect(),
            mailbox_access: None,
            messages: Vec::new(),
            requests: Vec::new(),
            started: Utc::now(),
            millis: 0,
        }
    }

    #[test]
    fn table_is_worst_first_with_a_summary() {
        let reports = vec![
            report("10.0.0.1", Some("UR35"), &[(Check::Identified, Severity::Info)]),
            report(
                "10.0.0.2",
                Some("UR32L"),
                &[(Check::SmsApiOpen, Severity::Critical), (Check::LogLeak, Severity::High)],
            ),
            report(
                "10.0.0.3",
                Some("UR32L\u{1b}[31m"),
                &[(Check::SystemLogExposed, Severity::Medium)],
            ),
        ];
        let t = table(&reports);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("10.0.0.2"), "{t}");
        assert!(lines[1].ends_with("sms-api-open,log-leak"), "{t}");
        assert!(lines[2].starts_with("10.0.0.3"), "{t}");
        assert!(!t.contains('\u{1b}'), "{t}");
        assert!(t.contains("3 targets, 3 reachable"), "{t}");
        assert!(t.contains("firmware: UR32L 32.3.0.8-r1 (1), UR32L\\u{1b}[31m 32.3.0.8-r1 (1), UR35 32.3.0.8-r1 (1)"), "{t}");
    }

    #[test]
    fn csv_never_writes_formulas() {
        let mut r =
            report("10.0.0.1", Some("=cmd|' /C calc'!A0"), &[(Check::Identified, Severity::Info)]);
        r.findings[0].evidence.push("+32470000000".into());
        let out = csv(&[r]);
        assert!(out.contains("'=cmd"), "{out}");
        assert!(out.contains("'+32470000000"), "{out}");
    }

    #[test]
    fn jsonl_has_a_line_per_target_and_a_summary() {
        let reports = vec![
            report("10.0.0.1", None, &[]),
            report("10.0.0.2", None, &[(Check::Unreachable, Severity::Info)]),
        ];
        let out = jsonl(&reports);
        let lines: Vec<serde_json::Value> =
            out.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["type"], "target");
        assert_eq!(lines[1]["target"], "10.0.0.2");
        assert_eq!(lines[2]["type"], "summary");
        assert_eq!(lines[2]["by_check"]["unreachable"], 1);
    }

    #[test]
    fn markdown_escapes_device_text() {
        let r = report("10.0.0.1", Some("<script>|x"), &[(Check::Identified, Severity::Info)]);
        let out = markdown(&[r]);
        assert!(out.contains("&lt;script&gt;\\|x"), "{out}");
    }

    #[test]
    fn html_is_one_escaped_file_without_external_assets() {
        let mut r = report(
            "10.0.0.1",
            Some("<script>alert(1)</script>"),
            &[(Check::SmsApiOpen, Severity::Critical)],
        );
        r.findings[0].evidence.push("\"><img src=x onerror=alert(1)>".into());
        let out = html(&[r]);
        assert!(!out.contains("<script") && !out.contains("<img"), "{out}");
        assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{out}");
        for external in ["src=\"", "href=", "http://", "https://", "@import", "url("] {
            assert!(!out.contains(external), "{external} in {out}");
        }
        assert!(out.contains("<tr class=\"critical\">"), "{out}");
    }

    /// Validates `doc` against the vendored SARIF 2.1.0 schema with Python's `jsonschema`
    /// (Draft 4, as the schema declares); `None` when that validator is not installed.
    fn schema_errors(doc: &str) -> Option<String> {
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sarif-schema-2.1.0.json");
        let script = "import json,sys,jsonschema\n\
            schema=json.load(open(sys.argv[1]))\n\
            v=jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())\n\
            errs=[e.message+' at '+'/'.join(map(str,e.absolute_path)) for e in v.iter_errors(json.load(sys.stdin))]\n\
            print('\\n'.join(errs))";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script, schema])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        use std::io::Write as _;
        child.stdin.take()?.write_all(doc.as_bytes()).ok()?;
        let out = child.wait_with_output().ok()?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            // no python3 jsonschema here: say so, the structural checks still run
            assert!(err.contains("No module named"), "validator failed: {err}");
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    #[test]
    fn sarif_is_valid_2_1_0_with_a_rule_per_check() {
        let mut abused = report(
            "10.0.0.2:8080",
            Some("UR32L<b>"),
            &[
                (Check::Identified, Severity::Info),
                (Check::OutboxAbused, Severity::Critical),
                (Check::SystemLogExposed, Severity::Medium),
                (Check::PlainHttp, Severity::Low),
                (Check::LogLeak, Severity::High),
            ],
        );
        abused.findings[1]
            .evidence
            .push("link hosts: bpost-be[.]parcel-fee[.]info (3)\u{1b}".into());
        abused.findings[1].remediation = "lock the SMS API".into();
        let mut unreachable = report("10.0.0.9", None, &[(Check::Unreachable, Severity::Info)]);
        unreachable.url = None;
        let out = sarif(&[report("10.0.0.1", None, &[]), unreachable, abused]);
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().cloned().unwrap_or_default();
        assert_eq!(rules.len(), Check::ALL.len());
        for (i, c) in Check::ALL.iter().enumerate() {
            assert_eq!(rules[i]["id"], c.as_str());
            assert!(rules[i]["help"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        }
        assert_eq!(rules[2]["name"], "LogLeak");
        let results = run["results"].as_array().cloned().unwrap_or_default();
        let got: Vec<(String, String, String)> = results
            .iter()
            .map(|r| {
                let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
                let uri = s(&r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]);
                (uri, s(&r["ruleId"]), s(&r["level"]))
            })
            .collect();
        let expect = [
            ("http://10.0.0.2:8080", "identified", "none"),
            ("http://10.0.0.2:8080", "outbox-abused", "error"),
            ("http://10.0.0.2:8080", "system-log-exposed", "warning"),
            ("http://10.0.0.2:8080", "plain-http", "note"),
            ("http://10.0.0.2:8080", "log-leak", "error"),
            ("http://10.0.0.9:80", "unreachable", "none"),
        ];
        let expect: Vec<(String, String, String)> =
            expect.iter().map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into())).collect();
        assert_eq!(got, expect);
        for r in &results {
            let i = r["ruleIndex"].as_u64().unwrap_or(99) as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
        assert!(!out.contains('\u{1b}') && out.contains("UR32L<b>"), "escaped, not HTML");
        match schema_errors(&out) {
            Some(errors) => assert_eq!(errors, "", "SARIF schema errors"),
            None => eprintln!("python3 jsonschema not installed: structural checks only"),
        }
        // the validator does reject what is not SARIF
        if let Some(errors) = schema_errors(r#"{"version":"2.1.0","runs":[{"results":[]}]}"#) {
            assert!(errors.contains("'tool' is a required property"), "{errors}");
        }
    }
}
