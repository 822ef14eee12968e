//! Text folding shared by brand, cue and model matching: lowercase, accents removed,
//! compatibility forms unified (`ﬁ` -> `fi`, full-width -> ASCII), typographic quotes made
//! plain, zero-width characters dropped. The vowel and tone marks of the scripts of South and
//! South-East Asia (Thai, Lao, Devanagari, Bengali, Myanmar, Khmer...) are kept: there they
//! are letters of the word, not accents (without them Thai `ด่วน`, "urgent", is also `ดวน`).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{
    canonical_combining_class, decompose_compatible, is_combining_mark,
};

/// Folds `text` for matching. Idempotent: `fold(fold(x)) == fold(x)`.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    // NFKD char by char: it only differs from NFKD of the whole text in the order of
    // combining marks, which are all dropped here
    let mut out = String::with_capacity(text.len());
    let mut recheck = false;
    // where the marks after the last starter begin (kept marks are put in canonical order
    // there, as NFKD of the whole text would)
    let mut run = 0;
    for c in text.chars() {
        if c.is_ascii() {
            push_folded(&mut out, c, &mut recheck, &mut run);
        } else {
            decompose_compatible(c, |d| push_folded(&mut out, d, &mut recheck, &mut run));
        }
    }
    // Lowercasing can produce new decomposable characters (rare); a second pass keeps
    // `fold` idempotent without slowing the common case.
    if !recheck || out.is_ascii() || out.nfkd().eq(out.chars()) { out } else { fold(&out) }
}

/// The byte length of `fold` of the one char `c`, folded into `buf` (cleared first) so that
/// a walk over many chars allocates once.
pub(crate) fn folded_len(c: char, buf: &mut String) -> usize {
    if c.is_ascii() {
        return 1;
    }
    buf.clear();
    let (mut recheck, mut run) = (false, 0);
    decompose_compatible(c, |d| push_folded(buf, d, &mut recheck, &mut run));
    if !recheck || buf.is_ascii() || buf.nfkd().eq(buf.chars()) {
        buf.len()
    } else {
        fold(buf).len()
    }
}

/// True for the combining marks [`fold`] keeps: vowel signs, tone marks and viramas of the
/// Brahmic scripts (Devanagari to Sinhala, Thai, Lao, Tibetan, Myanmar, Khmer).
pub(crate) fn kept_mark(c: char) -> bool {
    matches!(u32::from(c), 0x0900..=0x0DFF | 0x0E00..=0x0FFF | 0x1000..=0x109F | 0x1780..=0x17FF)
        && is_combining_mark(c)
}

/// Zero-width and soft-hyphen characters: invisible, and put inside words to dodge filters
/// (or left there by copy and paste).
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Appends the folded form of `c`, a char of a compatibility decomposition; `recheck` is set
/// when lowercasing made a char that may not be decomposed yet; `run` is where the combining
/// marks after the last starter begin in `out`.
fn push_folded(out: &mut String, c: char, recheck: &mut bool, run: &mut usize) {
    if c.is_ascii() && c != '`' {
        out.push(c.to_ascii_lowercase());
        *run = out.len();
        return;
    }
    let class = canonical_combining_class(c);
    if is_combining_mark(c) {
        if !kept_mark(c) {
            return;
        }
        if class == 0 {
            out.push(c);
            *run = out.len();
            return;
        }
        // canonical order: before the kept marks of a higher class since the last starter
        let mut at = out.len();
        while at > *run {
            let Some(prev) = out.get(..at).and_then(|s| s.chars().next_back()) else { break };
            if canonical_combining_class(prev) <= class {
                break;
            }
            at -= prev.len_utf8();
        }
        out.insert(at, c);
        return;
    }
    if invisible(c) {
        return;
    }
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
        // capital sharp s lowercases to `ß`, which folds to `ss`
        '\u{00DF}' | '\u{1E9E}' => out.push_str("ss"),
        '\u{00F8}' | '\u{00D8}' => out.push('o'),
        '\u{00E6}' | '\u{00C6}' => out.push_str("ae"),
        '\u{0153}' | '\u{0152}' => out.push_str("oe"),
        '\u{0142}' | '\u{0141}' => out.push('l'),
        '\u{0111}' | '\u{0110}' => out.push('d'),
        _ => {
            for l in c.to_lowercase() {
                *recheck |= l != c;
                out.push(l);
            }
        }
    }
    *run = out.len();
}

/// The letter a digit stands for in a word written to slip past filters (`V0DAF0NE`,
/// `bl0cked`, `P4YPAL`); `1` stands for `one` (`i` or `l`), other digits for nothing.
fn leet_letter(digit: u8, one: u8) -> Option<u8> {
    match digit {
        b'0' => Some(b'o'),
        b'1' => Some(one),
        b'3' => Some(b'e'),
        b'4' => Some(b'a'),
        b'5' => Some(b's'),
        b'7' => Some(b't'),
        _ => None,
    }
}

