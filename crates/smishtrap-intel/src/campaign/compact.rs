//! Compact campaign features for holders of many messages (the analyst keeps every message
//! that can take part in a campaign in memory, millions of them).
//!
//! [`CompactInputs`] holds the same values as a list of [`CampaignInput`]s in columns:
//! repeated strings (router, IP, numbers, country, status, brand, language, link hosts and
//! domains) as `u32` symbols of one interner, texts and URLs in a chunked arena, times and
//! flags in plain vectors. Clustering reads either form through [`InputRef`], so both give
//! the same result by construction.

use std::collections::HashMap;
use std::sync::Arc;

use super::{CampaignInput, UrlFeature};
use crate::Verdict;

/// Interned strings: symbol 0 is "none", every other one a distinct string.
#[derive(Debug, Clone)]
struct Symbols {
    strings: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
}

impl Symbols {
    fn new() -> Symbols {
        Symbols { strings: vec![Arc::from("")], ids: HashMap::default() }
    }

    /// The symbol of `s` (0 for none). More than 4 billion distinct values cannot be held
    /// in memory anyway; past that the last symbol is reused rather than panicking.
    fn intern(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else { return 0 };
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let shared: Arc<str> = Arc::from(s);
        self.strings.push(Arc::clone(&shared));
        self.ids.insert(shared, id);
        id
    }

    fn get(&self, id: u32) -> Option<&str> {
        if id == 0 { None } else { self.strings.get(id as usize).map(|s| &**s) }
    }
}

/// Bytes per arena chunk: large enough that the per-chunk overhead vanishes, small enough
/// that growing never copies much (a single growing buffer would double the peak).
const CHUNK: usize = 1 << 20;

/// Where a string sits in the [`Arena`].
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    chunk: u32,
    start: u32,
    len: u32,
}

/// Append-only string storage in fixed chunks (no per-string allocation or header).
#[derive(Debug, Clone, Default)]
struct Arena {
    chunks: Vec<String>,
}

impl Arena {
    fn push(&mut self, s: &str) -> Span {
        if s.is_empty() {
            return Span::default();
        }
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= s.len());
        if !fits {
            self.chunks.push(String::with_capacity(CHUNK.max(s.len())));
        }
        let chunk = self.chunks.len().saturating_sub(1);
        let Some(last) = self.chunks.last_mut() else { return Span::default() };
        let start = last.len();
        last.push_str(s);
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Span { chunk: narrow(chunk), start: narrow(start), len: narrow(s.len()) }
    }

    fn get(&self, span: Span) -> &str {
        let start = span.start as usize;
        self.chunks
            .get(span.chunk as usize)
            .and_then(|c| c.get(start..start.saturating_add(span.len as usize)))
            .unwrap_or("")
    }
}

/// One URL in columns: strings as symbols, the URL itself in the arena (it is mostly unique).
#[derive(Debug, Clone, Copy)]
struct CompactUrl {
    url: Span,
    /// 0: empty host.
    host: u32,
    domain: u32,
    impersonates: u32,
    technique: u32,
    shortener: bool,
}

const HAS_TS: u8 = 1;
const OUTBOUND: u8 = 2;
const HONEYPOT: u8 = 4;

/// Positions of the interned fields in [`CompactInputs::fields`].
const ROUTER: usize = 0;
const SRC_IP: usize = 1;
const SENDER: usize = 2;
const RECIPIENT: usize = 3;
const COUNTRY: usize = 4;
const STATUS: usize = 5;
const BRAND: usize = 6;
const LANG: usize = 7;

/// Campaign features of many messages in columns (see the module doc): about a quarter of
/// the memory of the same [`CampaignInput`]s, and the same clustering result.
#[derive(Debug, Clone)]
pub struct CompactInputs {
    symbols: Symbols,
    arena: Arena,
    index: Vec<u64>,
    ts: Vec<i64>,
    flags: Vec<u8>,
    verdict: Vec<Verdict>,
    fields: Vec<[u32; 8]>,
    text: Vec<Span>,
    /// End (exclusive) of each message's URLs in `urls`.
    url_end: Vec<u64>,
    urls: Vec<CompactUrl>,
}

impl Default for CompactInputs {
    fn default() -> CompactInputs {
        CompactInputs::new()
    }
}

