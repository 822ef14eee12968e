//! Brand names and cue phrases in folded text, found where words start.
//!
//! Every brand pattern and every cue phrase that begins with a letter or digit only counts
//! when it starts a word (the char before it is not part of a word). So instead of running
//! an automaton over every byte of the text (10 % of the analysis with 1,500 patterns, most
//! of it following matches inside words that are then thrown away), this walks the
//! automaton anchored at each word start, and only where the next two, three and four bytes
//! begin some pattern (64 Kibit tables; the four-byte one cut the walks, most of which find
//! nothing, by a third of their instructions). The few phrases that begin with another char
//! (`% off`), or with a char of a script written without spaces (Thai, Chinese, Japanese...),
//! may start anywhere: the walk also starts wherever their first byte is.
//!
//! The matches come back in the order an overlapping search over the whole text reports
//! them (by end, longest first, then by pattern), so callers that keep the first match of
//! something see the same one; `engine::tests` checks the result against separate scans.
//!
//! An anchored walk needs no Aho-Corasick failure links, only a trie, and it is written by
//! hand here for its memory layout: breadth-first, 8 bytes a node (at most one node per
//! pattern byte: under 0.5 MiB for the 4,922 brand and cue phrases), so the shallow nodes
//! where walks spend most steps lie together. `aho-corasick`'s anchored NFA walked the same
//! way took 1.8 MiB, most of it dense tables for the first levels, and missed the first-level
//! data cache more than once a step (cachegrind); a double-array trie crate (yada) was as
//! compact but took tens of milliseconds to build at start-up.

use crate::text::{is_word_char, spaceless};

/// A match: pattern index, byte start and end in the folded text.
pub(crate) type Found = (usize, usize, usize);

#[derive(Debug)]
pub(crate) struct WordMatcher {
    /// Every pattern, walked anchored at word starts.
    trie: Trie,
    /// Per pattern: begins with a non-word char, so it may start anywhere.
    anywhere: Vec<bool>,
    /// Bit `a` is set when a pattern that may start anywhere starts with byte `a`.
    anywhere_first: [u64; 4],
    /// Bit `a << 8 | b` is set when a pattern starts with bytes `a`, `b` (ASCII lowercase
    /// when matching without case).
    pairs: Vec<u64>,
    /// Bit `a << 8 | b` is set when a pattern is the two bytes `a`, `b` (likewise).
    pair_ends: Vec<u64>,
    /// Bit [`triple`]`(a, b, c)` is set when a pattern starts with bytes `a`, `b`, `c`
    /// (likewise): most word starts whose first two bytes begin some pattern are ruled out
    /// by the third before a walk.
    triples: Vec<u64>,
    /// Bit [`triple`]`(a, b, c)` is set when a pattern is the three bytes `a`, `b`, `c`.
    triple_ends: Vec<u64>,
    /// Bit [`quad`]`(a, b, c, d)` is set when a pattern starts with those four bytes: most
    /// walks that pass the third byte end at the fourth.
    quads: Vec<u64>,
    /// Bit `a` is set when a pattern is the single byte `a` (likewise).
    singles: [u64; 4],
    /// ASCII letters match without case.
    fold_case: bool,
    /// Per byte: [`WORD`], [`FIRST`], [`ANYWHERE`] bits, so most bytes cost one load.
    class: [u8; 256],
    /// The ASCII bytes that begin a pattern that may start anywhere (`%` of `% off`).
    anywhere_ascii: Vec<u8>,
}

/// An ASCII letter or digit.
const WORD: u8 = 1;
/// Some pattern starts with this byte.
const FIRST: u8 = 2;
/// Some pattern that may start anywhere starts with this byte.
const ANYWHERE: u8 = 4;

/// Index of three leading bytes in a 64 Kibit table (collisions only let a walk through).
fn triple(a: usize, b: usize, c: usize) -> usize {
    (a.wrapping_mul(0x9E5) ^ b.wrapping_mul(0x3B) ^ c) & 0xFFFF
}