/// Byte ranges of the words of `text` that mix ASCII letters with digits that look like
/// letters: at least two letters, no more such digits than letters, no other digit, and a
/// digit between two letters (`FL1PKART`, `bl0cked`; not `COVID19`, `Rs500`, `5GB`, `10am`).
/// A word is a run of ASCII letters and digits between characters that are neither letters
/// nor digits.
pub(crate) fn leet_words(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    // a look-alike digit between two letters; memchr finds the digits fast, and most texts
    // have none or only amounts and codes (this runs on every message)
    let letter = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_alphabetic);
    let inside = memchr::memchr3_iter(b'0', b'1', b'3', bytes)
        .chain(memchr::memchr3_iter(b'4', b'5', b'7', bytes))
        .any(|at| at > 0 && letter(at - 1) && letter(at + 1));
    if !inside {
        return found;
    }
    let mut from = 0;
    // from digit to digit, looking at the words around them
    while let Some(at) = bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(u8::is_ascii_digit))
        .map(|p| from + p)
    {
        // the digits here and right after; with no letter on either side (amounts, codes,
        // dates: most digits) they take part in no such word
        let digits_end = bytes
            .get(at..)
            .and_then(|b| b.iter().position(|b| !b.is_ascii_digit()))
            .map_or(bytes.len(), |p| at + p);
        let letter_at =
            |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_alphabetic);
        if !letter_at(at.checked_sub(1)) && !letter_at(Some(digits_end)) {
            from = digits_end;
            continue;
        }
        let alnum = |b: &u8| b.is_ascii_alphanumeric();
        let start =
            bytes.get(..at).and_then(|b| b.iter().rposition(|b| !alnum(b))).map_or(0, |p| p + 1);
        let end = bytes
            .get(at..)
            .and_then(|b| b.iter().position(|b| !alnum(b)))
            .map_or(bytes.len(), |p| at + p);
        from = end.max(at + 1);
        // a run inside a longer word of another script (`été2A`) is not a word of its own
        if !at_word_boundaries(text, start, end) {
            continue;
        }
        let word = bytes.get(start..end).unwrap_or_default();
        let letters = word.iter().filter(|b| b.is_ascii_alphabetic()).count();
        let digits = word.len() - letters;
        let lookalike =
            word.iter().all(|&b| b.is_ascii_alphabetic() || leet_letter(b, b'i').is_some());
        // a digit between two letters: `5GB` and `10am` are sizes and times
        let inside = word.windows(3).any(|w| {
            matches!(w, [a, d, b] if a.is_ascii_alphabetic() && d.is_ascii_digit() && b.is_ascii_alphabetic())
        });
        if letters >= 2 && digits <= letters && lookalike && inside {
            found.push(start..end);
        }
    }
    found
}

/// `text` with its opt-out instructions (`Reply STOP to opt out`, `Txt STOP to end`, `STOP
/// to unsubscribe`) and their help keyword (`Reply HELP for help`) blanked by spaces, byte
/// for byte; `None` when it has none. US carriers require both in every
/// application-to-person message, alerts and receipts included, so their "reply" is no ask.
pub(crate) fn blank_opt_out(text: &str) -> Option<String> {
    const VERBS: &[&str] = &["reply", "text", "txt", "send", "sms", "msg"];
    const AFTER: &[&str] =
        &["opt", "out", "optout", "unsubscribe", "end", "cancel", "quit", "stop"];
    const HELP_AFTER: &[&str] = &["for", "help", "info", "more", "information"];
    let lower = text.to_ascii_lowercase();
    if !lower.contains("stop") {
        return None;
    }
    // runs of ASCII letters with their byte offsets (a non-ASCII byte ends a run)
    let bytes = lower.as_bytes();
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        if i > start {
            if let Some(w) = lower.get(start..i) {
                words.push((start, w));
            }
        } else {
            i += 1;
        }
    }
    let mut spans: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, &(start, word)) in words.iter().enumerate() {
        let from = match i.checked_sub(1).and_then(|p| words.get(p)) {
            Some(&(verb_at, verb)) if VERBS.contains(&verb) => verb_at,
            _ => start,
        };
        let mut to = start + word.len();
        let next = |k: usize| words.get(i + k).copied();
        // "Reply HELP for help": only with its verb, in a text that also says how to stop
        if word == "help" && from < start {
            if next(1).is_some_and(|(_, w)| w == "for") {
                for k in 2..=3 {
                    match next(k) {
                        Some((at, w)) if HELP_AFTER.contains(&w) => to = at + w.len(),
                        _ => break,
                    }
                }
            }
            spans.push(from..to);
            continue;
        }
        if word != "stop" {
            continue;
        }
        if next(1).is_some_and(|(_, w)| w == "to") {
            for k in 2..=3 {
                match next(k) {
                    Some((at, w)) if AFTER.contains(&w) => to = at + w.len(),
                    _ => break,
                }
            }
        }
        // a bare "stop" is a footer only with its verb or its "to opt out"
        if from < start || to > start + word.len() {
            spans.push(from..to);
        }
    }
    if spans.is_empty() {
        return None;
    }
    let mut out = text.to_string();
    for span in spans {
        if let Some(part) = out.get(span.clone()) {
            let blank = " ".repeat(part.len());
            out.replace_range(span, &blank);
        }
    }
    Some(out)
}

/// A greeting before a stranger's opening question, in bytes: `Good morning, ` and no more.
pub(crate) const GREETING_MAX: usize = 24;

