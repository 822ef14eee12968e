//! Defanging (safe display) and refanging (undo evasive spellings before URL finding).
//!
//! The refang catalogue follows the forms analysts and smishers use (iocextract's list,
//! reimplemented): `hxxp(s)`, `[.]` `(.)` `{.}` `[dot]` `\.`, partial brackets `example[.com`,
//! `[:]`, `[/]`, `[://]`, `:\\`, `http__`, `[@]`, spaces around a dot (`csam . be`),
//! ` dot `, full-width dots and zero-width characters inside a token.
//! Written by hand because no crate does it with a byte map back to the original text,
//! which extraction needs for its spans.

use std::borrow::Cow;

#[cfg(test)]
mod reference;

/// The refanged text plus, for every output byte, the original byte range it came from.
pub(crate) struct Refanged {
    pub(crate) text: String,
    /// `map[i] = (start, end)` in the original text for output byte `i`.
    map: Vec<(u32, u32)>,
}

impl Refanged {
    /// Maps an output span back to the original text.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        let s = self.map.get(start).map_or(0, |m| m.0 as usize);
        let e = if end == 0 { s } else { self.map.get(end - 1).map_or(s, |m| m.1 as usize) };
        (s, e.max(s))
    }
}

/// Undoes defanged and evasive URL spellings. Borrowed when nothing changed.
///
/// Applied until nothing changes (a few passes at most), so that nested forms such as
/// `(\u{200B}@)` end fully refanged and `refang` is idempotent.
pub fn refang(text: &str) -> Cow<'_, str> {
    let Some(first) = refang_mapped(text) else { return Cow::Borrowed(text) };
    let mut current = first.text;
    for _ in 0..MAX_REFANG_PASSES {
        match refang_mapped(&current) {
            Some(next) => current = next.text,
            None => break,
        }
    }
    Cow::Owned(current)
}

/// Each pass removes at least one defang marker, and markers are not created by a pass
/// except in contrived nestings; this bounds the work on hostile input.
const MAX_REFANG_PASSES: usize = 8;

/// Builder that copies lazily: nothing is allocated until the first substitution.
struct Out<'a> {
    src: &'a str,
    /// Bytes of `src` before this position are accounted for.
    done: usize,
    owned: Option<Refanged>,
}

impl<'a> Out<'a> {
    fn ensure(&mut self) -> &mut Refanged {
        let src = self.src;
        let done = self.done;
        self.owned.get_or_insert_with(|| {
            let mut text = String::with_capacity(src.len());
            text.push_str(&src[..done]);
            let map = (0..done as u32).map(|i| (i, i + 1)).collect();
            Refanged { text, map }
        })
    }
    /// Copies `src[self.done..upto]` unchanged.
    fn copy_to(&mut self, upto: usize) {
        if upto <= self.done {
            return;
        }
        if let Some(r) = self.owned.as_mut() {
            r.text.push_str(&self.src[self.done..upto]);
            r.map.extend((self.done as u32..upto as u32).map(|i| (i, i + 1)));
        }
        self.done = upto;
    }
    /// Replaces `src[start..end]` with `with` (the caller has copied up to `start`).
    fn replace(&mut self, start: usize, end: usize, with: &str) {
        self.copy_to(start);
        let r = self.ensure();
        r.text.push_str(with);
        r.map.extend(std::iter::repeat_n((start as u32, end as u32), with.len()));
        self.done = end;
    }
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80
}

fn is_lower_label_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// Case-insensitive ASCII prefix test.
fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// Whether `label` is a top-level domain in the ICANN section of the public suffix list.
pub(crate) fn is_icann_tld(label: &[u8]) -> bool {
    if label.is_empty() || label.len() > 63 {
        return false;
    }
    let mut buf = [0u8; 63];
    let lower = &mut buf[..label.len()];
    lower.copy_from_slice(label);
    lower.make_ascii_lowercase();
    matches!(
        psl::suffix(lower),
        Some(s) if s.typ() == Some(psl::Type::Icann) && s.as_bytes() == &*lower
    )
}

