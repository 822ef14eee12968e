//! What a phrase query of the text index (FTS5's `trigram` tokenizer, case-insensitive)
//! matches, computed without the index: the SQL function [`TRIGRAM_MATCH`], which searches
//! use for messages the index does not hold yet (an import builds it at its end, `bulk.rs`).
//!
//! The tokenizer reads UTF-8 as SQLite does (`READ_UTF8`: U+FFFE and U+FFFF read as U+FFFD),
//! folds each character with FTS5's own table (`sqlite3Fts5UnicodeFold` without removing
//! diacritics, ported below), drops NULs, and makes one token per position of three
//! characters. A quoted phrase of three or more characters therefore matches exactly when
//! its folded characters occur, in a row, in the folded text; the test compares the fold
//! with the tokenizer's on every Unicode scalar value.

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;

/// `smishtrap_trigram_match(text, phrases)`: 1 when every NUL-separated phrase of
/// `phrases` (each of three characters or more) matches `text` as the text index would.
pub(crate) const TRIGRAM_MATCH: &str = "smishtrap_trigram_match";

/// Registers [`TRIGRAM_MATCH`] on `conn`.
pub(crate) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        TRIGRAM_MATCH,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text = bytes(ctx.get_raw(0));
            let phrases = bytes(ctx.get_raw(1));
            Ok(matches(text, phrases))
        },
    )
}

fn bytes(v: ValueRef<'_>) -> &[u8] {
    match v {
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
        _ => &[],
    }
}

/// Whether every NUL-separated phrase of `phrases` occurs folded in the folded `text`.
pub(crate) fn matches(text: &[u8], phrases: &[u8]) -> bool {
    let haystack = folded(text);
    phrases.split(|&b| b == 0).filter(|p| !p.is_empty()).all(|phrase| {
        let needle = folded(phrase);
        !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle.as_slice())
    })
}

/// The characters the tokenizer sees in `text`: read, folded, NULs dropped.
fn folded(text: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let (c, next) = read_utf8(text, i);
        i = next;
        let c = fold(c);
        if c != 0 {
            out.push(c);
        }
    }
    out
}

/// SQLite's `READ_UTF8` at `at`: the code and where the next one starts.
fn read_utf8(text: &[u8], at: usize) -> (u32, usize) {
    let mut i = at;
    let mut c = u32::from(text[i]);
    i += 1;
    if c >= 0xc0 {
        c = match c {
            0xc0..=0xdf => c - 0xc0,
            0xe0..=0xef => c - 0xe0,
            0xf0..=0xf7 => c - 0xf0,
            0xf8..=0xfb => c - 0xf8,
            0xfc..=0xfd => c - 0xfc,
            _ => 0,
        };
        while let Some(&b) = text.get(i).filter(|&&b| b & 0xc0 == 0x80) {
            c = (c << 6).wrapping_add(u32::from(b & 0x3f));
            i += 1;
        }
        if c < 0x80 || (c & 0xffff_f800) == 0xd800 || (c & 0xffff_fffe) == 0xfffe {
            c = 0xfffd;
        }
    }
    (c, i)
}

/// `sqlite3Fts5UnicodeFold(c, 0)`: the lower-case form of an upper-case character.
fn fold(c: u32) -> u32 {
    // FTS5 takes the code as a C `int`
    let signed = c as i32;
    if signed < 128 {
        return if (u32::from(b'A')..=u32::from(b'Z')).contains(&c) { c + 32 } else { c };
    }
    if c < 65536 {
        let at = FOLD_RULES.partition_point(|&(code, _, _)| u32::from(code) <= c);
        let Some(&(code, flags, range)) = at.checked_sub(1).and_then(|i| FOLD_RULES.get(i)) else {
            return c;
        };
        let code = u32::from(code);
        if c < code + u32::from(range) && (0x01 & u32::from(flags) & (code ^ c)) == 0 {
            let off = FOLD_OFFSETS.get(usize::from(flags >> 1)).copied().unwrap_or(0);
            return (c + u32::from(off)) & 0xffff;
        }
        return c;
    }
    if (66560..66600).contains(&c) { c + 40 } else { c }
}

