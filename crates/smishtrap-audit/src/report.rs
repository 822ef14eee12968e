//! Reports: a table for people (worst target first), JSON lines for tools, CSV (one row per
//! finding) and Markdown, each with the fleet summary. Device text reaches them only escaped
//! ([`shown`]); CSV cells that a spreadsheet would run as a formula are quoted with `'`.

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
}