/// The name a text's opening question asks the recipient to be (`Hi, is this Michael?`,
/// `are u Johan?`), given the span of the question's words (`is this`); `None` unless the
/// words open the text (after a short greeting at most), are written in lower case after
/// their first letter (`Are You Interested?` is a headline) and are followed by one or two
/// capitalised words and a question mark. How wrong-number scams open.
pub(crate) fn asked_name(text: &str, question: std::ops::Range<usize>) -> Option<&str> {
    let before = text.get(..question.start)?;
    let greeting_only = before.len() <= GREETING_MAX
        && before.chars().all(|c| {
            c.is_alphabetic() || c.is_whitespace() || matches!(c, ',' | '.' | '!' | '¡' | '¿')
        });
    let asked = text.get(question.clone())?;
    let lower_after_first = asked.chars().skip(1).all(|c| !c.is_uppercase());
    if !greeting_only || !lower_after_first {
        return None;
    }
    let rest = text.get(question.end..)?;
    let name_start = question.end + (rest.len() - rest.trim_start().len());
    let mut end = name_start;
    for round in 0..2 {
        let word = text.get(end..)?.trim_start();
        let at = text.len() - word.len();
        let len: usize = word
            .chars()
            .take_while(|c| c.is_alphabetic() || matches!(c, '\'' | '-'))
            .map(char::len_utf8)
            .sum();
        let w = word.get(..len)?;
        let mut chars = w.chars();
        let capitalised = chars.next().is_some_and(char::is_uppercase)
            && chars.clone().next().is_some()
            && chars.all(|c| !c.is_uppercase());
        // a title (`Mr.`, `Ms.`, `Dr.`) before the name
        let title = round == 0 && len <= 3 && word.get(len..).is_some_and(|r| r.starts_with('.'));
        // a name has three letters at least (`Are you Ok?` asks no name)
        if !capitalised || len > 20 || (w.chars().count() < 3 && !title) {
            break;
        }
        end = at + len + usize::from(title);
    }
    let after = text.get(end..)?.trim_start();
    (end > name_start && (after.starts_with('?') || after.starts_with('？')))
        .then(|| text.get(name_start..end))
        .flatten()
}

/// Whether the messenger named at `at..at + len` of `folded` text is the way to reach the
/// sender ("add me on WhatsApp", "via Telegram", "WhatsApp: +44...", "whatsapp me") rather
/// than the sender: a name after a word that points to a channel, or followed by a colon, a
/// number, a link or "me"/"us". A name that opens the text ("WhatsApp: your account ...")
/// is the sender's.
pub(crate) fn names_a_channel(folded: &str, at: usize, len: usize) -> bool {
    /// Words before a messenger's name that make it the channel (folded, every language of
    /// the cue file that writes with spaces).
    const BEFORE: &[&str] = &[
        "on", "via", "through", "thru", "add", "by", "at", "in", "contact", "message", "text",
        "chat", "dm", "por", "en", "al", "pelo", "pela", "no", "na", "sur", "par", "uber", "per",
        "auf", "su", "tramite", "op", "lewat", "melalui", "di", "ke", "sa", "qua", "pa", "pe",
        // the sender's own handle: "my WhatsApp", "our Telegram", "my assistant's WhatsApp"
        "my", "our", "s", "mi", "mon", "mein", "mio", "mijn", "meu",
    ];
    let (Some(before), Some(after)) = (folded.get(..at), folded.get(at + len..)) else {
        return false;
    };
    let before = before.trim_end_matches(|c: char| !c.is_alphanumeric());
    if before.is_empty() {
        return false;
    }
    let previous = before.rsplit(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
    if BEFORE.contains(&previous) {
        return true;
    }
    let after = after.trim_start();
    after.starts_with([':', '+', '@'])
        || after.starts_with(|c: char| c.is_ascii_digit())
        || [PHONE_PLACEHOLDER.trim(), URL_PLACEHOLDER.trim(), "me ", "us "]
            .iter()
            .any(|w| after.starts_with(w))
        || after == "me"
        || after == "us"
}

/// `word` (one of [`leet_words`]) with its digits read as letters, `1` as `one`; in capitals
/// when the word's letters are all capitals. Same length, so byte offsets carry over.
pub(crate) fn unleet(word: &str, one: u8) -> String {
    let upper = word.bytes().filter(u8::is_ascii_alphabetic).all(|b| b.is_ascii_uppercase());
    word.bytes()
        .map(|b| match leet_letter(b, one) {
            Some(l) if upper => char::from(l.to_ascii_uppercase()),
            Some(l) => char::from(l),
            None => char::from(b),
        })
        .collect()
}

/// Stands in for a link (a real one, or a masked one such as `<URL>` or `[link]`) in the
/// text the model and the cue vocabulary read, so the model learns "has a link" rather than
/// domains, and anonymised reports look like live ones.
pub const URL_PLACEHOLDER: &str = " zzurl ";
/// Stands in for a phone number (written out, or masked as `<PHONE_NUMBER>`).
pub const PHONE_PLACEHOLDER: &str = " zzphone ";

/// What a text becomes before its words are read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Spliced {
    /// Links and phone numbers replaced by [`URL_PLACEHOLDER`] and [`PHONE_PLACEHOLDER`],
    /// other anonymisation tokens (`<NAMED_ENTITY>`, `<DATE_TIME>`) by a space.
    pub words: String,
    /// Links replaced by a space (for language detection).
    pub without_urls: String,
    /// The text holds a masked link (`<URL>`, `[link]`, `[enlace]`...).
    pub masked_link: bool,
    /// The text holds a masked phone number (`<PHONE_NUMBER>`, `[phone]`).
    pub masked_number: bool,
    /// The text holds a masked e-mail address (`<EMAIL_ADDRESS>`, `[email]`).
    pub masked_mail: bool,
    /// The text has no link written out and ends on a colon (`...renew via:`, `status:-`):
    /// whoever forwarded or anonymised it cut its link away. `words` then ends with
    /// [`URL_PLACEHOLDER`], as if the link were masked (`<URL>`), so the text model reads
    /// the text as it was sent.
    pub cut_link: bool,
}