/// Index of four leading bytes in a 64 Kibit table (likewise).
fn quad(a: usize, b: usize, c: usize, d: usize) -> usize {
    let x = (a << 24 | b << 16 | c << 8 | d) as u32;
    (x.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

fn lower(b: u8) -> usize {
    usize::from(b.to_ascii_lowercase())
}

fn set(bits: &mut [u64], i: usize) {
    if let Some(w) = bits.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

fn get(bits: &[u64], i: usize) -> bool {
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl WordMatcher {
    /// Matches `patterns`, case-insensitively for ASCII letters when `fold_case`; `None` if
    /// the trie cannot be built (more than 2^32 patterns or pattern bytes).
    pub(crate) fn new<P: AsRef<str>>(patterns: &[P], fold_case: bool) -> Option<WordMatcher> {
        let patterns: Vec<&str> = patterns.iter().map(AsRef::as_ref).collect();
        let key = |b: u8| if fold_case { lower(b) } else { usize::from(b) };
        let trie = Trie::new(&patterns, fold_case)?;
        let anywhere: Vec<bool> = patterns
            .iter()
            .map(|p| !p.chars().next().is_some_and(|c| is_word_char(c) && !spaceless(c)))
            .collect();
        let mut anywhere_first = [0u64; 4];
        let mut pairs = vec![0u64; 65536 / 64];
        let mut pair_ends = vec![0u64; 65536 / 64];
        let mut triples = vec![0u64; 65536 / 64];
        let mut triple_ends = vec![0u64; 65536 / 64];
        let mut quads = vec![0u64; 65536 / 64];
        let mut singles = [0u64; 4];
        for (p, &anywhere) in patterns.iter().zip(&anywhere) {
            let bytes = p.as_bytes();
            if let Some(&a) = bytes.first()
                && anywhere
            {
                set(&mut anywhere_first, lower(a));
                set(&mut anywhere_first, usize::from(a.to_ascii_uppercase()));
            }
            match bytes {
                [] => {}
                [a] => set(&mut singles, key(*a)),
                [a, b] => {
                    set(&mut pairs, key(*a) << 8 | key(*b));
                    set(&mut pair_ends, key(*a) << 8 | key(*b));
                }
                [a, b, c] => {
                    set(&mut pairs, key(*a) << 8 | key(*b));
                    set(&mut triples, triple(key(*a), key(*b), key(*c)));
                    set(&mut triple_ends, triple(key(*a), key(*b), key(*c)));
                }
                [a, b, c, d, ..] => {
                    set(&mut pairs, key(*a) << 8 | key(*b));
                    set(&mut triples, triple(key(*a), key(*b), key(*c)));
                    set(&mut quads, quad(key(*a), key(*b), key(*c), key(*d)));
                }
            }
        }
        let mut class = [0u8; 256];
        for (b, c) in (0..=255u8).zip(class.iter_mut()) {
            let first = |bits: &[u64]| (0..256).any(|second| get(bits, key(b) << 8 | second));
            if b.is_ascii_alphanumeric() {
                *c |= WORD;
            }
            if get(&singles, key(b)) || first(&pairs) {
                *c |= FIRST;
            }
            if get(&anywhere_first, b.into()) {
                *c |= ANYWHERE;
            }
        }
        let anywhere_ascii = (0..128u8).filter(|&b| get(&anywhere_first, b.into())).collect();
        Some(WordMatcher {
            anywhere_ascii,
            trie,
            anywhere,
            anywhere_first,
            pairs,
            pair_ends,
            triples,
            triple_ends,
            quads,
            singles,
            fold_case,
            class,
        })
    }

    /// Appends every match anywhere in `text`, word starts or not, sorted as [`Self::find`]
    /// sorts them (the order of an overlapping search).
    pub(crate) fn find_anywhere(&self, text: &str, out: &mut Vec<Found>) {
        let bytes = text.as_bytes();
        let first = out.len();
        for (at, &b) in bytes.iter().enumerate() {
            let class = self.class.get(usize::from(b)).copied().unwrap_or(0);
            if class & FIRST != 0 && self.may_start_at(bytes, at) {
                self.walk(bytes, at, true, out);
            }
        }
        if let Some(found) = out.get_mut(first..) {
            found.sort_unstable_by_key(|&(p, s, e)| (e, s, p));
        }
    }

    /// Appends every match that starts the text or follows a non-word char, and every match
    /// anywhere of a pattern that begins with a non-word char, sorted as described above.
    pub(crate) fn find(&self, folded: &str, out: &mut Vec<Found>) {
        let bytes = folded.as_bytes();
        let first = out.len();
        let mut after_word = false;
        if folded.is_ascii() {
            // most texts: bytes are chars and a word char is an ASCII letter or digit
            for (at, &b) in bytes.iter().enumerate() {
                let class = self.class.get(usize::from(b)).copied().unwrap_or(0);
                if class & (FIRST | ANYWHERE) != 0 {
                    let word_start = !after_word && self.may_start_at(bytes, at);
                    if word_start || class & ANYWHERE != 0 {
                        self.walk(bytes, at, word_start, out);
                    }
                }
                after_word = class & WORD != 0;
            }
        } else {
            for (at, c) in folded.char_indices() {
                let word_start = !after_word && self.may_start_at(bytes, at);
                if word_start || bytes.get(at).is_some_and(|&b| get(&self.anywhere_first, b.into()))
                {
                    self.walk(bytes, at, word_start, out);
                }
                after_word = is_word_char(c);
            }
        }
        if let Some(found) = out.get_mut(first..) {
            found.sort_unstable_by_key(|&(p, s, e)| (e, s, p));
        }
    }

    /// [`Self::find`] of `self` in `folded` into `out` and of `other` in `original` into
    /// `other_out`, where `folded` is `fold(original)`. An ASCII text folds to its ASCII
    /// lowercase (same offsets, same word starts), so both are found in one walk.
    pub(crate) fn find_with(
        &self,
        folded: &str,
        out: &mut Vec<Found>,
        other: &WordMatcher,
        original: &str,
        other_out: &mut Vec<Found>,
    ) {
        let (bytes, other_bytes) = (folded.as_bytes(), original.as_bytes());
        if !original.is_ascii() || bytes.len() != other_bytes.len() {
            self.find(folded, out);
            other.find(original, other_out);
            return;
        }
        let (first, other_first) = (out.len(), other_out.len());
        let mut after_word = false;
        for (at, (&b, &o)) in bytes.iter().zip(other_bytes).enumerate() {
            let class = self.class.get(usize::from(b)).copied().unwrap_or(0);
            if class & (FIRST | ANYWHERE) != 0 {
                let word_start = !after_word && self.may_start_at(bytes, at);
                if word_start || class & ANYWHERE != 0 {
                    self.walk(bytes, at, word_start, out);
                }
            }
            let other_class = other.class.get(usize::from(o)).copied().unwrap_or(0);
            if other_class & (FIRST | ANYWHERE) != 0 {
                let word_start = !after_word && other.may_start_at(other_bytes, at);
                if word_start || other_class & ANYWHERE != 0 {
                    other.walk(other_bytes, at, word_start, other_out);
                }
            }
            after_word = class & WORD != 0;
        }
        for (found, first) in [(out, first), (other_out, other_first)] {
            if let Some(found) = found.get_mut(first..) {
                found.sort_unstable_by_key(|&(p, s, e)| (e, s, p));
            }
        }
    }

    /// Appends the matches from `at`, a word start (unsorted): the walk of [`Self::find`]
    /// there, for callers that find word starts themselves.
    pub(crate) fn find_at_word_start(&self, bytes: &[u8], at: usize, out: &mut Vec<Found>) {
        let class =
            bytes.get(at).map_or(0, |&b| self.class.get(usize::from(b)).copied().unwrap_or(0));
        if class & FIRST != 0 && self.may_start_at(bytes, at) {
            self.walk(bytes, at, true, out);
        }
    }

    /// Appends the matches from `at`, no word start, of the patterns that may start
    /// anywhere (unsorted).
    pub(crate) fn find_inside(&self, bytes: &[u8], at: usize, out: &mut Vec<Found>) {
        if bytes.get(at).is_some_and(|&b| self.starts_anywhere(b)) {
            self.walk(bytes, at, false, out);
        }
    }

    /// Some pattern that may start anywhere starts with `b`.
    fn starts_anywhere(&self, b: u8) -> bool {
        self.class.get(usize::from(b)).is_some_and(|c| c & ANYWHERE != 0)
    }

    /// The ASCII bytes that begin a pattern that may start anywhere: none is a word char.
    pub(crate) fn anywhere_ascii(&self) -> &[u8] {
        &self.anywhere_ascii
    }

    fn key(&self, b: u8) -> usize {
        if self.fold_case { lower(b) } else { usize::from(b) }
    }

    fn may_start_at(&self, bytes: &[u8], at: usize) -> bool {
        let Some(&a) = bytes.get(at) else { return false };
        if get(&self.singles, self.key(a)) {
            return true;
        }
        let Some(&b) = bytes.get(at + 1) else { return false };
        let pair = self.key(a) << 8 | self.key(b);
        get(&self.pairs, pair)
            && (get(&self.pair_ends, pair)
                || bytes.get(at + 2).is_some_and(|&c| {
                    let (a, b, c) = (self.key(a), self.key(b), self.key(c));
                    get(&self.triples, triple(a, b, c))
                        && (get(&self.triple_ends, triple(a, b, c))
                            || bytes
                                .get(at + 3)
                                .is_some_and(|&d| get(&self.quads, quad(a, b, c, self.key(d)))))
                }))
    }

    /// Every pattern that matches `bytes` from `at` on (at a word start, else only those
    /// that may start anywhere).
    fn walk(&self, bytes: &[u8], at: usize, word_start: bool, out: &mut Vec<Found>) {
        let mut node = ROOT;
        for (end, &b) in bytes.iter().enumerate().skip(at) {
            let b = if self.fold_case { b.to_ascii_lowercase() } else { b };
            let Some(child) = self.trie.child(node, b) else { return };
            node = child;
            for &p in self.trie.ends(node) {
                let p = p as usize;
                if word_start || self.anywhere.get(p).copied().unwrap_or(false) {
                    out.push((p, at, end + 1));
                }
            }
        }
    }
}

/// The root's index in [`Trie::nodes`].
const ROOT: usize = 0;
/// Labels compared at once by [`Trie::child`].
const LANES: usize = 8;

/// A trie over the patterns' bytes in breadth-first order: the children of a node are
/// consecutive nodes, and follow the children of the node before it, so a node's children
/// and the patterns that end at it are ranges bounded by the next node's.
#[derive(Debug)]
struct Trie {
    /// Per node, then a sentinel: (first child, first entry in `ends`).
    nodes: Vec<(u32, u32)>,
    /// Per node: the byte on the edge into it (ASCII lowercase when matching without case),
    /// then [`LANES`] zero bytes, so that any node's children can be read 8 at a time.
    labels: Vec<u8>,
    /// Pattern indexes, grouped by the node they end at, ascending within a node.
    ends: Vec<u32>,
    /// The root's child for each byte (0: none, the root is nobody's child).
    root: Vec<u32>,
}

impl Trie {
    /// `None` when a count overflows the 32-bit indexes (never for real catalogs).
    fn new(patterns: &[&str], fold_case: bool) -> Option<Trie> {
        let keys: Vec<Vec<u8>> =
            patterns
                .iter()
                .map(|p| {
                    if fold_case {
                        p.as_bytes().to_ascii_lowercase()
                    } else {
                        p.as_bytes().to_vec()
                    }
                })
                .collect();
        // patterns sorted by bytes (then index): every node's patterns are one run, shorter
        // ones (those that end there) first
        let mut order: Vec<u32> = (0..u32::try_from(keys.len()).ok()?).collect();
        order.sort_by(|&a, &b| keys.get(a as usize).cmp(&keys.get(b as usize)).then(a.cmp(&b)));
        let key = |i: u32| keys.get(i as usize).map_or(&[][..], Vec::as_slice);
        let mut trie =
            Trie { nodes: Vec::new(), labels: vec![0], ends: Vec::new(), root: vec![0; 256] };
        // the queue is the node list itself: node i is (run of `order`, depth)
        let mut queue: Vec<(usize, usize, usize)> = vec![(0, order.len(), 0)];
        let mut next = 0;
        while let Some(&(lo, hi, depth)) = queue.get(next) {
            let run = order.get(lo..hi).unwrap_or(&[]);
            let ended = run.iter().take_while(|&&i| key(i).len() == depth).count();
            trie.nodes
                .push((u32::try_from(queue.len()).ok()?, u32::try_from(trie.ends.len()).ok()?));
            trie.ends.extend(run.iter().take(ended));
            let mut start = lo + ended;
            while start < hi {
                let b = key(order.get(start).copied()?).get(depth).copied()?;
                let len = run
                    .get(start - lo..)?
                    .iter()
                    .take_while(|&&i| key(i).get(depth) == Some(&b))
                    .count();
                if next == ROOT {
                    *trie.root.get_mut(usize::from(b))? = u32::try_from(queue.len()).ok()?;
                }
                trie.labels.push(b);
                queue.push((start, start + len, depth + 1));
                start += len;
            }
            next += 1;
        }
        trie.nodes.push((u32::try_from(queue.len()).ok()?, u32::try_from(trie.ends.len()).ok()?));
        trie.labels.extend([0; LANES]);
        Some(trie)
    }

    fn child(&self, node: usize, b: u8) -> Option<usize> {
        if node == ROOT {
            let child = self.root.get(usize::from(b)).copied().unwrap_or(0);
            return (child != 0).then_some(child as usize);
        }
        let (first, _) = self.nodes.get(node).copied()?;
        let (last, _) = self.nodes.get(node + 1).copied()?;
        let (mut at, last) = (first as usize, last as usize);
        // the labels compared 8 at a time (SWAR): a scan that stops at the match cost a
        // mispredicted branch per look-up, where most nodes have at most 8 children
        let wanted = u64::from(b) * 0x0101_0101_0101_0101;
        while at < last {
            let chunk: [u8; LANES] = self.labels.get(at..at + LANES)?.try_into().ok()?;
            let x = u64::from_le_bytes(chunk) ^ wanted;
            // the lowest set bit marks the first zero byte of `x` (bits above it may be
            // false), i.e. the first label equal to `b`
            let zeros = x.wrapping_sub(0x0101_0101_0101_0101) & !x & 0x8080_8080_8080_8080;
            if zeros != 0 {
                let i = at + zeros.trailing_zeros() as usize / 8;
                return (i < last).then_some(i);
            }
            at += LANES;
        }
        None
    }

    fn ends(&self, node: usize) -> &[u32] {
        let range = |i: usize| self.nodes.get(i).map_or(0, |&(_, e)| e as usize);
        self.ends.get(range(node)..range(node + 1)).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(patterns: &[&str], text: &str, expect: &[(&str, usize)]) {
        let Some(m) = WordMatcher::new(patterns, true) else { panic!("builds") };
        let mut found = Vec::new();
        m.find(text, &mut found);
        let found: Vec<(&str, usize)> =
            found.iter().map(|&(p, s, _)| (patterns.get(p).copied().unwrap_or("?"), s)).collect();
        assert_eq!(found, expect, "{text:?}");
    }

    #[test]
    fn matches_at_word_starts() {
        let p = &["ebox", "box", "my ebox", "% off", "x", "ing"];
        check(p, "in uw ebox", &[("ebox", 6)]);
        check(p, "my ebox, booking", &[("my ebox", 0), ("ebox", 3)]);
        check(p, "ing ing-x x", &[("ing", 0), ("ing", 4), ("x", 8), ("x", 10)]);
        check(p, "50% off, x", &[("% off", 2), ("x", 9)]);
        check(p, "EBOX Box", &[("ebox", 0), ("box", 5)]);
        check(p, "", &[]);
        check(p, "éebox ébox", &[]);
    }

    /// Every match by brute force: each pattern at each char boundary, where a word starts
    /// or, for a pattern that may start anywhere, at any char.
    fn reference(patterns: &[&str], fold_case: bool, text: &str) -> Vec<Found> {
        let mut out = Vec::new();
        for (at, _) in text.char_indices() {
            let word_start = !text[..at].chars().next_back().is_some_and(is_word_char);
            for (p, pat) in patterns.iter().enumerate() {
                let anywhere =
                    !pat.chars().next().is_some_and(|c| is_word_char(c) && !spaceless(c));
                let rest = text.as_bytes().get(at..at + pat.len());
                let hit = rest.is_some_and(|r| {
                    if fold_case {
                        r.eq_ignore_ascii_case(pat.as_bytes())
                    } else {
                        r == pat.as_bytes()
                    }
                });
                if hit && (word_start || anywhere) {
                    out.push((p, at, at + pat.len()));
                }
            }
        }
        out.sort_unstable_by_key(|&(p, s, e)| (e, s, p));
        out
    }

    proptest::proptest! {
        /// The two-, three- and four-byte tables before a walk only skip walks that find
        /// nothing.
        #[test]
        fn prefilters_skip_no_match(text in "[abcdAB %é.-]{0,24}", fold_case: bool) {
            let patterns = [
                "ab", "abc", "abd", "b", "bca", "% a", "ca", "é", "éb", "a-b", "dab", "abca",
                "dabc", "bcab d", "éba",
            ];
            let Some(m) = WordMatcher::new(&patterns, fold_case) else { panic!("builds") };
            let mut found = Vec::new();
            m.find(&text, &mut found);
            proptest::prop_assert_eq!(found, reference(&patterns, fold_case, &text));
        }
    }

    proptest::proptest! {
        /// The trie finds what brute force finds, for any patterns (shared prefixes, one a
        /// prefix of another, repeats, empty ones).
        #[test]
        fn trie_walks_find_every_match(
            patterns in proptest::collection::vec("[abAB é%]{0,4}", 0..12),
            text in "[abAB é%.]{0,24}",
            fold_case: bool,
        ) {
            let patterns: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let Some(m) = WordMatcher::new(&patterns, fold_case) else { panic!("builds") };
            let mut found = Vec::new();
            m.find(&text, &mut found);
            let expect: Vec<Found> =
                reference(&patterns, fold_case, &text).into_iter().filter(|&(_, s, e)| e > s).collect();
            proptest::prop_assert_eq!(found, expect);
        }
    }

    #[test]
    fn one_walk_finds_what_two_find() {
        let (Some(folded), Some(caps)) = (
            WordMatcher::new(&["ebox", "my ebox", "% off", "ing"], true),
            WordMatcher::new(&["ING", "EBOX", "+X"], false),
        ) else {
            panic!("builds")
        };
        for original in ["ING: my EBOX, 50% off +X", "Ebox ING ing INGx", "éING ING", "", "+X"] {
            let lower = crate::text::fold(original);
            let (mut a, mut b) = (Vec::new(), Vec::new());
            folded.find_with(&lower, &mut a, &caps, original, &mut b);
            let (mut c, mut d) = (Vec::new(), Vec::new());
            folded.find(&lower, &mut c);
            caps.find(original, &mut d);
            assert_eq!((a, b), (c, d), "{original:?}");
        }
    }
}