impl CompactInputs {
    pub fn new() -> CompactInputs {
        CompactInputs {
            symbols: Symbols::new(),
            arena: Arena::default(),
            index: Vec::new(),
            ts: Vec::new(),
            flags: Vec::new(),
            verdict: Vec::new(),
            fields: Vec::new(),
            text: Vec::new(),
            url_end: Vec::new(),
            urls: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Appends the features of one message.
    pub fn push(&mut self, input: &CampaignInput) {
        self.push_ref(InputRef::from(input), input.index);
    }

    fn push_ref(&mut self, m: InputRef<'_>, index: usize) {
        self.index.push(index as u64);
        self.ts.push(m.ts().unwrap_or(0));
        let mut flags = 0;
        for (set, bit) in
            [(m.ts().is_some(), HAS_TS), (m.outbound(), OUTBOUND), (m.honeypot(), HONEYPOT)]
        {
            if set {
                flags |= bit;
            }
        }
        self.flags.push(flags);
        self.verdict.push(m.verdict());
        let s = &mut self.symbols;
        self.fields.push([
            s.intern(m.router()),
            s.intern(m.src_ip()),
            s.intern(m.sender()),
            s.intern(m.recipient()),
            s.intern(m.recipient_country()),
            s.intern(m.status()),
            s.intern(m.brand()),
            s.intern(m.lang()),
        ]);
        self.text.push(self.arena.push(m.text()));
        for u in m.urls() {
            let url = CompactUrl {
                url: self.arena.push(u.url),
                host: self.symbols.intern(Some(u.host).filter(|h| !h.is_empty())),
                domain: self.symbols.intern(u.domain),
                impersonates: self.symbols.intern(u.impersonates),
                technique: self.symbols.intern(u.technique),
                shortener: u.shortener,
            };
            self.urls.push(url);
        }
        self.url_end.push(self.urls.len() as u64);
    }

    /// Keeps the first `len` messages. The strings of the others stay interned (a rare
    /// step: the analyst forgets features another writer's rows made wrong).
    pub fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        let urls = if len == 0 { 0 } else { self.url_end.get(len - 1).copied().unwrap_or(0) };
        self.urls.truncate(usize::try_from(urls).unwrap_or(usize::MAX));
        self.index.truncate(len);
        self.ts.truncate(len);
        self.flags.truncate(len);
        self.verdict.truncate(len);
        self.fields.truncate(len);
        self.text.truncate(len);
        self.url_end.truncate(len);
    }

    /// Appends every message of `other`, adding `index_base` to their indexes.
    pub fn extend_from(&mut self, other: &CompactInputs, index_base: usize) {
        for i in 0..other.len() {
            if let Some(m) = other.get(i) {
                self.push_ref(m, m.index().saturating_add(index_base));
            }
        }
    }

    /// Views of every message, in order.
    pub fn iter(&self) -> impl Iterator<Item = InputRef<'_>> {
        InputsRef::Compact(self).iter()
    }

    /// A view of message `i`.
    pub fn get(&self, i: usize) -> Option<InputRef<'_>> {
        (i < self.len()).then_some(InputRef(Repr::Compact(self, i)))
    }

    /// Message `i` as an owned [`CampaignInput`] (tests, tools).
    pub fn to_input(&self, i: usize) -> Option<CampaignInput> {
        self.get(i).map(InputRef::to_input)
    }

    fn field(&self, i: usize, f: usize) -> Option<&str> {
        self.fields.get(i).and_then(|row| row.get(f)).and_then(|&id| self.symbols.get(id))
    }

    fn flag(&self, i: usize, bit: u8) -> bool {
        self.flags.get(i).is_some_and(|f| f & bit != 0)
    }

    fn url_range(&self, i: usize) -> &[CompactUrl] {
        let start = if i == 0 { 0 } else { self.url_end.get(i - 1).copied().unwrap_or(0) };
        let end = self.url_end.get(i).copied().unwrap_or(start);
        let (start, end) = (start as usize, end as usize);
        self.urls.get(start..end).unwrap_or(&[])
    }
}

