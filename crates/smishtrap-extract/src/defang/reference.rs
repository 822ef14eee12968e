//! The scan of [`super::refang_mapped`] as it was before inert bytes were skipped: the
//! reference the fast scan is compared against (byte-identical text and map).

use super::*;

/// Refangs `text`, returning `None` when nothing needed changing.
pub(super) fn refang_mapped_reference(text: &str) -> Option<Refanged> {
    let bytes = text.as_bytes();
    let mut out = Out { src: text, done: 0, owned: None };
    let mut i = 0;
    // inside a token that started with `scheme://`: spaced dots and `/` may be one-sided
    let mut in_url = false;
    while i < bytes.len() {
        let b = bytes[i];
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