/// FTS5's `aEntry`: (first code, flags, range length). The low flag bit: only every second
/// code of the range folds; the other seven bits: the index of its offset in [`FOLD_OFFSETS`].
#[rustfmt::skip]
const FOLD_RULES: &[(u16, u8, u8)] = &[
    (65, 14, 26), (181, 64, 1), (192, 14, 23), (216, 14, 7), (256, 1, 48), (306, 1, 6),
    (313, 1, 16), (330, 1, 46), (376, 116, 1), (377, 1, 6), (383, 104, 1), (385, 50, 1),
    (386, 1, 4), (390, 44, 1), (391, 0, 1), (393, 42, 2), (395, 0, 1), (398, 32, 1),
    (399, 38, 1), (400, 40, 1), (401, 0, 1), (403, 42, 1), (404, 46, 1), (406, 52, 1),
    (407, 48, 1), (408, 0, 1), (412, 52, 1), (413, 54, 1), (415, 56, 1), (416, 1, 6),
    (422, 60, 1), (423, 0, 1), (425, 60, 1), (428, 0, 1), (430, 60, 1), (431, 0, 1),
    (433, 58, 2), (435, 1, 4), (439, 62, 1), (440, 0, 1), (444, 0, 1), (452, 2, 1),
    (453, 0, 1), (455, 2, 1), (456, 0, 1), (458, 2, 1), (459, 1, 18), (478, 1, 18),
    (497, 2, 1), (498, 1, 4), (502, 122, 1), (503, 134, 1), (504, 1, 40), (544, 110, 1),
    (546, 1, 18), (570, 70, 1), (571, 0, 1), (573, 108, 1), (574, 68, 1), (577, 0, 1),
    (579, 106, 1), (580, 28, 1), (581, 30, 1), (582, 1, 10), (837, 36, 1), (880, 1, 4),
    (886, 0, 1), (902, 18, 1), (904, 16, 3), (908, 26, 1), (910, 24, 2), (913, 14, 17),
    (931, 14, 9), (962, 0, 1), (975, 4, 1), (976, 140, 1), (977, 142, 1), (981, 146, 1),
    (982, 144, 1), (984, 1, 24), (1008, 136, 1), (1009, 138, 1), (1012, 130, 1),
    (1013, 128, 1), (1015, 0, 1), (1017, 152, 1), (1018, 0, 1), (1021, 110, 3),
    (1024, 34, 16), (1040, 14, 32), (1120, 1, 34), (1162, 1, 54), (1216, 6, 1),
    (1217, 1, 14), (1232, 1, 88), (1329, 22, 38), (4256, 66, 38), (4295, 66, 1),
    (4301, 66, 1), (7680, 1, 150), (7835, 132, 1), (7838, 96, 1), (7840, 1, 96),
    (7944, 150, 8), (7960, 150, 6), (7976, 150, 8), (7992, 150, 8), (8008, 150, 6),
    (8025, 151, 8), (8040, 150, 8), (8072, 150, 8), (8088, 150, 8), (8104, 150, 8),
    (8120, 150, 2), (8122, 126, 2), (8124, 148, 1), (8126, 100, 1), (8136, 124, 4),
    (8140, 148, 1), (8152, 150, 2), (8154, 120, 2), (8168, 150, 2), (8170, 118, 2),
    (8172, 152, 1), (8184, 112, 2), (8186, 114, 2), (8188, 148, 1), (8486, 98, 1),
    (8490, 92, 1), (8491, 94, 1), (8498, 12, 1), (8544, 8, 16), (8579, 0, 1),
    (9398, 10, 26), (11264, 22, 47), (11360, 0, 1), (11362, 88, 1), (11363, 102, 1),
    (11364, 90, 1), (11367, 1, 6), (11373, 84, 1), (11374, 86, 1), (11375, 80, 1),
    (11376, 82, 1), (11378, 0, 1), (11381, 0, 1), (11390, 78, 2), (11392, 1, 100),
    (11499, 1, 4), (11506, 0, 1), (42560, 1, 46), (42624, 1, 24), (42786, 1, 14),
    (42802, 1, 62), (42873, 1, 4), (42877, 76, 1), (42878, 1, 10), (42891, 0, 1),
    (42893, 74, 1), (42896, 1, 4), (42912, 1, 10), (42922, 72, 1), (65313, 14, 26),
];

