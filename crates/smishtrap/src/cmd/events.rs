//! `smishtrap events`: print recorded events, oldest first, as JSONL (the machine contract)
//! or as a terminal table where every attacker-controlled string is escaped, bounded and
//! defanged.

use std::io::{self, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};
use smishtrap_event::{Event, EventKind};
use smishtrap_store::{EventFilter, SqliteStore, StoreError, db_path};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One event JSON object a line (schema v1), for tools
    Jsonl,
    /// A readable table for people; attacker strings escaped, truncated and defanged
    Table,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Data directory of the sensor (holds smishtrap.db)
    #[arg(long, value_name = "DIR", default_value = super::DEFAULT_DATA)]
    data: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Only events of this kind (repeat or separate with commas), e.g. sms.send
    #[arg(long = "kind", value_name = "K", value_delimiter = ',', value_parser = parse_kind)]
    kinds: Vec<EventKind>,
    /// Only events at or after T: RFC 3339 (2025-07-22T10:00:00Z), a date (2025-07-22, UTC)
    /// or an age such as 90s, 30m, 1h, 2d, 1w
    #[arg(long, value_name = "T", value_parser = parse_time)]
    since: Option<DateTime<Utc>>,
    /// Only events before T (same forms as --since)
    #[arg(long, value_name = "T", value_parser = parse_time)]
    until: Option<DateTime<Utc>>,
    /// Only events of this sensor name
    #[arg(long, value_name = "S")]
    sensor: Option<String>,
    /// Only events of this persona
    #[arg(long, value_name = "P")]
    persona: Option<String>,
    /// Only events of this connection session
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Only events from this source address
    #[arg(long, value_name = "IP")]
    src_ip: Option<IpAddr>,
    /// At most N events (the oldest N that match)
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Print only the number of matching events
    #[arg(long)]
    count: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match print(args) {
        Ok(code) => Ok(code),
        // `smishtrap events | head`: the reader is gone, which is not our failure.
        Err(err) if is_broken_pipe(&err) => Ok(ExitCode::SUCCESS),
        Err(err) => Err(err),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let io_kind = cause.downcast_ref::<io::Error>().map(io::Error::kind);
        let json_kind = cause.downcast_ref::<serde_json::Error>().and_then(|e| e.io_error_kind());
        io_kind.or(json_kind) == Some(io::ErrorKind::BrokenPipe)
    })
}

