//! Language-independent structure of transactional notices: a bank or operator writes its
//! own customer's account or card number masked (`x1234`, `XX-4821`, `xxx-x-x5512-x`,
//! `****1234`, `0123xxx789`); lures ask for the number instead of showing part of it.

/// Bound on the bytes looked at: notices put the account early.
const SCAN_BYTES: usize = 1024;

/// The text holds a masked account or card number: a run of digits, `x`/`X`/`*` and `-`
/// standing alone (not inside an ASCII word, not a `*123#` code), with at least three digits
/// and either two mask chars or a leading `x` (so `2x`, `1920x1080` and `x2` are not accounts).
pub(crate) fn has_masked_account(text: &str) -> bool {
    let bytes = text.as_bytes();
    let bytes = bytes.get(..bytes.len().min(SCAN_BYTES)).unwrap_or(bytes);
    if has_dotted_account(bytes) || has_ending_account(bytes) {
        return true;
    }
    // Every such run holds a mask char: only the runs around one are looked at (memchr:
    // most texts hold none, and this runs on most messages).
    let mut from = 0;
    while let Some(at) = bytes.get(from..).and_then(|rest| memchr::memchr3(b'x', b'X', b'*', rest))
    {
        let at = from + at;
        let start =
            bytes.get(..at).map_or(at, |b| at - b.iter().rev().take_while(|&&b| in_run(b)).count());
        let end = at + bytes.get(at..).map_or(0, |b| b.iter().take_while(|&&b| in_run(b)).count());
        if masked_run(bytes, start, end) {
            return true;
        }
        from = end.max(at + 1);
    }
    false
}

/// A byte of a masked number: a digit, a mask char or a dash.
fn in_run(b: u8) -> bool {
    b.is_ascii_digit() || matches!(b, b'x' | b'X' | b'*' | b'-')
}

/// `bytes[start..end]`, a whole run of [`in_run`] bytes, is a masked account number.
fn masked_run(bytes: &[u8], start: usize, end: usize) -> bool {
    // an ASCII letter or digit glued to the run makes it part of a word (`box12`, `xmas`)
    let glued_before = start > 0 && bytes.get(start - 1).is_some_and(u8::is_ascii_alphanumeric);
    // `*123#` and `*939*1#` are USSD codes, not accounts
    let glued_after = bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'#');
    if glued_before || glued_after {
        return false;
    }
    let run = trim_dashes(bytes.get(start..end).unwrap_or_default());
    let digits = run.iter().filter(|b| b.is_ascii_digit()).count();
    let masks = run.iter().filter(|b| matches!(b, b'x' | b'X' | b'*')).count();
    let leading = run.first().is_some_and(|b| matches!(b, b'x' | b'X'));
    digits >= 3 && (masks >= 2 || leading) && run.len() <= 24
}

/// The text holds a transaction reference: 9 or more digits right after `Ref`, `UPI`, `Txn`,
/// `UTR`, `RRN` or `IMPS` (`UPI Ref No 415612345678`, `Refno 4156...`, `Txn ID: 9912...`), how
/// banks print the transaction an alert reports. Lures that imitate an alert rarely carry one.
pub(crate) fn has_transaction_reference(text: &str) -> bool {
    /// Bytes before a digit run searched for a reference word (`UPI Ref No. `).
    const LOOK_BACK: usize = 16;
    const WORDS: &[&[u8]] = &[b"ref", b"upi", b"txn", b"utr", b"rrn", b"imps"];
    let bytes = text.as_bytes();
    let bytes = bytes.get(..bytes.len().min(SCAN_BYTES)).unwrap_or(bytes);
    let mut i = 0;
    while i < bytes.len() {
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            continue;
        }
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i - start < 9 {
            continue;
        }
        let before = bytes.get(start.saturating_sub(LOOK_BACK)..start).unwrap_or_default();
        if WORDS.iter().any(|w| before.windows(w.len()).any(|x| x.eq_ignore_ascii_case(w))) {
            return true;
        }
    }
    false
}

