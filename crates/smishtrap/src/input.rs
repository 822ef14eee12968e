//! Readers of SMS records for `analyze`: JSONL, CSV/TSV with a header, stdin, and the
//! `sms.send` events of a sensor store. Streaming: one record at a time, bounded lines.
//!
//! Every input record becomes either a [`Item::Record`] or a [`Item::Bad`] naming the file,
//! line and problem; nothing is dropped silently.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use smishtrap_event::SmsRecord;

/// Longest line (JSONL) or record (CSV) accepted; longer ones are reported as bad.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

/// Where records come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    pub(crate) fn parse(arg: &str) -> Source {
        if arg == "-" { Source::Stdin } else { Source::File(PathBuf::from(arg)) }
    }

    pub(crate) fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
        }
    }
}

/// One input record or the reason it could not be read.
#[derive(Debug)]
pub(crate) enum Item {
    Record { record: Box<SmsRecord>, line: u64, warning: Option<String> },
    Bad { line: u64, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Jsonl,
    Csv(u8),
}

/// An input record before JSON parsing: JSONL lines are handed over raw so that the
/// workers, not the single reader thread, parse them ([`parse_jsonl`]).
#[derive(Debug)]
pub(crate) enum RawItem {
    /// One non-blank JSONL line of at most [`MAX_RECORD_BYTES`] bytes.
    Line { line: u64, bytes: Vec<u8> },
    /// A CSV record, or a line that could not be read.
    Item(Item),
}

impl RawItem {
    pub(crate) fn parse(self) -> Item {
        match self {
            RawItem::Line { line, bytes } => parse_jsonl(line, bytes),
            RawItem::Item(item) => item,
        }
    }
}

/// Opens `source` and returns an iterator over its records. Fails only when the source
/// cannot be opened or has no usable header.
#[cfg(test)]
pub(crate) fn open(source: &Source) -> anyhow::Result<Box<dyn Iterator<Item = Item> + Send>> {
    Ok(Box::new(open_raw(source)?.map(RawItem::parse)))
}

/// Like [`open`], with JSONL lines left unparsed.
pub(crate) fn open_raw(
    source: &Source,
) -> anyhow::Result<Box<dyn Iterator<Item = RawItem> + Send>> {
    let reader: Box<dyn BufRead + Send> = match source {
        Source::File(path) => Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(path).map_err(|e| anyhow::anyhow!("cannot open: {e}"))?,
        )),
        Source::Stdin => Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
    };
    let mut reader = Bomless::new(reader)?;
    let format = match source {
        Source::File(path) => by_extension(path),
        Source::Stdin => None,
    };
    let format = match format {
        Some(f) => f,
        None => sniff(&mut reader)?,
    };
    match format {
        Format::Jsonl => Ok(Box::new(JsonlReader { reader, line: 0, buf: Vec::new() })),
        Format::Csv(delimiter) => {
            Ok(Box::new(CsvReader::new(reader, delimiter, &source.name())?.map(RawItem::Item)))
        }
    }
}

fn by_extension(path: &Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
        "csv" => Some(Format::Csv(b',')),
        "tsv" | "tab" => Some(Format::Csv(b'\t')),
        _ => None,
    }
}

/// Guesses the format from the first non-blank line.
fn sniff(reader: &mut Bomless) -> anyhow::Result<Format> {
    let head = reader.fill_buf()?;
    let first_line = head
        .split(|b| *b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(&[]);
    let trimmed =
        first_line.iter().skip_while(|b| b.is_ascii_whitespace()).copied().collect::<Vec<u8>>();
    Ok(if trimmed.first() == Some(&b'{') {
        Format::Jsonl
    } else if first_line.contains(&b'\t') {
        Format::Csv(b'\t')
    } else {
        Format::Csv(b',')
    })
}

/// A buffered reader that skips a leading UTF-8 byte order mark.
struct Bomless {
    inner: Box<dyn BufRead + Send>,
}

impl Bomless {
    fn new(mut inner: Box<dyn BufRead + Send>) -> std::io::Result<Bomless> {
        let buf = inner.fill_buf()?;
        if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            inner.consume(3);
        }
        Ok(Bomless { inner })
    }
}

