//! Device and attacker text made safe for a terminal, a log line, CSV or Markdown: control and
//! format characters escaped, length bounded on a character boundary.

/// `text` with control, format and line-separator characters written as `\u{..}` escapes (the
/// usual ones as `\n`, `\r`, `\t`), cut to at most `max` bytes of output (then `…`): the
/// project's one text-safety helper, [`smishtrap_extract::safe::escaped`].
pub fn shown(text: &str, max: usize) -> String {
    smishtrap_extract::safe::escaped(text, max)
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, max: usize, expect: &str) {
        assert_eq!(shown(input, max), expect, "input {input:?}");
    }

    #[test]
    fn escapes_and_bounds() {
        check("plain", 64, "plain");
        check("a\nb\x1b[31m", 64, "a\\nb\\u{1b}[31m");
        check("rtl\u{202e}x\u{200b}", 64, "rtl\\u{202e}x\\u{200b}");
        check("abcdef", 3, "abc…");
        check("ééé", 3, "é…");
        check("back\\slash", 64, "back\\\\slash");
    }

    proptest::proptest! {
        #[test]
        fn never_controls_and_bounded(s in "\\PC*|[\\x00-\\x1f\u{2028}\u{202e}]*", max in 0usize..80) {
            let out = shown(&s, max);
            proptest::prop_assert!(out.len() <= max + '…'.len_utf8());
            proptest::prop_assert!(!out.chars().any(smishtrap_extract::safe::is_unsafe_char));
            proptest::prop_assert!(cut(&s, max).len() <= max);
        }
    }
}