/// An account written as its last digits after an ellipsis (`checking ...5521`, `…5521`), as
/// US banks write them: three dots or `…`, then 3 to 6 digits standing alone.
fn has_dotted_account(bytes: &[u8]) -> bool {
    const ELLIPSIS: &[u8] = "…".as_bytes();
    /// The first byte of `…` in UTF-8.
    const ELLIPSIS_LEAD: u8 = 0xE2;
    let mut i = 0;
    // memchr: most texts hold few dots and no ellipsis
    while let Some(at) = bytes.get(i..).and_then(|rest| memchr::memchr2(b'.', ELLIPSIS_LEAD, rest))
    {
        let at = i + at;
        let rest = bytes.get(at..).unwrap_or_default();
        let mark = if rest.starts_with(b"...") {
            3
        } else if rest.starts_with(ELLIPSIS) {
            ELLIPSIS.len()
        } else {
            i = at + 1;
            continue;
        };
        let after = bytes.get(at + mark..).unwrap_or_default();
        let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
        let glued = after.get(digits).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'.');
        if (3..=6).contains(&digits) && !glued {
            return true;
        }
        i = at + mark;
    }
    false
}

/// A card or account written by its last digits after "ending" (`card ending in 4411`,
/// `account ending 8812`, `terminada en 4411`, `eindigend op 4411`, `endend auf 4411`):
/// 3 to 6 digits standing alone, with only short linking words, spaces and mask chars
/// between.
fn has_ending_account(bytes: &[u8]) -> bool {
    const WORDS: &[&[u8]] = &[
        b"ending",
        b"termina",
        b"terminada",
        b"terminado",
        b"terminant",
        b"eindigend",
        b"endend",
        b"endet",
    ];
    const LINKS: &[&[u8]] = &[b"in", b"with", b"en", b"em", b"con", b"op", b"auf", b"por", b"par"];
    // memchr: every word holds an `n`, most texts hold none of the words
    let mut i = 0;
    while let Some(at) = bytes.get(i..).and_then(|rest| memchr::memchr2(b'n', b'N', rest)) {
        let at = i + at;
        i = at + 1;
        // in every word the first `n` is followed by `d` or `a` (most `n`s of a text are not)
        if !bytes.get(at + 1).is_some_and(|b| matches!(b, b'd' | b'D' | b'a' | b'A')) {
            continue;
        }
        // the end of the whole word this `n` is in, when it is one of `WORDS`
        let Some(end) = WORDS.iter().find_map(|w| {
            let start = at.checked_sub(w.iter().position(|&b| b == b'n')?)?;
            let end = start + w.len();
            let alone = (start == 0
                || !bytes.get(start - 1).is_some_and(u8::is_ascii_alphanumeric))
                && !bytes.get(end).is_some_and(u8::is_ascii_alphabetic);
            (alone && bytes.get(start..end)?.eq_ignore_ascii_case(w)).then_some(end)
        }) else {
            continue;
        };
        // then gaps, linking words and masks
        let mut rest = bytes.get(end..).unwrap_or_default();
        for _ in 0..4 {
            let gap = rest
                .iter()
                .take_while(|b| matches!(b, b' ' | b':' | b'-' | b'*' | b'#' | b'.'))
                .count();
            rest = rest.get(gap..).unwrap_or_default();
            let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
            let word = rest.get(..letters).unwrap_or_default();
            let masks = word.iter().all(|b| matches!(b, b'x' | b'X'));
            if letters == 0 || !(masks || LINKS.iter().any(|l| l.eq_ignore_ascii_case(word))) {
                break;
            }
            rest = rest.get(letters..).unwrap_or_default();
        }
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let glued = rest
            .get(digits)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b',' | b'%'));
        let decimal =
            rest.get(digits) == Some(&b'.') && rest.get(digits + 1).is_some_and(u8::is_ascii_digit);
        if (3..=6).contains(&digits) && !glued && !decimal {
            return true;
        }
    }
    false
}

/// The text opens with a phone number (`+66812345678`, `0812345678 ...`): 8 to 15 digits,
/// an optional leading `+`, nothing glued after but a space, punctuation or a non-ASCII
/// letter (Thai runs words together). Missed-call notices start with the caller's number.
pub(crate) fn starts_with_phone_number(text: &str) -> bool {
    let t = text.trim_start().as_bytes();
    let t = t.strip_prefix(b"+").unwrap_or(t);
    let digits = t.iter().take_while(|b| b.is_ascii_digit()).count();
    (8..=15).contains(&digits) && t.get(digits).is_none_or(|b| !b.is_ascii_alphanumeric())
}

