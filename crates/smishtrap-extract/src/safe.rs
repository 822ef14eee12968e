//! The one text-safety helper for terminals, logs, CSV and Markdown: attacker or device text
//! with control, format and line-separator characters written as escapes, bounded in size.
//! HTML has its own escaping (askama); URLs are defanged separately ([`crate::defang`]).

/// Whether `c` must not reach a terminal or a log line as is: C0/C1 controls, and the
/// invisible format characters that reorder or hide text (bidirectional overrides, zero-width
/// characters, line separators, tag characters: Trojan Source).
pub fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(u32::from(c),
            0x00ad | 0x061c | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e | 0x2060..=0x206f
            | 0xfeff | 0xfff9..=0xfffb | 0xe0000..=0xe007f)
}

/// `text` with unsafe characters written as `\u{..}` escapes (the usual ones as `\n`, `\r`,
/// `\t`, and `\` as `\\` so an escape cannot be forged), cut to at most `max` bytes of output
/// on a character boundary, then `…`.
pub fn escaped(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 4);
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let owned;
        let piece: &str = match c {
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\\' => "\\\\",
            c if is_unsafe_char(c) => {
                owned = format!("\\u{{{:x}}}", u32::from(c));
                &owned
            }
            c => c.encode_utf8(&mut buf),
        };
        if out.len() + piece.len() > max {
            out.push('…');
            break;
        }
        out.push_str(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, max: usize, expect: &str) {
        assert_eq!(escaped(input, max), expect, "input {input:?}");
    }

    #[test]
    fn escapes_and_bounds() {
        check("plain", 64, "plain");
        check("a\nb\x1b[31m", 64, "a\\nb\\u{1b}[31m");
        check("\u{7}\u{0}\u{9b}x", 64, "\\u{7}\\u{0}\\u{9b}x");
        check("rtl\u{202e}x\u{200b}", 64, "rtl\\u{202e}x\\u{200b}");
        check("tag\u{e0041}", 64, "tag\\u{e0041}");
        check("abcdef", 3, "abc…");
        check("ééé", 3, "é…");
        check("back\\slash", 64, "back\\\\slash");
        check("<b>kept for HTML escaping</b>", 64, "<b>kept for HTML escaping</b>");
    }

    proptest::proptest! {
        #[test]
        fn never_unsafe_and_bounded(s in "\\PC*|[\\x00-\\x1f\u{2028}\u{202e}]*", max in 0usize..80) {
            let out = escaped(&s, max);
            proptest::prop_assert!(out.len() <= max + '…'.len_utf8());
            proptest::prop_assert!(!out.chars().any(is_unsafe_char));
        }
    }
}