/// What follows a spaced dot must look like the rest of a domain: a lowercase label that is
/// a TLD (then a path, a space or the end), or a label followed directly by `.label` or `/`,
/// or by another spaced dot (`www . csam . be`).
fn spaced_dot_right_ok(bytes: &[u8], at: usize, depth: u8) -> bool {
    let rest = &bytes[at..];
    let n = rest.iter().take_while(|&&b| is_lower_label_byte(b)).count();
    if n == 0 || rest[0] == b'-' || depth > 3 {
        return false;
    }
    let after = rest.get(n).copied();
    // a label directly followed by more letters (uppercase, non-ASCII) is a word, not a domain
    if after.is_some_and(|b| b.is_ascii_alphabetic() || b >= 0x80) {
        return false;
    }
    let ends_here = matches!(after, None | Some(b' ' | b'/' | b',' | b'!' | b'?' | b')' | b'\n'))
        || (after == Some(b'.') && !rest.get(n + 1).is_some_and(|&b| is_label_byte(b)));
    if ends_here && is_icann_tld(&rest[..n]) {
        return true;
    }
    match after {
        Some(b'/') => true,
        Some(b'.') => rest.get(n + 1).is_some_and(|&b| is_lower_label_byte(b)),
        Some(b' ') => {
            let spaces = rest[n..].iter().take_while(|&&b| b == b' ').count();
            let trailing = rest
                .get(n + spaces + 1..)
                .map_or(0, |r| r.iter().take_while(|&&b| b == b' ').count());
            spaces <= 3
                && rest.get(n + spaces) == Some(&b'.')
                && trailing > 0
                && trailing <= 3
                && spaced_dot_right_ok(bytes, at + n + spaces + 1 + trailing, depth + 1)
        }
        _ => false,
    }
}

/// Zero-width and invisible characters smishers put inside links.
fn invisible_len(rest: &str) -> usize {
    match rest.chars().next() {
        Some(c @ ('\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')) => {
            c.len_utf8()
        }
        _ => 0,
    }
}

/// Full-width and ideographic full stops, which IDNA maps to `.`.
fn wide_dot_len(rest: &str) -> usize {
    match rest.chars().next() {
        Some(c @ ('\u{FF0E}' | '\u{3002}' | '\u{FF61}')) => c.len_utf8(),
        _ => 0,
    }
}

/// Bytes on which the scan of [`refang_mapped`] can do nothing: no rule starts at them and
/// they do not end a token. Non-ASCII lead bytes other than those of the wide dots and
/// invisible characters (`C2`, `E2`, `E3`, `EF`) and continuation bytes are inert too.
static INERT: [bool; 256] = {
    let mut t = [true; 256];
    let active = b"[({.\\:hH/ \t\n\x0c\r";
    let mut k = 0;
    while k < active.len() {
        t[active[k] as usize] = false;
        k += 1;
    }
    t[0xC2] = false;
    t[0xE2] = false;
    t[0xE3] = false;
    t[0xEF] = false;
    t
};

/// The bytes that are not [`INERT`], found 64 at a time: a table look-up per byte into a
/// bit mask, then its lowest set bit. A loop that tested and skipped each byte
/// mispredicted its branch at most word edges (spaces are not inert): two a word.
struct Active<'a> {
    bytes: &'a [u8],
    /// `mask` bit `k` is set when `bytes[base + k]` is not inert.
    base: usize,
    mask: u64,
    filled: bool,
}

impl Active<'_> {
    /// The first byte at or after `i` that is not inert (the length if none).
    fn next(&mut self, mut i: usize) -> usize {
        loop {
            let Some(block) = self.bytes.get(i..).filter(|b| !b.is_empty()) else {
                return self.bytes.len();
            };
            if !self.filled || i < self.base || i >= self.base + 64 {
                self.base = i;
                self.mask = block
                    .iter()
                    .take(64)
                    .enumerate()
                    .fold(0, |m, (k, &b)| m | u64::from(!INERT[usize::from(b)]) << k);
                self.filled = true;
            }
            let ahead = self.mask >> (i - self.base);
            if ahead != 0 {
                return i + ahead.trailing_zeros() as usize;
            }
            i = self.base + 64;
        }
    }
}