impl Read for Bomless {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(out)
    }
}

impl BufRead for Bomless {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

/// Decodes UTF-8, lossily with a warning.
fn decode(bytes: Vec<u8>) -> (String, Option<String>) {
    match String::from_utf8(bytes) {
        Ok(s) => (s, None),
        Err(e) => {
            let s = String::from_utf8_lossy(e.as_bytes()).into_owned();
            (s, Some("invalid UTF-8 replaced with U+FFFD".to_string()))
        }
    }
}

/// Initial buffer of a JSONL line: most SMS records fit, so lines rarely reallocate.
const LINE_CAPACITY: usize = 512;

struct JsonlReader {
    reader: Bomless,
    line: u64,
    buf: Vec<u8>,
}

/// The JSONL fields of DESIGN.md; scalars may be strings or numbers, unknown fields ignored.
#[derive(Debug, Deserialize)]
struct JsonRecord {
    #[serde(default, deserialize_with = "scalar")]
    id: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    ts: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    to: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    from: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    direction: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    status: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    router: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    router_country: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    source: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    src_ip: Option<String>,
    #[serde(default)]
    text: TextField,
}

/// The `text` field: a string, absent, or anything else (both reported as bad records).
#[derive(Debug, Default)]
enum TextField {
    Text(String),
    #[default]
    Missing,
    Other,
}

impl<'de> Deserialize<'de> for TextField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TextField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<TextField, E> {
                Ok(TextField::Text(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<TextField, E> {
                Ok(TextField::Text(v))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<TextField, E> {
                Ok(TextField::Other)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<TextField, E> {
                Ok(TextField::Other)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<TextField, E> {
                Ok(TextField::Other)
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<TextField, E> {
                Ok(TextField::Other)
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<TextField, E> {
                Ok(TextField::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TextField, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(TextField::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TextField, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(TextField::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Accepts a string, number, boolean or null as an optional string.
fn scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string, number or null")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

impl JsonRecord {
    fn into_record(self) -> Result<SmsRecord, String> {
        let text = match self.text {
            TextField::Text(t) => t,
            TextField::Other => return Err("field text: expected a string".into()),
            TextField::Missing => return Err("missing field text".into()),
        };
        Ok(SmsRecord {
            id: self.id.filter(|s| !s.is_empty()),
            ts: self.ts,
            to: self.to,
            from: self.from,
            direction: self.direction,
            status: self.status,
            router: self.router,
            router_country: self.router_country,
            source: self.source,
            src_ip: self.src_ip,
            text,
        })
    }
}

/// Parses one JSONL line (as read by the JSONL reader) into a record or the reason it is bad.
pub(crate) fn parse_jsonl(line: u64, bytes: Vec<u8>) -> Item {
    let (text, warning) = decode(bytes);
    let parsed: Result<JsonRecord, _> = serde_json::from_str(text.trim_end());
    match parsed {
        Ok(r) => match r.into_record() {
            Ok(record) => Item::Record { record: Box::new(record), line, warning },
            Err(message) => Item::Bad { line, message },
        },
        Err(e) => Item::Bad { line, message: format!("invalid JSON record: {e}") },
    }
}

impl Iterator for JsonlReader {
    type Item = RawItem;

    fn next(&mut self) -> Option<RawItem> {
        loop {
            self.buf.clear();
            self.line += 1;
            let line = self.line;
            let mut limited = (&mut self.reader).take(MAX_RECORD_BYTES as u64 + 1);
            match limited.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(RawItem::Item(Item::Bad {
                        line,
                        message: format!("read error: {e}"),
                    }));
                }
            }
            if self.buf.len() > MAX_RECORD_BYTES && !self.buf.ends_with(b"\n") {
                // Skip the rest of the overlong line.
                let mut sink = Vec::new();
                loop {
                    sink.clear();
                    let mut chunk = (&mut self.reader).take(1 << 16);
                    match chunk.read_until(b'\n', &mut sink) {
                        Ok(0) => break,
                        Ok(_) if sink.ends_with(b"\n") => break,
                        Ok(_) => continue,
                        Err(_) => break,
                    }
                }
                return Some(RawItem::Item(Item::Bad {
                    line,
                    message: format!("line longer than {MAX_RECORD_BYTES} bytes"),
                }));
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // the line's own buffer goes to the worker; the next line starts a fresh one
            let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(LINE_CAPACITY));
            return Some(RawItem::Line { line, bytes });
        }
    }
}

/// Column names the CSV/TSV reader understands (lowercase).
const TEXT_COLUMNS: &[&str] =
    &["text", "sms", "message", "body", "content", "msg", "sms text", "message text"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Ts,
    To,
    From,
    Direction,
    Status,
    Router,
    RouterCountry,
    Source,
    SrcIp,
}

fn field_of(header: &str) -> Option<Field> {
    let h = header.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    Some(match h.as_str() {
        "id" | "message_id" | "msg_id" | "sms_id" | "uuid" => Field::Id,
        "ts" | "timestamp" | "time" | "date" | "datetime" | "sent_at" | "received_at" => Field::Ts,
        "to" | "recipient" | "to_number" | "destination" | "dest" | "msisdn" | "receiver" => {
            Field::To
        }
        "from" | "sender" | "from_number" | "originator" | "source_number" | "sender_id" => {
            Field::From
        }
        "direction" | "dir" | "box" => Field::Direction,
        "status" | "state" | "delivery_status" => Field::Status,
        "router" | "device" | "router_id" | "gateway" => Field::Router,
        "router_country" | "country" | "device_country" => Field::RouterCountry,
        "source" => Field::Source,
        "src_ip" | "source_ip" | "ip" => Field::SrcIp,
        _ => return None,
    })
}

/// A quoted CSV field may span at most this many lines; a quote still open after them (or at
/// the end of the input) is taken as unterminated.
const MAX_QUOTED_LINES: usize = 64;

/// Sits between the file and the CSV parser: a record whose quoted field is never closed
/// would swallow every following line (to the end of the file), so its quote is closed at the
/// end of its first line instead, and the record is reported (line and field) while the
/// following lines are read as records of their own. Line numbers are unchanged.
struct QuoteGuard {
    inner: Bomless,
    delimiter: u8,
    /// Off for TSV, which is read without quoting.
    quoting: bool,
    /// Physical lines read ahead and not yet scanned.
    ahead: std::collections::VecDeque<Vec<u8>>,
    /// Bytes ready for the parser, and how far it read them.
    out: Vec<u8>,
    at: usize,
    /// Line number of the next line handed on (1-based).
    line: u64,
    /// Lines (first line of a record) whose quote was closed here, with the field number.
    unterminated: Vec<(u64, usize)>,
}

/// Where a CSV scan stands at the end of a line.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Not inside a quoted field: the line ends the record.
    Closed,
    /// Inside a quoted field opened in field `n` (1-based).
    Open(usize),
    /// A quote closed a field but text follows it (`"a"b`): in a field spanning lines, the
    /// sign that the quote was never closed and a later record's quote was taken for it.
    Broken,
}

impl QuoteGuard {
    fn new(inner: Bomless, delimiter: u8, quoting: bool) -> QuoteGuard {
        QuoteGuard {
            inner,
            delimiter,
            quoting,
            ahead: std::collections::VecDeque::new(),
            out: Vec::new(),
            at: 0,
            line: 1,
            unterminated: Vec::new(),
        }
    }

    /// Scans `line` from state `state` as the csv parser does: a quote opens a field only as
    /// its first byte, `""` inside quotes is a quote.
    fn scan(&self, line: &[u8], state: Quote) -> Quote {
        // field number, inside quotes, a quote just seen inside quotes, at a field's start
        if !self.quoting {
            return Quote::Closed;
        }
        let (mut field, mut quoted, mut quote_seen, mut start) = match state {
            Quote::Open(n) => (n, true, false, false),
            Quote::Closed | Quote::Broken => (1, false, false, true),
        };
        let mut broken = false;
        for &b in line {
            if quoted {
                if !quote_seen {
                    quote_seen = b == b'"';
                    continue;
                }
                quote_seen = false;
                if b == b'"' {
                    continue; // `""`: a quote inside the field
                }
                quoted = false; // the quote closed the field; `b` comes after it
                broken |= b != self.delimiter && b != b'\r' && b != b'\n';
            }
            if b == self.delimiter {
                field += 1;
                start = true;
            } else if b == b'"' && start {
                quoted = true;
                start = false;
            } else if b != b'\r' && b != b'\n' {
                start = false;
            }
        }
        if broken {
            Quote::Broken
        } else if quoted && !quote_seen {
            Quote::Open(field)
        } else {
            Quote::Closed
        }
    }

    fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        if let Some(line) = self.ahead.pop_front() {
            return Ok(Some(line));
        }
        let mut line = Vec::new();
        let n = (&mut self.inner).take(MAX_RECORD_BYTES as u64 + 1).read_until(b'\n', &mut line)?;
        Ok((n > 0).then_some(line))
    }

    /// Fills `out` with the next record's lines.
    fn refill(&mut self) -> std::io::Result<()> {
        self.out.clear();
        self.at = 0;
        let Some(first) = self.next_line()? else { return Ok(()) };
        let mut state = self.scan(&first, Quote::Closed);
        // text after a closing quote on one line is the csv parser's to judge
        let Quote::Open(field) = state else {
            self.out = first;
            self.line += 1;
            return Ok(());
        };
        let mut lines = vec![first];
        let mut bytes = lines[0].len();
        while let Quote::Open(_) = state {
            if lines.len() > MAX_QUOTED_LINES || bytes > MAX_RECORD_BYTES {
                break;
            }
            let Some(next) = self.next_line()? else { break };
            bytes += next.len();
            state = self.scan(&next, state);
            lines.push(next);
        }
        if state == Quote::Closed {
            self.line += lines.len() as u64;
            self.out = lines.concat();
            return Ok(());
        }
        // unterminated: close the quote where the first line ends, read the rest again
        let mut first = lines.remove(0);
        let newline = first.iter().rev().take_while(|b| matches!(b, b'\n' | b'\r')).count();
        first.insert(first.len() - newline, b'"');
        if newline == 0 {
            first.push(b'\n');
        }
        self.unterminated.push((self.line, field));
        self.line += 1;
        for line in lines.into_iter().rev() {
            self.ahead.push_front(line);
        }
        self.out = first;
        Ok(())
    }

    /// The field whose quote was closed on `line`, if any (reported once).
    fn take_unterminated(&mut self, line: u64) -> Option<usize> {
        let pos = self.unterminated.iter().position(|(l, _)| *l == line)?;
        Some(self.unterminated.swap_remove(pos).1)
    }
}

impl Read for QuoteGuard {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for QuoteGuard {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.at >= self.out.len() {
            self.refill()?;
        }
        Ok(self.out.get(self.at..).unwrap_or(&[]))
    }
    fn consume(&mut self, amt: usize) {
        self.at = (self.at + amt).min(self.out.len());
    }
}

struct CsvReader {
    reader: csv::Reader<QuoteGuard>,
    text_col: usize,
    columns: Vec<(usize, Field)>,
    record: csv::ByteRecord,
    width: usize,
    names: Vec<String>,
}

impl CsvReader {
    fn new(reader: Bomless, delimiter: u8, name: &str) -> anyhow::Result<CsvReader> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            // TSV exports rarely quote; a stray `"` must not swallow the following lines.
            .quoting(delimiter != b'\t')
            .from_reader(QuoteGuard::new(reader, delimiter, delimiter != b'\t'));
        let headers = reader
            .byte_headers()
            .map_err(|e| anyhow::anyhow!("{name}: cannot read the header: {e}"))?
            .clone();
        let names: Vec<String> =
            headers.iter().map(|h| String::from_utf8_lossy(h).trim().to_string()).collect();
        let text_col = names
            .iter()
            .position(|n| TEXT_COLUMNS.contains(&n.to_ascii_lowercase().as_str()))
            .ok_or_else(|| {
                // one column and no known name: most likely a plain list of messages
                let hint = if names.len() == 1 {
                    "; a plain list of messages needs a first line `text` (or one JSON object a \
                     line: {\"text\": \"...\"})"
                } else {
                    ""
                };
                anyhow::anyhow!(
                    "{name}: line 1: no text column in the header (expected one of: text, TEXT, SMS, message, body, content){hint}"
                )
            })?;
        let mut columns = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if i == text_col {
                continue;
            }
            if let Some(f) = field_of(n)
                && !columns.iter().any(|(_, g)| *g == f)
            {
                columns.push((i, f));
            }
        }
        Ok(CsvReader {
            reader,
            text_col,
            columns,
            record: csv::ByteRecord::new(),
            width: names.len(),
            names,
        })
    }
}

impl Iterator for CsvReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let line = self.reader.position().line();
            match self.reader.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(line, csv::Position::line);
                    if let csv::ErrorKind::Io(_) = e.kind() {
                        return Some(Item::Bad { line, message: format!("read error: {e}") });
                    }
                    return Some(Item::Bad { line, message: format!("invalid CSV record: {e}") });
                }
            }
            let line = self.record.position().map_or(line, csv::Position::line);
            if let Some(field) = self.reader.get_mut().take_unterminated(line) {
                let name = self.names.get(field.saturating_sub(1)).map_or("?", String::as_str);
                // a header is file content: bounded and escaped before any terminal
                let name: String = name.chars().take(40).collect();
                return Some(Item::Bad {
                    line,
                    message: format!(
                        "field {field} ({}): quote not closed; the record is read to the end \
                         of its line",
                        smishtrap_intel::campaign::sanitise(&name)
                    ),
                });
            }
            if self.record.len() == 1
                && self.record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            if self.record.as_slice().len() > MAX_RECORD_BYTES {
                return Some(Item::Bad {
                    line,
                    message: format!("record longer than {MAX_RECORD_BYTES} bytes"),
                });
            }
            if self.record.len() != self.width {
                return Some(Item::Bad {
                    line,
                    message: format!(
                        "expected {} fields as in the header, found {}",
                        self.width,
                        self.record.len()
                    ),
                });
            }
            let mut warning = None;
            let mut get = |i: usize| -> Option<String> {
                let raw = self.record.get(i)?;
                let (s, w) = decode(raw.to_vec());
                warning = warning.take().or(w);
                let s = s.trim().to_string();
                if s.is_empty() { None } else { Some(s) }
            };
            let Some(text) = self.record.get(self.text_col).map(|t| t.to_vec()) else {
                return Some(Item::Bad { line, message: "missing text field".into() });
            };
            let (text, w) = decode(text);
            let mut record = SmsRecord { text, ..SmsRecord::default() };
            for &(i, f) in &self.columns {
                let v = get(i);
                match f {
                    Field::Id => record.id = v,
                    Field::Ts => record.ts = v,
                    Field::To => record.to = v,
                    Field::From => record.from = v,
                    Field::Direction => record.direction = v,
                    Field::Status => record.status = v,
                    Field::Router => record.router = v,
                    Field::RouterCountry => record.router_country = v,
                    Field::Source => record.source = v,
                    Field::SrcIp => record.src_ip = v,
                }
            }
            return Some(Item::Record { record: Box::new(record), line, warning: w.or(warning) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, bytes: &[u8]) -> Vec<Item> {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let path = dir.path().join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            panic!("{e}");
        }
        match open(&Source::File(path)) {
            Ok(it) => it.collect(),
            Err(e) => panic!("{e}"),
        }
    }

    fn texts(items: &[Item]) -> Vec<String> {
        items
            .iter()
            .map(|i| match i {
                Item::Record { record, line, .. } => format!("{line}:{}", record.text),
                Item::Bad { line, message } => format!("{line}:BAD {message}"),
            })
            .collect()
    }

    #[test]
    fn jsonl_with_bom_blank_lines_and_bad_records() {
        let items = read(
            "a.jsonl",
            b"\xEF\xBB\xBF{\"text\":\"one\",\"id\":7,\"extra\":[1]}\n\n{\"text\":\"two\"\n{\"id\":\"x\"}\n{\"text\":3}\n{\"text\":\"f\xFFo\"}\n",
        );
        let got = texts(&items);
        assert_eq!(got.first().map(String::as_str), Some("1:one"));
        assert!(got.get(1).is_some_and(|s| s.starts_with("3:BAD invalid JSON")), "{got:?}");
        assert_eq!(got.get(2).map(String::as_str), Some("4:BAD missing field text"));
        assert_eq!(got.get(3).map(String::as_str), Some("5:BAD field text: expected a string"));
        assert_eq!(got.get(4).map(String::as_str), Some("6:f\u{FFFD}o"));
        assert!(matches!(items.get(4), Some(Item::Record { warning: Some(_), .. })));
        assert!(
            matches!(items.first(), Some(Item::Record { record, .. }) if record.id.as_deref() == Some("7"))
        );
    }

    #[test]
    fn csv_with_quoted_newlines_and_mapped_columns() {
        let items = read("a.csv", b"label,TEXT,Recipient,Country\nham,\"line one\nline two\",+32470123456,BE\nspam,short\n");
        let got = texts(&items);
        assert_eq!(got.first().map(String::as_str), Some("2:line one\nline two"));
        assert!(got.get(1).is_some_and(|s| s.starts_with("4:BAD expected 4 fields")), "{got:?}");
        match items.first() {
            Some(Item::Record { record, .. }) => {
                assert_eq!(record.to.as_deref(), Some("+32470123456"));
                assert_eq!(record.router_country.as_deref(), Some("BE"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn tsv_with_stray_quotes() {
        let items = read("a.tsv", b"Label\tSMS\nham\t\"quoted start only\nspam\tsecond\n");
        assert_eq!(
            texts(&items),
            vec!["2:\"quoted start only".to_string(), "3:second".to_string()]
        );
    }

    /// An unterminated quote is reported on its line with its field and never swallows the
    /// lines after it; a quoted field over several lines still reads as one.
    #[test]
    fn an_unterminated_quote_does_not_swallow_the_next_lines() {
        let items = read(
            "q.csv",
            b"text,to\n\"unterminated,+32470000001\nhello,+32470000002\n\"two\nlines\",+3247\nlast,+3248\n",
        );
        assert_eq!(
            texts(&items),
            vec![
                "2:BAD field 1 (text): quote not closed; the record is read to the end of its line"
                    .to_string(),
                "3:hello".to_string(),
                "4:two\nlines".to_string(),
                "6:last".to_string(),
            ]
        );
        // in the second field, with `""` escapes before it, and at the end of the input
        let items = read("r.csv", b"to,text\n+32,\"say \"\"hi\"\"\n+33,ok\n");
        assert_eq!(
            texts(&items),
            vec![
                "2:BAD field 2 (text): quote not closed; the record is read to the end of its line"
                    .to_string(),
                "3:ok".to_string(),
            ]
        );
        let items = read("s.csv", b"text\n\"open at the end");
        assert_eq!(texts(&items).len(), 1);
        assert!(texts(&items)[0].starts_with("2:BAD field 1 (text)"), "{:?}", texts(&items));
    }

    #[test]
    fn a_plain_text_list_gets_a_hint() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("list.txt");
        std::fs::write(&path, b"hello there\nsecond message\n").unwrap_or_else(|e| panic!("{e}"));
        let err = open(&Source::File(path)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("no text column") && err.contains("first line `text`"), "{err}");
    }

    #[test]
    fn csv_without_text_column_is_an_error() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let path = dir.path().join("x.csv");
        if let Err(e) = std::fs::write(&path, b"a,b\n1,2\n") {
            panic!("{e}");
        }
        let err = open(&Source::File(path)).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("no text column"), "{err}");
    }

    #[test]
    fn sniffs_unknown_extensions() {
        assert_eq!(texts(&read("a.txt", b"{\"text\":\"j\"}\n")), vec!["1:j".to_string()]);
        assert_eq!(texts(&read("a.dat", b"id\ttext\n1\tt\n")), vec!["2:t".to_string()]);
    }
}