fn print(args: Args) -> anyhow::Result<ExitCode> {
    let path = db_path(&args.data);
    let store = SqliteStore::open_read_only(&path).map_err(|err| match err {
        StoreError::NotFound { .. } => anyhow::anyhow!(
            "no event store in {} (expected {}; run `smishtrap sensor --data {}` first)",
            args.data.display(),
            path.display(),
            args.data.display()
        ),
        other => anyhow::Error::new(other),
    })?;
    let filter = EventFilter {
        kinds: args.kinds,
        since: args.since,
        until: args.until,
        sensor: args.sensor,
        persona: args.persona,
        session: args.session,
        src_ip: args.src_ip,
        limit: args.limit,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    if args.count {
        writeln!(out, "{}", store.count_events(&filter)?)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut undecodable = 0_u64;
    let mut header_done = false;
    for event in store.events(&filter)? {
        let event = match event {
            Ok(event) => event,
            Err(err @ StoreError::Decode { .. }) => {
                // One damaged row must not hide the others; report it and go on.
                tracing::warn!(error = %err, "skipping stored event");
                undecodable += 1;
                continue;
            }
            Err(err) => return Err(err).context("cannot read events"),
        };
        match args.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut out, &event).context("cannot encode event")?;
                out.write_all(b"\n")?;
            }
            Format::Table => {
                if !header_done {
                    writeln!(out, "{}", table::header())?;
                    header_done = true;
                }
                writeln!(out, "{}", table::row(&event))?;
            }
        }
    }
    out.flush()?;
    if undecodable > 0 {
        tracing::error!(count = undecodable, "some stored events could not be decoded");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_kind(s: &str) -> Result<EventKind, String> {
    EventKind::parse(s.trim()).ok_or_else(|| {
        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown event kind (known: {})", known.join(", "))
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    parse_time_at(s, Utc::now())
}

/// An absolute time (RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]` in UTC) or an age before `now`
/// (`<n>s|m|h|d|w`).
fn parse_time_at(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let expected = "expected RFC 3339 (2025-07-22T10:00:00Z), a date (2025-07-22) or an age \
                    such as 30m, 1h, 2d";
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or(expected)?;
    let (number, unit) = s.split_at(unit_at);
    let n: i64 = number.parse().map_err(|_| expected)?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(expected.into()),
    };
    n.checked_mul(seconds_per_unit)
        .and_then(TimeDelta::try_seconds)
        .and_then(|age| now.checked_sub_signed(age))
        .ok_or_else(|| "age out of range".to_owned())
}

/// The human table. Every value that came from an attacker goes through [`table::show`].
mod table {
    use super::*;

    const TIME: usize = 19;
    const KIND: usize = 14;
    const SOURCE: usize = 21;
    const REQUEST: usize = 44;
    /// The last column is bounded too, so one event is always one terminal line or two.
    const DETAIL: usize = 150;
    /// Longest single value inside DETAIL (an SMS text, a user name, ...).
    const VALUE: usize = 80;

    pub(super) fn header() -> String {
        format!(
            "{:<TIME$}  {:<KIND$}  {:<SOURCE$}  {:<REQUEST$}  DETAIL",
            "TIME (UTC)", "KIND", "SOURCE", "REQUEST"
        )
    }

    pub(super) fn row(e: &Event) -> String {
        let time = e.ts.to_rfc3339_opts(SecondsFormat::Secs, true).replace('T', " ");
        let time = time.trim_end_matches('Z');
        let source = match e.src_ip {
            IpAddr::V4(ip) => format!("{ip}:{}", e.src_port),
            IpAddr::V6(ip) => format!("[{ip}]:{}", e.src_port),
        };
        let mut target = e.http.path.clone();
        if let Some(query) = &e.http.query {
            target.push('?');
            target.push_str(query);
        }
        let request = format!("{} {}", show(&e.http.method, 10), show(&target, REQUEST));
        let detail = show_detail(&detail(e), DETAIL);
        let pad = |s: &str, width: usize| {
            let len = s.chars().count();
            format!("{s}{}", " ".repeat(width.saturating_sub(len)))
        };
        format!(
            "{}  {}  {}  {}  {detail}",
            pad(time, TIME),
            pad(e.kind.as_str(), KIND),
            pad(&source, SOURCE),
            pad(&cut(&request, REQUEST), REQUEST),
        )
    }

    /// `key=value` parts; values are already escaped and bounded.
    fn detail(e: &Event) -> Vec<String> {
        let mut parts = vec![format!("status={}", e.response_status)];
        if let Some(auth) = &e.auth {
            parts.push(format!("user={}", quoted(&auth.username)));
            parts.push(format!("pass={}", quoted(&auth.password)));
            parts.push(if auth.success { "login=ok".into() } else { "login=failed".into() });
        }
        if let Some(sms) = &e.sms {
            if let Some(mailbox) = sms.mailbox {
                parts.push(format!(
                    "box={}",
                    if mailbox == smishtrap_event::SmsBox::Inbox { "inbox" } else { "outbox" }
                ));
            }
            if !sms.to.is_empty() {
                let shown: Vec<String> = sms.to.iter().take(3).map(|to| show(to, 24)).collect();
                let more = sms.to.len().saturating_sub(3);
                let more = if more > 0 { format!(",+{more}") } else { String::new() };
                parts.push(format!("to={}{more}", shown.join(",")));
            }
            if let Some(status) = &sms.status {
                parts.push(format!("sms={}", show(status, 12)));
            }
            if let Some(text) = &sms.text {
                parts.push(format!("text={}", quoted(text)));
            }
        }
        for tag in &e.tags {
            parts.push(format!("#{}", show(tag, 32)));
        }
        parts
    }

    fn show_detail(parts: &[String], max: usize) -> String {
        cut(&parts.join(" "), max)
    }

    fn quoted(s: &str) -> String {
        format!("\"{}\"", show(s, VALUE))
    }

    /// Safe display of an attacker string: URLs defanged, control and invisible formatting
    /// characters escaped (so nothing reaches the terminal as an escape sequence or a line
    /// break), then bounded to `max` characters with an ellipsis.
    pub(super) fn show(s: &str, max: usize) -> String {
        // Bound the work first: nothing past a few screens can be shown anyway.
        let head = match s.char_indices().nth(max * 4) {
            Some((at, _)) => s.get(..at).unwrap_or(s),
            None => s,
        };
        let defanged = defang_urls(head);
        // the input is already bounded (`head`); `cut` bounds the characters shown
        let mut out = smishtrap_extract::safe::escaped(&defanged, usize::MAX);
        if head.len() < s.len() {
            out.push('…');
        }
        cut(&out, max)
    }

    /// Every URL the extractor finds (with or without scheme, evasive spellings included)
    /// is replaced by its defanged form (`hxxps://csam-be[.]info/x`).
    fn defang_urls(s: &str) -> String {
        let found = smishtrap_extract::extract(s);
        let mut out = String::with_capacity(s.len() + 16);
        let mut at = 0;
        for url in &found.urls {
            let (Some(before), Some(raw)) = (s.get(at..url.span.start), s.get(url.span.clone()))
            else {
                continue;
            };
            out.push_str(before);
            out.push_str(&smishtrap_extract::defang(raw));
            at = url.span.end;
        }
        out.push_str(s.get(at..).unwrap_or_default());
        out
    }

    /// At most `max` characters, the last one an ellipsis when something was cut.
    pub(super) fn cut(s: &str, max: usize) -> String {
        if s.chars().count() <= max {
            return s.to_owned();
        }
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_time(input: &str, expect: Result<&str, &str>) {
        let now = DateTime::parse_from_rfc3339("2025-07-22T12:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let got = parse_time_at(input, now).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true));
        match expect {
            Ok(want) => assert_eq!(got.as_deref(), Ok(want), "{input:?}"),
            Err(fragment) => {
                let err = got.err().unwrap_or_default();
                assert!(err.contains(fragment), "{input:?}: {err}");
            }
        }
    }

    #[test]
    fn times_absolute_and_relative() {
        check_time("2025-07-20T08:30:00Z", Ok("2025-07-20T08:30:00Z"));
        check_time("2025-07-20T10:30:00+02:00", Ok("2025-07-20T08:30:00Z"));
        check_time("2025-07-20 08:30:05", Ok("2025-07-20T08:30:05Z"));
        check_time("2025-07-20 08:30", Ok("2025-07-20T08:30:00Z"));
        check_time("2025-07-20", Ok("2025-07-20T00:00:00Z"));
        check_time("90s", Ok("2025-07-22T11:58:30Z"));
        check_time("30m", Ok("2025-07-22T11:30:00Z"));
        check_time("1h", Ok("2025-07-22T11:00:00Z"));
        check_time("2d", Ok("2025-07-20T12:00:00Z"));
        check_time("1w", Ok("2025-07-15T12:00:00Z"));
        check_time(" 0s ", Ok("2025-07-22T12:00:00Z"));
        check_time("1y", Err("expected RFC 3339"));
        check_time("h", Err("expected RFC 3339"));
        check_time("-1h", Err("expected RFC 3339"));
        check_time("", Err("expected RFC 3339"));
        check_time("99999999999999999w", Err("out of range"));
        check_time("9223372036854775807s", Err("out of range"));
    }

    fn check_show(input: &str, max: usize, expect: &str) {
        assert_eq!(table::show(input, max), expect, "{input:?}");
    }

    #[test]
    fn attacker_strings_are_escaped_bounded_and_defanged() {
        check_show("plain text", 40, "plain text");
        check_show("a\nb\r\nc\td", 40, "a\\nb\\r\\nc\\td");
        check_show("\u{1b}[31mred\u{1b}[0m", 40, "\\u{1b}[31mred\\u{1b}[0m");
        check_show("\u{7}\u{0}\u{9b}x", 40, "\\u{7}\\u{0}\\u{9b}x");
        check_show("abc\u{202e}def\u{200b}", 40, "abc\\u{202e}def\\u{200b}");
        check_show("back\\slash", 40, "back\\\\slash");
        check_show("<script>alert(1)</script>", 40, "<script>alert(1)</script>");
        check_show("0123456789", 5, "0123…");
        check_show("ééééé", 5, "ééééé");
        check_show("éééééé", 5, "éééé…");
        check_show(&"x".repeat(100_000), 10, "xxxxxxxxx…");
        check_show(
            "Pakket: https://post-nl.example-track.com/x?id=1 nu",
            80,
            "Pakket: hxxps://post-nl[.]example-track[.]com/x?id=1 nu",
        );
        check_show("ga naar csam-be.info/login", 80, "ga naar csam-be[.]info/login");
    }

    #[test]
    fn no_code_point_reaches_the_terminal_raw_if_it_could_hide_or_move_text() {
        let specials = (0..0x3000_u32).chain(0xfe00..0x10000).chain(0xe0000..0xe0080);
        for c in specials.filter_map(char::from_u32) {
            let shown = table::show(&format!("a{c}{c}b"), 20);
            assert!(
                !shown.chars().any(|s| s.is_control() || ('\u{2028}'..='\u{202e}').contains(&s)),
                "U+{:04X} shown raw: {shown:?}",
                u32::from(c)
            );
            assert!(shown.chars().count() <= 20, "U+{:04X}: {shown:?}", u32::from(c));
        }
    }

    #[test]
    fn cut_keeps_short_strings() {
        assert_eq!(table::cut("abc", 3), "abc");
        assert_eq!(table::cut("abcd", 3), "ab…");
        assert_eq!(table::cut("abcd", 0), "…");
    }
}