/// Refangs `text`, returning `None` when nothing needed changing.
///
/// Most texts have no marker at all: runs of inert bytes (letters, digits, most
/// punctuation) are skipped 64 at a time ([`Active`]), so the rules below run only at the
/// few bytes where one can start.
pub(crate) fn refang_mapped(text: &str) -> Option<Refanged> {
    let bytes = text.as_bytes();
    let mut out = Out { src: text, done: 0, owned: None };
    let mut i = 0;
    // inside a token that started with `scheme://`: spaced dots and `/` may be one-sided
    let mut in_url = false;
    let mut active = Active { bytes, base: 0, mask: 0, filled: false };
    loop {
        i = active.next(i);
        let Some(&b) = bytes.get(i) else { break };
        let after_colon = |at: usize| {
            bytes[..at].ends_with(b":")
                || bytes[..at].ends_with(b"[:]")
                || bytes[..at].ends_with(b"(:)")
        };
        if b == b'/' && bytes.get(i + 1) == Some(&b'/') && after_colon(i) {
            in_url = true;
        }
        let prev = if i > 0 { bytes[i - 1] } else { b' ' };
        let rest = &bytes[i..];
        match b {
            b'[' | b'(' | b'{' => {
                let close = match b {
                    b'[' => b']',
                    b'(' => b')',
                    _ => b'}',
                };
                let inner = &rest[1..];
                let inner_len = [&b"."[..], b"dot", b":", b"/", b"://", b"@", b":/", b"//"]
                    .iter()
                    .filter(|p| starts_with_ci(inner, p) && inner.get(p.len()) == Some(&close))
                    .map(|p| p.len())
                    .max();
                if let Some(n) = inner_len {
                    let inner_text = &text[i + 1..i + 1 + n];
                    let with =
                        if inner_text.eq_ignore_ascii_case("dot") { "." } else { inner_text };
                    out.replace(i, i + n + 2, with);
                    i += n + 2;
                    continue;
                }
                // partial bracket: `example[.com`
                if b == b'['
                    && rest.get(1) == Some(&b'.')
                    && is_label_byte(prev)
                    && rest.get(2).is_some_and(|&c| is_label_byte(c))
                {
                    out.replace(i, i + 2, ".");
                    i += 2;
                    continue;
                }
            }
            b'.' if rest.get(1) == Some(&b']')
                && is_label_byte(prev)
                && rest.get(2).is_some_and(|&c| is_label_byte(c)) =>
            {
                out.replace(i, i + 2, ".");
                i += 2;
                continue;
            }
            b'.' if rest.get(1) == Some(&b' ') && is_label_byte(prev) => {
                // `mycsam-login. com/be`: a space after the dot. In running text that is a
                // sentence end, so only inside a `scheme://` token, before a path, or after
                // `www.`
                let spaces = rest[1..].iter().take_while(|&&c| c == b' ').count();
                let right = i + 1 + spaces;
                let label = bytes[right..].iter().take_while(|&&c| is_lower_label_byte(c)).count();
                let after = bytes.get(right + label).copied();
                let token_start =
                    bytes[..i].iter().rposition(u8::is_ascii_whitespace).map_or(0, |p| p + 1);
                let www = starts_with_ci(&bytes[token_start..i], b"www.");
                let tld = label >= 2 && is_icann_tld(&bytes[right..right + label]);
                let word_follows = after.is_some_and(|c| c.is_ascii_alphabetic() || c >= 0x80);
                if spaces <= 3 && tld && !word_follows && (after == Some(b'/') || in_url || www) {
                    out.replace(i, right, ".");
                    i = right;
                    continue;
                }
            }
            b'\\'
                if rest.get(1) == Some(&b'.')
                    && is_label_byte(prev)
                    && rest.get(2).is_some_and(|&c| is_label_byte(c)) =>
            {
                out.replace(i, i + 2, ".");
                i += 2;
                continue;
            }
            b':' if rest.starts_with(b":\\\\") || rest.starts_with(b":\\/") => {
                out.replace(i, i + 3, "://");
                i += 3;
                continue;
            }
            b'h' | b'H' if !prev.is_ascii_alphanumeric() => {
                // hxxp, hXXp, hxtp, htxp, h**p, with optional s, then a scheme separator
                let mid = rest.get(1..3).unwrap_or_default();
                let fanged = mid.eq_ignore_ascii_case(b"xx")
                    || mid.eq_ignore_ascii_case(b"xt")
                    || mid.eq_ignore_ascii_case(b"tx")
                    || mid == b"**";
                let is_http = mid.eq_ignore_ascii_case(b"tt");
                if (fanged || is_http) && rest.get(3).is_some_and(|c| c.eq_ignore_ascii_case(&b'p'))
                {
                    let s = rest.get(4).is_some_and(|c| c.eq_ignore_ascii_case(&b's'));
                    let after = i + 4 + usize::from(s);
                    let sep = &bytes[after..];
                    let sep_ok =
                        sep.starts_with(b":") || sep.starts_with(b"[:") || sep.starts_with(b"(:");
                    let underscores =
                        sep.starts_with(b"__") && sep.get(2).is_some_and(|&c| is_label_byte(c));
                    if fanged && (sep_ok || underscores) {
                        out.replace(i, after, if s { "https" } else { "http" });
                        i = after;
                        if underscores {
                            out.replace(i, i + 2, "://");
                            i += 2;
                        }
                        continue;
                    }
                    if is_http && underscores {
                        out.copy_to(after);
                        out.replace(after, after + 2, "://");
                        i = after + 2;
                        continue;
                    }
                }
            }
            b' ' if is_label_byte(prev) && i > 0 => {
                // `csam . be`, `csam .be`, `csam dot be`
                let spaces = rest.iter().take_while(|&&c| c == b' ').count();
                let after_sp = &rest[spaces..];
                // every rule below needs one of these after the spaces (most spaces are
                // between words)
                if !matches!(after_sp.first(), Some(b'.' | b'd' | b'D' | b'[' | b'(' | b'{' | b'/'))
                {
                    // a space ends the token, as below
                    in_url = false;
                    i += 1;
                    continue;
                }
                let dot_len = if after_sp.first() == Some(&b'.') {
                    1
                } else if after_sp.starts_with(b"dot ") || after_sp.starts_with(b"DOT ") {
                    3
                } else {
                    // `csam [.] be`
                    [&b"[.]"[..], b"(.)", b"{.}", b"[dot]", b"(dot)", b"{dot}"]
                        .iter()
                        .find(|p| starts_with_ci(after_sp, p))
                        .map_or(0, |p| p.len())
                };
                if dot_len > 0 && spaces <= 3 {
                    let after_dot = i + spaces + dot_len;
                    let trailing = bytes[after_dot..].iter().take_while(|&&c| c == b' ').count();
                    // `word .so` is sloppy typing; a spaced dot needs spaces on both sides,
                    // unless a path follows (`csam-be .info/x`)
                    let right = after_dot + trailing;
                    let path_follows = {
                        let label =
                            bytes[right..].iter().take_while(|&&b| is_lower_label_byte(b)).count();
                        bytes.get(right + label) == Some(&b'/')
                    };
                    // `csam-be .info`: a hyphenated or dotted name is not the end of a sentence
                    let token_start =
                        bytes[..i].iter().rposition(u8::is_ascii_whitespace).map_or(0, |p| p + 1);
                    let domain_like = bytes[token_start..i].iter().any(|&c| c == b'-' || c == b'.');
                    if trailing <= 3
                        && (trailing > 0 || path_follows || in_url || domain_like)
                        && spaced_dot_right_ok(bytes, right, 0)
                    {
                        out.replace(i, after_dot + trailing, ".");
                        i = after_dot + trailing;
                        continue;
                    }
                }
                // `http:// example .com /path`: spaces before the path
                if in_url
                    && spaces <= 3
                    && (after_sp.starts_with(b"[/]")
                        || after_sp.first() == Some(&b'/')
                            && after_sp
                                .get(1)
                                .is_some_and(|&c| c != b'/' && !c.is_ascii_whitespace()))
                {
                    out.replace(i, i + spaces, "");
                    i += spaces;
                    continue;
                }
            }
            b'/' if rest.starts_with(b"// ") && after_colon(i) => {
                // `http:// example.com`
                let spaces = rest[2..].iter().take_while(|&&c| c == b' ').count();
                if spaces <= 3 && rest.get(2 + spaces).is_some_and(|&c| is_label_byte(c)) {
                    out.replace(i, i + 2 + spaces, "//");
                    i += 2 + spaces;
                    continue;
                }
            }
            _ if b >= 0x80 && text.is_char_boundary(i) => {
                let rest_str = text.get(i..).unwrap_or_default();
                let next_is_label = |n: usize| bytes.get(i + n).is_some_and(|&c| is_label_byte(c));
                let w = wide_dot_len(rest_str);
                if w > 0 && is_label_byte(prev) && next_is_label(w) {
                    out.replace(i, i + w, ".");
                    i += w;
                    continue;
                }
                let z = invisible_len(rest_str);
                if z > 0
                    && !prev.is_ascii_whitespace()
                    && bytes.get(i + z).is_some_and(|c| !c.is_ascii_whitespace())
                {
                    out.replace(i, i + z, "");
                    i += z;
                    continue;
                }
            }
            _ => {}
        }
        if b.is_ascii_whitespace() {
            in_url = false;
        }
        i += 1;
    }
    out.copy_to(bytes.len());
    out.owned
}

