//! Text folding shared by brand, cue and model matching: lowercase, accents removed,
//! compatibility forms unified (`ﬁ` -> `fi`, full-width -> ASCII), typographic quotes made plain.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Folds `text` for matching. Idempotent: `fold(fold(x)) == fold(x)`.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    // NFKD char by char: it only differs from NFKD of the whole text in the order of
    // combining marks, which are all dropped here
    let mut out = String::with_capacity(text.len());
    let mut recheck = false;
    for c in text.chars() {
        if c.is_ascii() {
            push_folded(&mut out, c, &mut recheck);
        } else {
            decompose_compatible(c, |d| push_folded(&mut out, d, &mut recheck));
        }
    }
    // Lowercasing can produce new decomposable characters (rare); a second pass keeps
    // `fold` idempotent without slowing the common case.
    if !recheck || out.is_ascii() || out.nfkd().eq(out.chars()) { out } else { fold(&out) }
}

/// Appends the folded form of `c`, a char of a compatibility decomposition; `recheck` is set
/// when lowercasing made a char that may not be decomposed yet.
fn push_folded(out: &mut String, c: char, recheck: &mut bool) {
    if is_combining_mark(c) {
        return;
    }
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
        '\u{00DF}' => out.push_str("ss"),
        '\u{00F8}' | '\u{00D8}' => out.push('o'),
        '\u{00E6}' | '\u{00C6}' => out.push_str("ae"),
        '\u{0153}' | '\u{0152}' => out.push_str("oe"),
        '\u{0142}' | '\u{0141}' => out.push('l'),
        '\u{0111}' | '\u{0110}' => out.push('d'),
        _ if c.is_ascii() => out.push(c.to_ascii_lowercase()),
        _ => {
            for l in c.to_lowercase() {
                *recheck |= l != c;
                out.push(l);
            }
        }
    }
}

/// True when `c` can sit inside a word (letters and digits of any script).
pub(crate) fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
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
        check("ﬁnances ＡＢＣ", "finances abc");
        check("Ærø Øst", "aero ost");
        check("identità", "identita");
    }

    /// The definition: NFKD of the whole text, then the same per-char mapping.
    fn fold_reference(text: &str) -> String {
        if text.is_ascii() {
            return text.to_ascii_lowercase();
        }
        let mut out = String::with_capacity(text.len());
        for c in text.nfkd() {
            if is_combining_mark(c) {
                continue;
            }
            match c {
                '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' => out.push('\''),
                '\u{00DF}' => out.push_str("ss"),
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