/// What a masked token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Masked {
    Link,
    Number,
    Mail,
    Other,
}

/// Tokens that anonymised or forwarded reports put where a link or number was (lowercase;
/// matched without ASCII case).
const MASKED: &[(&str, Masked)] = &[
    ("<url>", Masked::Link),
    ("<link>", Masked::Link),
    ("[url]", Masked::Link),
    ("[link]", Masked::Link),
    ("(link)", Masked::Link),
    ("{url}", Masked::Link),
    ("{link}", Masked::Link),
    ("[enlace]", Masked::Link),
    ("[lien]", Masked::Link),
    ("[tautan]", Masked::Link),
    ("[collegamento]", Masked::Link),
    ("<phone_number>", Masked::Number),
    ("<phone>", Masked::Number),
    ("[phone]", Masked::Number),
    ("[phone number]", Masked::Number),
    ("[number]", Masked::Number),
    ("<email_address>", Masked::Mail),
    ("<email>", Masked::Mail),
    ("[email]", Masked::Mail),
];

/// The masked token at the start of `rest` and its length: a known one, or any other
/// `<UPPER_SNAKE_CASE>` anonymisation tag (up to 32 bytes).
fn masked_at(rest: &[u8]) -> Option<(Masked, usize)> {
    for (token, kind) in MASKED {
        if rest.get(..token.len()).is_some_and(|r| r.eq_ignore_ascii_case(token.as_bytes())) {
            return Some((*kind, token.len()));
        }
    }
    if rest.first() != Some(&b'<') {
        return None;
    }
    let body = rest.iter().skip(1).take(33).take_while(|b| b.is_ascii_uppercase() || **b == b'_');
    let len = body.count();
    (len >= 3 && rest.get(len + 1) == Some(&b'>')).then_some((Masked::Other, len + 2))
}

/// Replaces the links (`urls`, byte spans into `text`), phone numbers (`numbers`) and masked
/// tokens of `text` as described on [`Spliced`]. Overlapping spans keep the first.
pub fn splice(
    text: &str,
    urls: impl Iterator<Item = std::ops::Range<usize>>,
    numbers: impl Iterator<Item = std::ops::Range<usize>>,
) -> Spliced {
    let bytes = text.as_bytes();
    let mut spans: Vec<(usize, usize, Masked)> = urls
        .map(|r| (r.start, r.end, Masked::Link))
        .chain(numbers.map(|r| (r.start, r.end, Masked::Number)))
        .collect();
    // memchr: this runs on every message, most of which hold no bracket at all
    let next_bracket = |from: usize| {
        let rest = bytes.get(from..)?;
        let a = memchr::memchr3(b'<', b'[', b'(', rest);
        let b = memchr::memchr(b'{', rest);
        let at = match (a, b) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(from + at)
    };
    let bracketed = next_bracket(0).is_some();
    let cut_link = !spans.iter().any(|&(_, _, kind)| kind == Masked::Link) && ends_on_colon(text);
    if spans.is_empty() && !bracketed {
        // nothing to replace (most ordinary messages)
        let mut words = text.to_string();
        if cut_link {
            words.push_str(URL_PLACEHOLDER);
        }
        return Spliced {
            words,
            without_urls: text.to_string(),
            masked_link: false,
            masked_number: false,
            masked_mail: false,
            cut_link,
        };
    }
    let mut masked_link = false;
    let mut masked_number = false;
    let mut masked_mail = false;
    // only texts with an opening bracket can hold a masked token
    if bracketed {
        let mut i = 0;
        while let Some(at) = next_bracket(i) {
            match bytes.get(at..).and_then(masked_at) {
                Some((kind, len)) => {
                    masked_link |= kind == Masked::Link;
                    masked_number |= kind == Masked::Number;
                    masked_mail |= kind == Masked::Mail;
                    spans.push((at, at + len, kind));
                    i = at + len;
                }
                None => i = at + 1,
            }
        }
    }
    spans.sort_unstable_by_key(|&(start, end, _)| (start, std::cmp::Reverse(end)));
    let mut words = String::with_capacity(text.len() + 16);
    let mut without_urls = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end, kind) in spans {
        if start < last {
            continue;
        }
        let (Some(between), true) = (text.get(last..start), text.is_char_boundary(end)) else {
            continue;
        };
        words.push_str(between);
        without_urls.push_str(between);
        match kind {
            Masked::Link => {
                words.push_str(URL_PLACEHOLDER);
                without_urls.push(' ');
            }
            Masked::Number => {
                words.push_str(PHONE_PLACEHOLDER);
                without_urls.push_str(text.get(start..end).unwrap_or(" "));
            }
            Masked::Mail | Masked::Other => {
                words.push(' ');
                without_urls.push(' ');
            }
        }
        last = end;
    }
    let rest = text.get(last..).unwrap_or("");
    words.push_str(rest);
    without_urls.push_str(rest);
    if cut_link {
        words.push_str(URL_PLACEHOLDER);
    }
    Spliced { words, without_urls, masked_link, masked_number, masked_mail, cut_link }
}