/// The messages a clustering pass reads: owned [`CampaignInput`]s or [`CompactInputs`].
#[derive(Debug, Clone, Copy)]
pub enum InputsRef<'a> {
    Owned(&'a [CampaignInput]),
    Compact(&'a CompactInputs),
}

impl<'a> InputsRef<'a> {
    pub fn len(self) -> usize {
        match self {
            InputsRef::Owned(v) => v.len(),
            InputsRef::Compact(c) => c.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    pub fn get(self, i: usize) -> Option<InputRef<'a>> {
        match self {
            InputsRef::Owned(v) => v.get(i).map(InputRef::from),
            InputsRef::Compact(c) => c.get(i),
        }
    }

    pub fn iter(self) -> impl Iterator<Item = InputRef<'a>> {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

impl<'a> From<&'a [CampaignInput]> for InputsRef<'a> {
    fn from(v: &'a [CampaignInput]) -> InputsRef<'a> {
        InputsRef::Owned(v)
    }
}

impl<'a> From<&'a Vec<CampaignInput>> for InputsRef<'a> {
    fn from(v: &'a Vec<CampaignInput>) -> InputsRef<'a> {
        InputsRef::Owned(v)
    }
}

impl<'a, const N: usize> From<&'a [CampaignInput; N]> for InputsRef<'a> {
    fn from(v: &'a [CampaignInput; N]) -> InputsRef<'a> {
        InputsRef::Owned(v)
    }
}

impl<'a> From<&'a CompactInputs> for InputsRef<'a> {
    fn from(c: &'a CompactInputs) -> InputsRef<'a> {
        InputsRef::Compact(c)
    }
}

/// One message's features as clustering reads them (a copyable handle).
#[derive(Debug, Clone, Copy)]
pub struct InputRef<'a>(Repr<'a>);

#[derive(Debug, Clone, Copy)]
enum Repr<'a> {
    Owned(&'a CampaignInput),
    Compact(&'a CompactInputs, usize),
}

impl<'a> From<&'a CampaignInput> for InputRef<'a> {
    fn from(m: &'a CampaignInput) -> InputRef<'a> {
        InputRef(Repr::Owned(m))
    }
}

impl<'a> InputRef<'a> {
    pub fn index(self) -> usize {
        match self.0 {
            Repr::Owned(m) => m.index,
            Repr::Compact(c, i) => {
                c.index.get(i).map_or(i, |&x| usize::try_from(x).unwrap_or(usize::MAX))
            }
        }
    }

    pub fn ts(self) -> Option<i64> {
        match self.0 {
            Repr::Owned(m) => m.ts,
            Repr::Compact(c, i) => c.flag(i, HAS_TS).then(|| c.ts.get(i).copied()).flatten(),
        }
    }

    pub fn outbound(self) -> bool {
        match self.0 {
            Repr::Owned(m) => m.outbound,
            Repr::Compact(c, i) => c.flag(i, OUTBOUND),
        }
    }

    pub fn honeypot(self) -> bool {
        match self.0 {
            Repr::Owned(m) => m.honeypot,
            Repr::Compact(c, i) => c.flag(i, HONEYPOT),
        }
    }

    pub fn verdict(self) -> Verdict {
        match self.0 {
            Repr::Owned(m) => m.verdict,
            Repr::Compact(c, i) => c.verdict.get(i).copied().unwrap_or(Verdict::Ham),
        }
    }

    pub fn text(self) -> &'a str {
        match self.0 {
            Repr::Owned(m) => &m.text,
            Repr::Compact(c, i) => c.text.get(i).map_or("", |&s| c.arena.get(s)),
        }
    }

    fn field(self, owned: fn(&CampaignInput) -> &Option<String>, f: usize) -> Option<&'a str> {
        match self.0 {
            Repr::Owned(m) => owned(m).as_deref(),
            Repr::Compact(c, i) => c.field(i, f),
        }
    }

    pub fn router(self) -> Option<&'a str> {
        self.field(|m| &m.router, ROUTER)
    }

    pub fn src_ip(self) -> Option<&'a str> {
        self.field(|m| &m.src_ip, SRC_IP)
    }

    pub fn sender(self) -> Option<&'a str> {
        self.field(|m| &m.sender, SENDER)
    }

    pub fn recipient(self) -> Option<&'a str> {
        self.field(|m| &m.recipient, RECIPIENT)
    }

    pub fn recipient_country(self) -> Option<&'a str> {
        self.field(|m| &m.recipient_country, COUNTRY)
    }

    pub fn status(self) -> Option<&'a str> {
        self.field(|m| &m.status, STATUS)
    }

    pub fn brand(self) -> Option<&'a str> {
        self.field(|m| &m.brand, BRAND)
    }

    pub fn lang(self) -> Option<&'a str> {
        self.field(|m| &m.lang, LANG)
    }

    pub fn urls(self) -> Urls<'a> {
        match self.0 {
            Repr::Owned(m) => Urls(UrlsRepr::Owned(m.urls.iter())),
            Repr::Compact(c, i) => Urls(UrlsRepr::Compact(c, c.url_range(i).iter())),
        }
    }

    /// The router as evidence of who sent the message: none for honeypot captures.
    pub fn router_evidence(self) -> Option<&'a str> {
        if self.honeypot() { None } else { self.router() }
    }

    pub fn failed(self) -> bool {
        self.status()
            .is_some_and(|s| s.contains("fail") || s.contains("error") || s == "undelivered")
    }

    /// The features as an owned [`CampaignInput`].
    pub fn to_input(self) -> CampaignInput {
        let own = |s: Option<&str>| s.map(str::to_owned);
        CampaignInput {
            index: self.index(),
            ts: self.ts(),
            router: own(self.router()),
            src_ip: own(self.src_ip()),
            sender: own(self.sender()),
            recipient: own(self.recipient()),
            recipient_country: own(self.recipient_country()),
            outbound: self.outbound(),
            status: own(self.status()),
            text: self.text().to_owned(),
            verdict: self.verdict(),
            brand: own(self.brand()),
            lang: own(self.lang()),
            urls: self
                .urls()
                .map(|u| UrlFeature {
                    url: u.url.to_owned(),
                    host: u.host.to_owned(),
                    domain: own(u.domain),
                    impersonates: own(u.impersonates),
                    technique: own(u.technique),
                    shortener: u.shortener,
                })
                .collect(),
            honeypot: self.honeypot(),
        }
    }
}