/// FTS5's `aiOff`: what a folding code adds (modulo 65,536).
#[rustfmt::skip]
const FOLD_OFFSETS: &[u16] = &[
    1, 2, 8, 15, 16, 26, 28, 32, 37, 38, 40, 48, 63, 64, 69, 71, 79, 80, 116, 202, 203, 205,
    206, 207, 209, 210, 211, 213, 214, 217, 218, 219, 775, 7264, 10792, 10795, 23228, 23256,
    30204, 54721, 54753, 54754, 54756, 54787, 54793, 54809, 57153, 57274, 57921, 58019, 58363,
    61722, 65268, 65341, 65373, 65406, 65408, 65410, 65415, 65424, 65436, 65439, 65450, 65462,
    65472, 65476, 65478, 65480, 65482, 65488, 65506, 65511, 65514, 65521, 65527, 65528, 65529,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every Unicode scalar value folds as FTS5's trigram tokenizer folds it: each is indexed
    /// (in documents of consecutive values) and read back from the index's terms.
    #[test]
    fn folds_every_character_as_the_tokenizer_does() {
        let conn = ok(Connection::open_in_memory());
        ok(conn.execute_batch(
            "CREATE VIRTUAL TABLE t USING fts5 (text, tokenize = 'trigram');
             CREATE VIRTUAL TABLE v USING fts5vocab (t, instance);",
        ));
        let chars: Vec<char> = (1..=0x10ffff).filter_map(char::from_u32).collect();
        let docs: Vec<&[char]> = chars.chunks(4096).collect();
        {
            let mut insert = ok(conn.prepare("INSERT INTO t (rowid, text) VALUES (?1, ?2)"));
            for (n, doc) in docs.iter().enumerate() {
                ok(insert.execute(rusqlite::params![n as i64, doc.iter().collect::<String>()]));
            }
        }
        let mut read = ok(conn.prepare("SELECT term, doc, offset FROM v"));
        let mut seen = 0usize;
        let rows = ok(read.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        }));
        for row in rows {
            let (term, doc, offset) = ok(row);
            let doc = docs[usize::try_from(doc).unwrap_or(usize::MAX)];
            let at = usize::try_from(offset).unwrap_or(usize::MAX);
            let expect: String = doc[at..at + 3]
                .iter()
                .map(|&c| char::from_u32(fold(read_utf8(c.to_string().as_bytes(), 0).0)))
                .map(|c| c.unwrap_or_else(|| panic!("not a char")))
                .collect();
            assert_eq!(term, expect, "{:X?}", &doc[at..at + 3]);
            seen += 1;
        }
        assert_eq!(seen, docs.iter().map(|d| d.len() - 2).sum::<usize>());
    }

    #[track_caller]
    fn check(text: &str, phrases: &[&str], expect: bool) {
        assert_eq!(matches(text.as_bytes(), phrases.join("\0").as_bytes()), expect);
    }

    #[test]
    fn phrases_match_folded_runs() {
        check("Uw CSAM-identiteit", &["csam"], true);
        check("ÉTÉ À PARIS", &["été à"], true);
        check("été", &["ÉTÉ"], true);
        check("Straße", &["STRASSE"], false);
        check("ab\0cd", &["abc"], true);
        check("abcdef", &["abc", "def"], true);
        check("abcdef", &["abc", "xyz"], false);
        check("x\u{fffe}y", &["x\u{fffd}y"], true);
        check("ΣΊΣΥΦΟΣ", &["σίσυφος"], true);
    }
}