/// Whether `text` ends on a colon, spaces and dashes aside (`via:`, `status:-`).
fn ends_on_colon(text: &str) -> bool {
    text.trim_end_matches(|c: char| c.is_whitespace() || c == '-').ends_with(':')
}

/// Whether `text` holds an e-mail address (`name@host.tld`): a way to write to the sender.
pub(crate) fn has_mail_address(text: &str) -> bool {
    let bytes = text.as_bytes();
    let local = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+');
    let host = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-');
    memchr::memchr_iter(b'@', bytes).any(|at| {
        let before = bytes.get(..at).and_then(|b| b.last()).is_some_and(local);
        let domain: Vec<u8> = bytes
            .get(at + 1..)
            .unwrap_or_default()
            .iter()
            .copied()
            .take(255)
            .take_while(host)
            .collect();
        let domain = domain.strip_suffix(b".").unwrap_or(&domain);
        before
            && domain.iter().position(|&b| b == b'.').is_some_and(|dot| dot > 0)
            && domain
                .rsplit(|&b| b == b'.')
                .next()
                .is_some_and(|tld| tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic))
    })
}

/// Bit `i` of the first mask set when `chunk[i]` (at most 64 bytes) is an ASCII letter or
/// digit, of the second when it is a digit: eight bytes at a time with range tests on the
/// whole word (about 2 instructions a byte against 10 for a test per byte, which the
/// compiler does not vectorise by itself).
fn ascii_word_masks(chunk: &[u8]) -> (u64, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x80 * ONES;
    // one bit per byte, byte 0 lowest
    let pack = |tops: u64| ((tops >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
    let (mut words, mut digits) = (0, 0);
    for (i, eight) in chunk.chunks(8).enumerate() {
        let x = match <[u8; 8]>::try_from(eight) {
            Ok(word) => u64::from_le_bytes(word),
            Err(_) => {
                let mut word = [0u8; 8];
                for (w, &b) in word.iter_mut().zip(eight) {
                    *w = b;
                }
                u64::from_le_bytes(word)
            }
        };
        let low7 = x & (0x7F * ONES);
        // the top bit of each byte: at least the bound (no byte carries into the next)
        let at_least = |bound: u64, v: u64| v + (0x80 - bound) * ONES;
        let digit = at_least(0x30, low7) & !at_least(0x3A, low7) & !x & TOPS;
        let small = low7 | (0x20 * ONES);
        let letter = at_least(0x61, small) & !at_least(0x7B, small) & !x & TOPS;
        words |= pack(digit | letter) << (8 * i);
        digits |= pack(digit) << (8 * i);
    }
    (words, digits)
}

/// Calls `f(start, end, digits)` for each run of ASCII letters and digits of `bytes` (the
/// words of an ASCII text, [`is_word_char`] being those there), in order, with the number
/// of digits in it. Found from the edges of bit masks, 64 bytes at a time: a test per byte
/// mispredicted its branch at most word edges, two a word.
pub(crate) fn ascii_word_runs(bytes: &[u8], mut f: impl FnMut(usize, usize, usize)) {
    let (mut start, mut in_word) = (0, false);
    // digits before the current block, and before the current run's start
    let (mut digits_before, mut at_start) = (0, 0);
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let (mask, digit_mask) = ascii_word_masks(chunk);
        let digits_to =
            |k: u32| digits_before + (digit_mask & ((1u64 << k) - 1)).count_ones() as usize;
        // an edge where a byte's kind differs from the one before it
        let mut edges = mask ^ (mask << 1 | u64::from(in_word));
        if chunk.len() < 64 {
            edges &= (1 << chunk.len()) - 1;
        }
        while edges != 0 {
            let k = edges.trailing_zeros();
            let at = block * 64 + k as usize;
            if in_word {
                f(start, at, digits_to(k) - at_start);
            } else {
                (start, at_start) = (at, digits_to(k));
            }
            in_word = !in_word;
            edges &= edges - 1;
        }
        in_word = mask >> (chunk.len() - 1) & 1 != 0;
        digits_before += digit_mask.count_ones() as usize;
    }
    if in_word {
        f(start, bytes.len(), digits_before - at_start);
    }
}

/// True when `c` can sit inside a word (letters and digits of any script, and the vowel and
/// tone marks [`fold`] keeps).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || (!c.is_ascii() && kept_mark(c))
}

/// True when `c` belongs to a script written without spaces between words (Thai, Lao,
/// Khmer, Myanmar, Chinese, Japanese): phrases in it cannot wait for a word start.
pub(crate) fn spaceless(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0E00..=0x0EFF | 0x1000..=0x109F | 0x1780..=0x17FF | 0x3040..=0x30FF | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
    )
}