/// One URL of a message, borrowed (see [`UrlFeature`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlRef<'a> {
    pub url: &'a str,
    pub host: &'a str,
    pub domain: Option<&'a str>,
    pub impersonates: Option<&'a str>,
    pub technique: Option<&'a str>,
    pub shortener: bool,
}

/// The URLs of one message.
#[derive(Debug, Clone)]
pub struct Urls<'a>(UrlsRepr<'a>);

#[derive(Debug, Clone)]
enum UrlsRepr<'a> {
    Owned(std::slice::Iter<'a, UrlFeature>),
    Compact(&'a CompactInputs, std::slice::Iter<'a, CompactUrl>),
}

impl<'a> Iterator for Urls<'a> {
    type Item = UrlRef<'a>;

    fn next(&mut self) -> Option<UrlRef<'a>> {
        match &mut self.0 {
            UrlsRepr::Owned(it) => it.next().map(|u| UrlRef {
                url: &u.url,
                host: &u.host,
                domain: u.domain.as_deref(),
                impersonates: u.impersonates.as_deref(),
                technique: u.technique.as_deref(),
                shortener: u.shortener,
            }),
            UrlsRepr::Compact(c, it) => it.next().map(|u| UrlRef {
                url: c.arena.get(u.url),
                host: c.symbols.get(u.host).unwrap_or(""),
                domain: c.symbols.get(u.domain),
                impersonates: c.symbols.get(u.impersonates),
                technique: c.symbols.get(u.technique),
                shortener: u.shortener,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(index: usize, text: &str, urls: usize) -> CampaignInput {
        CampaignInput {
            index,
            ts: (!index.is_multiple_of(3)).then_some(index as i64 * 60 - 7),
            router: Some(format!("r{}", index % 2)),
            src_ip: None,
            sender: index.is_multiple_of(2).then(|| "+3247".to_owned()),
            recipient: Some(format!("+32470{index:06}")),
            recipient_country: Some("BE".into()),
            outbound: index % 2 == 1,
            status: Some("sent".into()),
            text: text.to_owned(),
            verdict: [Verdict::Smishing, Verdict::Ham, Verdict::Spam][index % 3],
            brand: None,
            lang: Some(String::new()),
            urls: (0..urls)
                .map(|k| UrlFeature {
                    url: format!("https://a{k}.example/{index}"),
                    host: if k == 0 { String::new() } else { format!("a{k}.example") },
                    domain: (k != 1).then(|| "example".to_owned()),
                    impersonates: None,
                    technique: Some("typo".into()),
                    shortener: k == 2,
                })
                .collect(),
            honeypot: index == 4,
        }
    }

    #[test]
    fn round_trips_every_field() {
        let inputs: Vec<CampaignInput> = (0..40)
            .map(|i| input(i, &"é".repeat(i * 1000 % 1500), i % 4))
            .chain([input(40, &"x".repeat(CHUNK + 3), 1), input(41, "", 0)])
            .collect();
        let mut compact = CompactInputs::new();
        for m in &inputs {
            compact.push(m);
        }
        assert_eq!(compact.len(), inputs.len());
        for (i, m) in inputs.iter().enumerate() {
            assert_eq!(compact.to_input(i).as_ref(), Some(m), "{i}");
        }
        assert!(compact.get(inputs.len()).is_none());
        // truncate then extend: the same as pushing in that order
        let mut cut = compact.clone();
        cut.truncate(10);
        let mut tail = CompactInputs::new();
        for m in inputs.iter().skip(10) {
            let mut m = m.clone();
            m.index -= 10;
            tail.push(&m);
        }
        cut.extend_from(&tail, 10);
        for (i, m) in inputs.iter().enumerate() {
            assert_eq!(cut.to_input(i).as_ref(), Some(m), "{i}");
        }
    }
}