fn trim_dashes(run: &[u8]) -> &[u8] {
    let start = run.iter().position(|&b| b != b'-').unwrap_or(run.len());
    let end = run.iter().rposition(|&b| b != b'-').map_or(start, |last| last + 1);
    run.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: bool) {
        assert_eq!(has_masked_account(text), expect, "{text:?}");
    }

    #[test]
    fn masked_accounts() {
        for (text, expect) in [
            ("บัญชี x9012 เงินเข้า", true),
            ("บัญชีx9012เงินเข้า", true),
            ("A/c XX4417 debited", true),
            ("card xx-4821 used", true),
            ("บัญชี xxx-x-x5512-x", true),
            ("card ****1234", true),
            ("TK 0123xxx789 +2,000,000", true),
            ("ไปยัง 08x-xxx-1234 สำเร็จ", true),
            ("(x7730)", true),
            ("2x faster, 1920x1080 screen", false),
            ("xmas box12 x2 xx", false),
            ("call 0812345678 now", false),
            ("*123# to renew", false),
            ("dial *939*1# now", false),
            ("x12", false),
            ("posted to checking ...5521", true),
            ("card …4821 used", true),
            ("wait... 10 minutes", false),
            ("so...123456789 digits", false),
            ("version ...2.5.1", false),
            ("charged to your Visa ending 4411", true),
            ("posted to your account ending in 8812.", true),
            ("CARD ENDING WITH XX4411 used", true),
            ("tarjeta terminada en 4411", true),
            ("Karte endend auf 4411", true),
            ("offer ending soon, 50% off", false),
            ("sale ending 31 March", false),
            ("ending on 12/2025", false),
            ("Terminal 2045 gate B", false),
            ("pending 4411 items", false),
            ("ending in 4411abc", false),
        ] {
            check(text, expect);
        }
    }

    #[test]
    fn transaction_references() {
        for (text, expect) in [
            ("to VPA swiggy@icici (UPI Ref No 415612345678). Not you?", true),
            ("trf to SWIGGY Refno 415612345678. If not u? call", true),
            ("Txn ID: 991234567890 successful", true),
            ("UTR:123456789012", true),
            // too short, or no reference word before it
            ("Ref 12345678", false),
            ("call 918765432100 now", false),
            ("your parcel 123456789012 is held", false),
            ("", false),
        ] {
            assert_eq!(has_transaction_reference(text), expect, "{text:?}");
        }
    }

    #[test]
    fn phone_number_first() {
        for (text, expect) in [
            ("0812345678 tried to call you at 10:20", true),
            ("  +66 is not a number", false),
            ("+66812345678 โทรหาคุณ", true),
            ("021234567พยายามติดต่อ", true),
            ("1234567 too short", false),
            ("0812345678abc", false),
            ("call 0812345678", false),
            ("", false),
        ] {
            assert_eq!(starts_with_phone_number(text), expect, "{text:?}");
        }
    }

    /// The plain definition [`has_masked_account`] speeds up: every maximal run, left to right.
    fn has_masked_account_plain(text: &str) -> bool {
        let bytes = text.as_bytes();
        let bytes = bytes.get(..bytes.len().min(SCAN_BYTES)).unwrap_or(bytes);
        if has_dotted_account(bytes) || has_ending_account(bytes) {
            return true;
        }
        let mut i = 0;
        while i < bytes.len() {
            if !bytes.get(i).copied().is_some_and(in_run) {
                i += 1;
                continue;
            }
            let start = i;
            while bytes.get(i).copied().is_some_and(in_run) {
                i += 1;
            }
            if masked_run(bytes, start, i) {
                return true;
            }
        }
        false
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = has_masked_account(&text);
            let _ = has_transaction_reference(&text);
        }

        #[test]
        fn masked_accounts_as_the_plain_definition_finds_them(text in "([0-9xX*#.… -]|[a-z]|\\PC){0,40}") {
            proptest::prop_assert_eq!(has_masked_account(&text), has_masked_account_plain(&text));
        }
    }
}