/// True when a phrase that ends before `after` (in folded text) would cut a syllable of a
/// script written without spaces: the next char is a mark of the phrase's last letter, or a
/// Thai or Lao vowel written after it. No dictionary needed, and most matches inside longer
/// unrelated words fail it.
pub(crate) fn cuts_syllable_after(after: Option<char>) -> bool {
    after.is_some_and(|c| {
        matches!(
            c,
            '\u{0E30}'
                | '\u{0E32}'
                | '\u{0E33}'
                | '\u{0E45}'
                | '\u{0EB0}'
                | '\u{0EB2}'
                | '\u{0EB3}'
        ) || (!c.is_ascii() && kept_mark(c))
    })
}

/// True when a phrase that starts after `before` would cut a syllable: Thai and Lao vowels
/// written before their consonant (`เ`, `แ`, `โ`, `ใ`, `ไ`) belong to the next letter.
pub(crate) fn cuts_syllable_before(before: Option<char>) -> bool {
    before.is_some_and(|c| matches!(c, '\u{0E40}'..='\u{0E44}' | '\u{0EC0}'..='\u{0EC4}'))
}

/// True when `haystack[start..end]` is delimited by non-word characters on both sides.
pub(crate) fn at_word_boundaries(haystack: &str, start: usize, end: usize) -> bool {
    let before = haystack.get(..start).and_then(|s| s.chars().next_back());
    let after = haystack.get(end..).and_then(|s| s.chars().next());
    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The eight-at-a-time masks are the tests of each byte.
        #[test]
        fn word_masks_test_each_byte(chunk in proptest::collection::vec(proptest::num::u8::ANY, 0..=64)) {
            let (words, digits) = ascii_word_masks(&chunk);
            for (i, b) in chunk.iter().enumerate() {
                proptest::prop_assert_eq!(words >> i & 1 == 1, b.is_ascii_alphanumeric(), "{}", b);
                proptest::prop_assert_eq!(digits >> i & 1 == 1, b.is_ascii_digit(), "{}", b);
            }
            let past = u32::try_from(chunk.len()).unwrap_or(64);
            proptest::prop_assert_eq!(words.checked_shr(past).unwrap_or(0), 0);
        }

        /// The runs are the words of a scan char by char, with their digits, across blocks.
        #[test]
        fn ascii_word_runs_are_the_words(text in "[a-zA-Z0-9 .,:/%-]{0,200}") {
            let mut runs = Vec::new();
            ascii_word_runs(text.as_bytes(), |s, e, d| runs.push((s, e, d)));
            let mut expect = Vec::new();
            let mut start = None;
            for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
                match (is_word_char(c), start) {
                    (true, None) => start = Some(at),
                    (false, Some(s)) => {
                        let digits = text[s..at].bytes().filter(u8::is_ascii_digit).count();
                        expect.push((s, at, digits));
                        start = None;
                    }
                    _ => {}
                }
            }
            proptest::prop_assert_eq!(runs, expect);
        }
    }

    fn check(input: &str, expect: &str) {
        assert_eq!(fold(input), expect, "fold({input:?})");
        assert_eq!(fold(expect), expect, "fold is idempotent on {expect:?}");
    }

    #[test]
    fn folding() {
        check("PostNord", "postnord");
        check("Bekräfta din identitet", "bekrafta din identitet");
        check("Réglez l’amende", "reglez l'amende");
        check("Straße", "strasse");
        check("STRAẞE", "strasse");
        check("ﬁnances ＡＢＣ", "finances abc");
        check("Ærø Øst", "aero ost");
        check("identità", "identita");
        // Thai vowel and tone marks are letters: kept, in canonical order (a tone mark
        // typed before the vowel below its consonant is the same word)
        check("ด่วน", "ด่วน");
        check("กุ้ง", "กุ้ง");
        check("ก\u{0E49}\u{0E38}ง", "กุ้ง");
        check("ทำ", "ท\u{0E4D}\u{0E32}");
        check("नमस्ते", "नमस्ते");
        // zero-width characters inside a word
        check("ต่อเนื\u{FEFF}่อง", "ต่อเนื่อง");
        check("ver\u{200B}ify", "verify");
    }

    /// The definition: NFKD of the whole text, then the same per-char mapping.
    fn fold_reference(text: &str) -> String {
        if text.is_ascii() {
            return text.to_ascii_lowercase();
        }
        let mut out = String::with_capacity(text.len());
        for c in text.nfkd() {
            if (is_combining_mark(c) && !kept_mark(c)) || invisible(c) {
                continue;
            }
            match c {
                '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
                '\u{00DF}' | '\u{1E9E}' => out.push_str("ss"),
                '\u{00F8}' | '\u{00D8}' => out.push('o'),
                '\u{00E6}' | '\u{00C6}' => out.push_str("ae"),
                '\u{0153}' | '\u{0152}' => out.push_str("oe"),
                '\u{0142}' | '\u{0141}' => out.push('l'),
                '\u{0111}' | '\u{0110}' => out.push('d'),
                _ => out.extend(c.to_lowercase()),
            }
        }
        if out.is_ascii() || out.nfkd().eq(out.chars()) { out } else { fold_reference(&out) }
    }

    #[test]
    fn char_by_char_folding_agrees_with_the_definition() {
        // every char alone and after a non-ASCII letter, and runs of marks in any order
        for cp in 0..0x3_0000u32 {
            let Some(c) = char::from_u32(cp) else { continue };
            for text in
                [format!("é{c}"), format!("{c}\u{0323}\u{0301}x"), format!("a\u{0301}{c}\u{0323}")]
            {
                assert_eq!(fold(&text), fold_reference(&text), "U+{cp:04X} in {text:?}");
            }
        }
        for text in
            ["Bekräfta din identitet", "İSTANBUL ǅ ﬁ ＡＢＣ", "Ærø `x` é\u{0323}\u{0301}", "ᾼ ᾈ ΐ"]
        {
            assert_eq!(fold(text), fold_reference(text), "{text:?}");
        }
    }

    #[test]
    fn masked_tokens_are_spliced() {
        let s = splice(
            "Hi <NAMED_ENTITY>, pay at <URL> or call <PHONE_NUMBER> [link]",
            [].into_iter(),
            [].into_iter(),
        );
        assert_eq!(s.words, "Hi  , pay at  zzurl  or call  zzphone   zzurl ");
        assert!(s.masked_link && s.masked_number);
        let s = splice("a <b> c <AB> (not a link)", [].into_iter(), [].into_iter());
        assert_eq!(s.words, "a <b> c <AB> (not a link)");
        assert!(!s.masked_link && !s.masked_number);
        let text = "go https://x.top/a now +32470123456";
        let s = splice(text, std::iter::once(3..18), std::iter::once(23..35));
        assert_eq!(s.words, "go  zzurl  now  zzphone ");
        assert_eq!(s.without_urls, "go   now +32470123456");
    }

    #[test]
    fn a_text_ending_on_a_colon_had_its_link_cut_away() {
        let check = |text: &str, url: Option<std::ops::Range<usize>>, expect: bool| {
            let s = splice(text, url.into_iter(), [].into_iter());
            assert_eq!(s.cut_link, expect, "{text:?}");
            assert_eq!(s.words.ends_with(URL_PLACEHOLDER), expect || text.ends_with("<URL>"));
        };
        check("Renew your membership via:", None, true);
        check("Check the status:- ", None, true);
        check("Hi <NAMED_ENTITY>, update here:", None, true);
        check("See you at 10:30", None, false);
        check("Details: <URL> or call:", None, true);
        check("Open https://x.top/a then:", Some(5..20), false);
        check("", None, false);
    }

    proptest::proptest! {
        #[test]
        fn splice_never_panics(text in "((<URL>|<A_B>|\\[link\\]|[<\\[({]|\\PC){0,12})", a in 0usize..40, b in 0usize..40) {
            let (lo, hi) = (a.min(b), a.max(b));
            let s = splice(&text, std::iter::once(lo..hi), std::iter::once(hi..hi + 2));
            // masked tokens never survive into what the model and the cues read
            proptest::prop_assert!(!s.words.contains("<URL>") && !s.words.contains("[link]"));
        }
    }

    proptest::proptest! {
        #[test]
        fn asked_names_never_panic_and_come_from_the_text(text in "(\\PC|[A-Za-z?.¿ ]){0,40}", a in 0usize..48, b in 0usize..48) {
            let (lo, hi) = (a.min(b), a.max(b));
            if let Some(name) = asked_name(&text, lo..hi) {
                proptest::prop_assert!(!name.is_empty() && text.contains(name));
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn leet_words_are_ascii_words_whose_spelling_keeps_offsets(text in "(\\PC|[a-z0-7 ]){0,24}") {
            for r in leet_words(&text) {
                let word = text.get(r.clone());
                proptest::prop_assert!(word.is_some_and(|w| w.is_ascii() && !w.is_empty()));
                let word = word.unwrap_or_default();
                proptest::prop_assert_eq!(unleet(word, b'l').len(), word.len());
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn one_char_folds_to_the_length_fold_gives(c in proptest::char::any()) {
            let mut buf = String::new();
            let mut one = [0u8; 4];
            proptest::prop_assert_eq!(folded_len(c, &mut buf), fold(c.encode_utf8(&mut one)).len());
        }
    }

    proptest::proptest! {
        #[test]
        fn opt_out_blanking_only_turns_bytes_into_spaces(text in "((Reply|Txt|STOP|HELP|stop|help|to|for|opt|out|info| |,|\\.)|\\PC){0,16}") {
            if let Some(blanked) = blank_opt_out(&text) {
                proptest::prop_assert_eq!(blanked.len(), text.len());
                let kept = blanked.bytes().zip(text.bytes()).all(|(b, t)| b == t || b == b' ');
                proptest::prop_assert!(kept, "{:?} -> {:?}", text, blanked);
            }
        }
    }

    #[test]
    fn messengers_named_as_the_way_to_reach_the_sender() {
        // (folded text, the messenger's word in it, named as the channel) -- written for this test
        fn check(text: &str, word: &str, expect: bool) {
            let at = text.find(word).unwrap_or(0);
            assert_eq!(names_a_channel(text, at, word.len()), expect, "{text:?}");
        }
        check("contact us on whatsapp for details", "whatsapp", true);
        check("add whatsapp: zzurl", "whatsapp", true);
        check("interested? whatsapp me now", "whatsapp", true);
        check("escribenos por whatsapp +34 600", "whatsapp", true);
        check("send your cv to telegram @hr_team", "telegram", true);
        check("please add my assistant rama's whatsapp for tips", "whatsapp", true);
        // the sender, or its account
        check("whatsapp: your account will be suspended", "whatsapp", false);
        check("[telegram] your code is 4821", "telegram", false);
        check("your whatsapp account was used on a new device", "whatsapp", false);
        check("", "whatsapp", false);
    }

    #[test]
    fn mail_addresses() {
        // (text, holds an address) -- written for this test
        fn check(text: &str, expect: bool) {
            assert_eq!(has_mail_address(text), expect, "{text:?}");
        }
        check("write to claims.office@gmail.com today", true);
        check("contact: j-doe+sms@mail.example.co.uk.", true);
        check("meet @ 5pm at the cafe", false);
        check("follow us @brandname on instagram", false);
        check("me@localhost", false);
        check("a@b.c1", false);
        check("@", false);
        check("", false);
    }

    #[test]
    fn opt_out_instructions() {
        // (text, the footer's parts blanked in it; none: nothing to blank)
        fn check(text: &str, footer: &[&str]) {
            let expect = (!footer.is_empty()).then(|| {
                footer.iter().fold(text.to_string(), |t, f| t.replacen(f, &" ".repeat(f.len()), 1))
            });
            assert_eq!(blank_opt_out(text), expect, "{text:?}");
        }
        check("Balance $12. Reply STOP to opt out", &["Reply STOP to opt out"]);
        check("Txt STOP to 80082", &["Txt STOP"]);
        check("Msg&data rates may apply. STOP to end", &["STOP to end"]);
        check("Reply STOP TO UNSUBSCRIBE é", &["Reply STOP TO UNSUBSCRIBE"]);
        check(
            "Your order is ready. Reply HELP for help, STOP to opt out",
            &["Reply HELP for help", "STOP to opt out"],
        );
        check(
            "Text HELP for more info. Txt STOP to quit",
            &["Text HELP for more info", "Txt STOP to quit"],
        );
        // a stop or help that is not an opt-out
        check("Bus stop at 5, see you", &[]);
        check("Stop! Your card is blocked", &[]);
        check("nonstop deals", &[]);
        check("", &[]);
        check("Reply HELP and we call you back", &[]);
        check("Please help, stop by later", &[]);
    }

    #[test]
    fn names_asked_for_by_an_opening_question() {
        // (text, its question words, the name asked for) -- written for this test
        fn check(text: &str, question: &str, expect: Option<&str>) {
            let at = text.find(question).unwrap_or(text.len());
            let got = asked_name(text, at..at + question.len().min(text.len() - at));
            assert_eq!(got, expect, "{text:?}");
        }
        check("Hi, is this Michael? It's Jenny from the gym", "is this", Some("Michael"));
        check("are u Johan? we met last week", "are u", Some("Johan"));
        check("Good morning! Is this Mary Ann ?", "Is this", Some("Mary Ann"));
        check("Hello, are you Ms. Rachel? I am Lily", "are you", Some("Ms. Rachel"));
        check("Good evening. Is this Paul? Sorry to bother", "Is this", Some("Paul"));
        check("Hola, ¿eres Lucía?", "eres", Some("Lucía"));
        // not a name, not a question, not the opening, a headline
        check("Is this OK? Call me", "Is this", None);
        check("Are you ready? Big sale today", "Are you", None);
        check("Is this Michael from the gym?", "is this", None);
        check("Is this Michael", "Is this", None);
        check("Dear customer, your card is blocked. Is this John?", "Is this", None);
        check("Are You Interested? Reply YES", "Are You", None);
        check("Are you Ok? Call me", "Are you", None);
        check("", "is this", None);
    }

    #[test]
    fn words_with_digits_for_letters() {
        // (text, the words found, each read with `1` as `i`) -- written for this test
        fn check(text: &str, expect: &[&str]) {
            let got: Vec<String> = leet_words(text)
                .into_iter()
                .filter_map(|r| text.get(r))
                .map(|w| unleet(w, b'i'))
                .collect();
            assert_eq!(got, expect, "{text:?}");
        }
        check("Dear V0DAF0NE Customer", &["VODAFONE"]);
        check("your card is bl0cked", &["blocked"]);
        check("FL1PKART, P4YPAL: W1NNER!", &["FLIPKART", "PAYPAL", "WINNER"]);
        // codes, amounts, dates, sizes and ordinals are not words in disguise
        check("COVID19 Rs500 4G 5GB 2nd 10am 2O24 H29Q", &[]);
        // a run inside a word of another script is not a word of its own
        check("été2A1B xéA1B", &[]);
        check("", &[]);
        // offsets carry over: same length
        assert_eq!(unleet("A1RTEL", b'l'), "ALRTEL");
    }

    #[test]
    fn boundaries() {
        for (hay, needle, expect) in [
            ("call ING now", "ING", true),
            ("booking", "king", false),
            ("ups", "ups", true),
            ("x-ups.", "ups", true),
            ("éups", "ups", false),
        ] {
            let start = hay.find(needle).unwrap_or(0);
            assert_eq!(
                at_word_boundaries(hay, start, start + needle.len()),
                expect,
                "{hay} {needle}"
            );
        }
    }
}