/// Makes a URL or host safe to show: `hxxps://csam-be[.]info/x`. Idempotent.
pub fn defang(url_or_host: &str) -> String {
    let plain = refang(url_or_host);
    let s: &str = &plain;
    let mut out = String::with_capacity(s.len() + 8);
    let (scheme, rest) = match s.find("://") {
        Some(p)
            if p > 0
                && s[..p].bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            (&s[..p], &s[p + 3..])
        }
        _ => ("", s),
    };
    if !scheme.is_empty() {
        let lower = scheme.to_ascii_lowercase();
        match lower.as_str() {
            "http" => out.push_str("hxxp"),
            "https" => out.push_str("hxxps"),
            _ => out.push_str(scheme),
        }
        out.push_str("://");
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(host_end);
    out.push_str(&authority.replace('.', "[.]"));
    out.push_str(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(refang(input), expect, "refang({input:?})");
    }

    #[test]
    fn refang_table() {
        for (input, expect) in [
            ("hxxps://csam-be[.]info/x", "https://csam-be.info/x"),
            ("hXXp://example[.]com", "http://example.com"),
            ("hxxp[:]//example(.)com", "http://example.com"),
            ("https[:]//example{.}com", "https://example.com"),
            ("example[dot]com", "example.com"),
            ("example(DOT)com", "example.com"),
            ("example\\.com", "example.com"),
            ("example[.com/x", "example.com/x"),
            ("example.]com/x", "example.com/x"),
            ("http[://]example.com", "http://example.com"),
            ("http:\\\\example.com", "http://example.com"),
            ("hxxps__example.com", "https://example.com"),
            ("http__example.com", "http://example.com"),
            ("example.com[/]login", "example.com/login"),
            ("user[@]example.com", "user@example.com"),
            ("Ga naar csam-be . info nu", "Ga naar csam-be.info nu"),
            ("csam-be .info/x", "csam-be.info/x"),
            ("www . csam . be", "www.csam.be"),
            ("csam . belgium-id.top/x", "csam.belgium-id.top/x"),
            ("csam dot be", "csam.be"),
            ("http:// example.com", "http://example.com"),
            ("http:// example .com /path", "http://example.com/path"),
            ("https://mycsam-login. com/be", "https://mycsam-login.com/be"),
            ("Ga naar www.myebox-be. com nu", "Ga naar www.myebox-be.com nu"),
            ("zie inps-rimborso. info/modulo", "zie inps-rimborso.info/modulo"),
            ("Bedankt. info volgt", "Bedankt. info volgt"),
            ("Ga naar csam-be .info nu", "Ga naar csam-be.info nu"),
            ("Tot morgen. be there", "Tot morgen. be there"),
            ("see http://example.com /path", "see http://example.com/path"),
            ("http://example.com and / or", "http://example.com and / or"),
            ("exa\u{200B}mple.com", "example.com"),
            ("example\u{FF0E}com", "example.com"),
            ("h**ps://x[.]com", "https://x.com"),
            // left alone
            ("Hello . World", "Hello . World"),
            ("Thanks. net result", "Thanks. net result"),
            ("see (a) and [b]", "see (a) and [b]"),
            ("I'll dot the i", "I'll dot the i"),
            ("he said . then", "he said . then"),
            ("nice dress .so pretty", "nice dress .so pretty"),
            ("hxxp is a word", "hxxp is a word"),
            ("plain http://example.com", "plain http://example.com"),
            ("", ""),
        ] {
            check(input, expect);
        }
    }

    /// The fast scan gives exactly what the reference scan gives: text and byte map.
    fn same_as_reference(text: &str) {
        let fast = refang_mapped(text);
        let slow = reference::refang_mapped_reference(text);
        assert_eq!(
            fast.as_ref().map(|r| (&r.text, &r.map)),
            slow.as_ref().map(|r| (&r.text, &r.map)),
            "refang_mapped({text:?})"
        );
    }

    /// Text made of the bytes the rules look at, so that markers are frequent.
    fn marker_soup() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "h", "H", "hxxp", "hXXps", "HXXP", "Hxtps", "http", "HTTP", "https", "h**p", "htxp",
            "xx", "XX", "tt", "p", "s", "[", "]", "(", ")", "{", "}", ".", " ", "  ", "    ",
            "dot", "DOT", ":", "/", "//", "\\", "\\", "@", "_", "__", "com", "be", "info", "www",
            "word", "Word", "a", "Z", "-", "1", "\n", "\t", "\r", "\u{200B}", "\u{00AD}",
            "\u{FEFF}", "\u{2060}", "\u{FF0E}", "\u{3002}", "\u{FF61}", "é", "’", "€", "\u{00A0}",
            "ł",
        ]);
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn fast_scan_agrees_on_marker_soup(text in marker_soup()) {
            same_as_reference(&text);
        }

        #[test]
        fn fast_scan_agrees_on_any_string(text in any::<String>()) {
            same_as_reference(&text);
        }
    }

    /// `SMISHTRAP_CORPUS=path/to.jsonl cargo test --release -p smishtrap-extract -- --ignored`:
    /// the same comparison on the `text` of every record of a corpus.
    #[test]
    #[ignore = "needs a corpus file"]
    fn fast_scan_agrees_on_a_corpus() {
        let Ok(path) = std::env::var("SMISHTRAP_CORPUS") else { return };
        let corpus = std::fs::read_to_string(path).unwrap_or_default();
        let mut changed = 0;
        for line in corpus.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            let text = v.get("text").and_then(|t| t.as_str()).unwrap_or_default();
            same_as_reference(text);
            changed += usize::from(refang_mapped(text).is_some());
        }
        println!("{} records, {changed} refanged", corpus.lines().count());
    }

    #[test]
    fn fast_scan_agrees_on_fixtures() {
        for line in include_str!("../tests/fixtures/lang.tsv").lines() {
            same_as_reference(line);
        }
    }

    #[test]
    fn spans_map_back() {
        let text = "go hxxps://a[.]b.com/x now";
        let r = refang_mapped(text).expect("changed");
        let start = r.text.find("https").expect("scheme");
        let end = r.text.find(" now").expect("tail");
        assert_eq!(r.original_span(start, end), (3, 22));
        assert_eq!(&text[3..22], "hxxps://a[.]b.com/x");
    }

    #[test]
    fn defang_table() {
        for (input, expect) in [
            ("https://csam-be.info/x.php", "hxxps://csam-be[.]info/x.php"),
            ("hxxps://csam-be[.]info/x.php", "hxxps://csam-be[.]info/x.php"),
            ("HTTP://A.B.C", "hxxp://A[.]B[.]C"),
            ("csam-be.info", "csam-be[.]info"),
            ("csam-be.info/a.b", "csam-be[.]info/a.b"),
            ("ftp://x.y/z", "ftp://x[.]y/z"),
        ] {
            assert_eq!(defang(input), expect, "defang({input:?})");
        }
    }
}
