//! Brand names and cue phrases of whole words, found word by word.
//!
//! Most brand and cue phrases begin and end with a letter or digit and only count as whole
//! words: the char before a match and the char after it are no word chars. Such a match
//! begins at the start of a run of word chars, ends at the end of one, and covers the
//! text's runs (words and what separates them) exactly. So the text is cut into runs once
//! (ASCII texts 64 bytes at a time, as a bit mask), each run is hashed once, and a phrase
//! is looked up as the chain of its runs' hashes in one open-addressed table: one probe per
//! word, most rejected before by a 64 Kibit filter of first words. The byte trie of
//! [`crate::words`] walked from most word starts, each step a likely first-level cache miss
//! in 0.5 MiB of nodes (a sixth of the analysis time, sampled, with its prefilters). A hit
//! is checked byte for byte, so a hash collision costs time, never a false match.
//!
//! The other phrases (open-ended ones such as `verifi*`, those that begin or end with
//! another char, such as `% off`, and those of scripts written without spaces) stay with
//! the byte trie, which reports them as before.
//!
//! Invariant: [`PhraseMatcher::find_with`] reports the matches of [`WordMatcher::find_with`]
//! over the same patterns, less the whole-word phrases' matches that touch a word char
//! before or after (which callers drop); `tests` check it against the trie.

use crate::text::{is_word_char, spaceless};
use crate::words::{Found, WordMatcher};

/// A pattern as given: its text, and whether it may end inside a word (`verifi*`).
pub(crate) type Phrase<'a> = (&'a str, bool);

/// Whole-word phrases matched by runs, the rest by a byte trie.
#[derive(Debug)]
pub(crate) struct PhraseMatcher {
    words: RunMatcher,
    rest: WordMatcher,
    /// Pattern index of each of `rest`'s patterns.
    rest_index: Vec<usize>,
}

impl PhraseMatcher {
    /// Matches `patterns` without ASCII case when `fold_case`; `None` when an index
    /// overflows (see [`WordMatcher::new`]).
    pub(crate) fn new(patterns: &[Phrase<'_>], fold_case: bool) -> Option<PhraseMatcher> {
        let mut whole = Vec::new();
        let (mut rest, mut rest_index) = (Vec::new(), Vec::new());
        for (i, &(pattern, open_end)) in patterns.iter().enumerate() {
            if !open_end && whole_words(pattern) {
                whole.push((i, pattern));
            } else {
                rest.push(pattern);
                rest_index.push(i);
            }
        }
        Some(PhraseMatcher {
            words: RunMatcher::new(&whole, fold_case)?,
            rest: WordMatcher::new(&rest, fold_case)?,
            rest_index,
        })
    }

    /// Every match in `folded` (see the module invariant) into `out`, and those of `other`
    /// in `original` into `other_out`, as [`WordMatcher::find_with`]; `out` in the same order.
    pub(crate) fn find_with(
        &self,
        folded: &str,
        out: &mut Vec<Found>,
        other: &WordMatcher,
        original: &str,
        other_out: &mut Vec<Found>,
    ) {
        let (first, other_first) = (out.len(), other_out.len());
        let (bytes, other_bytes) = (folded.as_bytes(), original.as_bytes());
        let mut words = Vec::with_capacity(bytes.len() / 4 + 1);
        if folded.is_ascii() && original.is_ascii() && bytes.len() == other_bytes.len() {
            // most texts: the word starts of both are the runs' starts, and the patterns that
            // may start anywhere begin with an ASCII char of no word (`% off`; those of
            // spaceless scripts are not ASCII), found by memchr
            ascii_runs(bytes, self.words.fold_case, &mut words);
            for run in &words {
                self.rest.find_at_word_start(bytes, run.start, out);
                other.find_at_word_start(other_bytes, run.start, other_out);
            }
            for &b in self.rest.anywhere_ascii() {
                for at in memchr::memchr_iter(b, bytes) {
                    self.rest.find_inside(bytes, at, out);
                }
            }
            for &b in other.anywhere_ascii() {
                for at in memchr::memchr_iter(b, other_bytes) {
                    other.find_inside(other_bytes, at, other_out);
                }
            }
        } else {
            self.rest.find_with(folded, out, other, original, other_out);
            runs(folded, self.words.fold_case, &mut words);
        }
        if let Some(found) = out.get_mut(first..) {
            for (p, _, _) in found {
                *p = self.rest_index.get(*p).copied().unwrap_or(usize::MAX);
            }
        }
        self.words.find(bytes, &words, out);
        for (found, first) in [(out, first), (other_out, other_first)] {
            if let Some(found) = found.get_mut(first..) {
                found.sort_unstable_by_key(|&(p, s, e)| (e, s, p));
            }
        }
    }
}

/// Begins and ends with a word char of a script written with spaces: a match only counts
/// between non-word chars.
fn whole_words(pattern: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| is_word_char(c) && !spaceless(c));
    word(pattern.chars().next()) && word(pattern.chars().next_back())
}

/// A run of a text: a maximal span of word chars, and the hash of its bytes. What lies
/// between two runs is hashed only when a phrase continues past the first.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    end: usize,
    hash: u64,
}

/// One slot of [`RunMatcher::slots`]: the chain key of a phrase prefix that ends with a
/// word (0: empty), the phrases that end there and whether longer ones continue.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: u64,
    ends_at: u32,
    ends_len: u16,
    more: bool,
}

#[derive(Debug)]
struct RunMatcher {
    slots: Vec<Slot>,
    /// Pattern indexes, grouped by slot.
    ends: Vec<u32>,
    /// Bit [`bit`] is set for the chain key of each phrase's first word.
    firsts: Vec<u64>,
    /// Per pattern index: its bytes (ASCII lowercase when matching without case), to check
    /// a hit; empty for the patterns of the trie.
    bytes: Vec<Box<[u8]>>,
    fold_case: bool,
}

const SEED: u64 = 0x243F_6A88_85A3_08D3;

/// Mixes `x` into the chain key `key` (never 0, the empty slot).
fn chain(key: u64, x: u64) -> u64 {
    let mut h = (key ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^= h >> 29;
    h.max(1)
}

/// ASCII capitals of `x`'s bytes made small, eight at once; other bytes kept.
fn lower8(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let low7 = x & (0x7F * ONES);
    // the top bit of each byte: at least `A`, above `Z` (no byte carries into the next)
    let from_a = low7 + (0x80 - 0x41) * ONES;
    let past_z = low7 + (0x80 - 0x5B) * ONES;
    let capital = from_a & !past_z & !x & (0x80 * ONES);
    x | (capital >> 2)
}

/// Hash of `bytes[start..end]`, eight bytes at a time, ASCII-lowercased when `fold_case`.
#[inline]
fn span_hash(bytes: &[u8], start: usize, end: usize, fold_case: bool) -> u64 {
    let mut h = (end - start) as u64;
    let mut at = start;
    while at < end {
        let len = end - at;
        let x = match bytes.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(word) => u64::from_le_bytes(word),
            None => {
                // the text's last bytes
                let mut word = [0u8; 8];
                for (w, &b) in word.iter_mut().zip(bytes.get(at..end).unwrap_or(&[])) {
                    *w = b;
                }
                u64::from_le_bytes(word)
            }
        };
        // the bytes past the span read as zeros
        let x = if len < 8 { x & ((1 << (8 * len)) - 1) } else { x };
        let x = if fold_case { lower8(x) } else { x };
        h = (h.rotate_left(23) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        at += 8;
    }
    h
}

/// The runs of `text`, appended to `runs`.
fn runs(text: &str, fold_case: bool, runs: &mut Vec<Run>) {
    if text.is_ascii() {
        return ascii_runs(text.as_bytes(), fold_case, runs);
    }
    let bytes = text.as_bytes();
    let mut open: Option<usize> = None;
    let chars = text.char_indices().map(|(at, c)| (at, is_word_char(c)));
    for (at, word) in chars.chain([(bytes.len(), false)]) {
        match (word, open) {
            (true, None) => open = Some(at),
            (false, Some(start)) => {
                runs.push(Run { start, end: at, hash: span_hash(bytes, start, at, fold_case) });
                open = None;
            }
            _ => {}
        }
    }
}

/// The runs of ASCII `bytes` (see [`crate::text::ascii_word_runs`]).
fn ascii_runs(bytes: &[u8], fold_case: bool, runs: &mut Vec<Run>) {
    crate::text::ascii_word_runs(bytes, |start, end, _| {
        runs.push(Run { start, end, hash: span_hash(bytes, start, end, fold_case) });
    });
}

/// The chain key of `key` followed by the gap from `before` to `run`, then `run`.
fn extend(key: u64, bytes: &[u8], before: &Run, run: &Run, fold_case: bool) -> u64 {
    let gap = span_hash(bytes, before.end, run.start, fold_case);
    chain(chain(key, gap), run.hash)
}

/// The filter's bit for a key: its top 16 bits (the table's slot comes from the low ones).
fn bit(bits: &[u64], key: u64) -> bool {
    let i = (key >> 48) as usize;
    bits.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

impl RunMatcher {
    /// `patterns`: (pattern index, text), each beginning and ending with a word char.
    fn new(patterns: &[(usize, &str)], fold_case: bool) -> Option<RunMatcher> {
        // chain key of every prefix that ends with a word: (key, pattern ending there)
        let mut prefixes: Vec<(u64, Option<u32>, bool)> = Vec::new();
        let mut firsts = vec![0u64; 65536 / 64];
        let count = patterns.iter().map(|&(i, _)| i + 1).max().unwrap_or(0);
        let mut bytes: Vec<Box<[u8]>> = vec![Box::default(); count];
        let mut scratch = Vec::new();
        for &(index, pattern) in patterns {
            let lowered =
                if fold_case { pattern.to_ascii_lowercase() } else { pattern.to_string() };
            scratch.clear();
            runs(&lowered, false, &mut scratch);
            let mut key = SEED;
            for (n, run) in scratch.iter().enumerate() {
                key = match n.checked_sub(1).and_then(|before| scratch.get(before)) {
                    None => chain(key, run.hash),
                    Some(before) => extend(key, lowered.as_bytes(), before, run, false),
                };
                if n == 0 {
                    let i = (key >> 48) as usize;
                    if let Some(w) = firsts.get_mut(i / 64) {
                        *w |= 1 << (i % 64);
                    }
                }
                let last = n + 1 == scratch.len();
                let ends = last.then(|| u32::try_from(index).ok()).flatten();
                if last && ends.is_none() {
                    return None;
                }
                prefixes.push((key, ends, !last));
            }
            *bytes.get_mut(index)? = lowered.into_bytes().into_boxed_slice();
        }
        // one slot per distinct key, its patterns together
        prefixes.sort_unstable_by_key(|&(key, ends, _)| (key, ends));
        let mut keys: Vec<u64> = prefixes.iter().map(|p| p.0).collect();
        keys.dedup();
        let distinct = keys.len();
        let size = (distinct * 2).next_power_of_two().max(16);
        let mut slots = vec![Slot::default(); size];
        let mut ends = Vec::new();
        let mut i = 0;
        while let Some(&(key, _, _)) = prefixes.get(i) {
            let run: Vec<(u64, Option<u32>, bool)> =
                prefixes.get(i..)?.iter().take_while(|p| p.0 == key).copied().collect();
            i += run.len();
            let ends_at = u32::try_from(ends.len()).ok()?;
            ends.extend(run.iter().filter_map(|p| p.1));
            let ends_len = u16::try_from(ends.len() - ends_at as usize).ok()?;
            let slot = Slot { key, ends_at, ends_len, more: run.iter().any(|p| p.2) };
            let mut at = (key as usize) & (size - 1);
            while slots.get(at)?.key != 0 {
                at = (at + 1) & (size - 1);
            }
            *slots.get_mut(at)? = slot;
        }
        Some(RunMatcher { slots, ends, firsts, bytes, fold_case })
    }

    fn slot(&self, key: u64) -> Option<&Slot> {
        let mask = self.slots.len() - 1;
        let mut at = (key as usize) & mask;
        loop {
            let slot = self.slots.get(at)?;
            if slot.key == key {
                return Some(slot);
            }
            if slot.key == 0 {
                return None;
            }
            at = (at + 1) & mask;
        }
    }

    /// Appends every whole-word match in `bytes`, whose runs are `runs` (unsorted).
    fn find(&self, bytes: &[u8], runs: &[Run], out: &mut Vec<Found>) {
        for (i, first) in runs.iter().enumerate() {
            let mut key = chain(SEED, first.hash);
            if !bit(&self.firsts, key) {
                continue;
            }
            let mut last = first;
            let mut next = i + 1;
            while let Some(slot) = self.slot(key) {
                let ends = self.ends.get(slot.ends_at as usize..).unwrap_or(&[]);
                for &p in ends.iter().take(slot.ends_len.into()) {
                    let (p, start, end) = (p as usize, first.start, last.end);
                    let pattern = self.bytes.get(p).map_or(&[][..], |b| &b[..]);
                    let same = bytes.get(start..end).is_some_and(|t| {
                        if self.fold_case { t.eq_ignore_ascii_case(pattern) } else { t == pattern }
                    });
                    if same {
                        out.push((p, start, end));
                    }
                }
                let Some(run) = runs.get(next).filter(|_| slot.more) else { break };
                key = extend(key, bytes, last, run, self.fold_case);
                last = run;
                next += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trie's matches over the same patterns, less the whole-word phrases' matches that
    /// touch a word char (what callers drop).
    fn reference(patterns: &[Phrase<'_>], fold_case: bool, text: &str) -> Vec<Found> {
        let plain: Vec<&str> = patterns.iter().map(|p| p.0).collect();
        let Some(trie) = WordMatcher::new(&plain, fold_case) else { panic!("builds") };
        let mut found = Vec::new();
        trie.find(text, &mut found);
        found.retain(|&(p, s, e)| {
            let (pattern, open_end) = patterns.get(p).copied().unwrap_or(("", true));
            open_end || !whole_words(pattern) || crate::text::at_word_boundaries(text, s, e)
        });
        found
    }

    /// The matches of a [`PhraseMatcher`] over `patterns`, checking on the way that the
    /// second matcher's (case-sensitive, as the brands' capitals) are those it finds alone.
    fn found(patterns: &[Phrase<'_>], fold_case: bool, text: &str) -> Vec<Found> {
        let Some(m) = PhraseMatcher::new(patterns, fold_case) else { panic!("builds") };
        let Some(other) = WordMatcher::new(&["AB", "%a", "-B", "b", "é"], false) else {
            panic!("builds")
        };
        let (mut out, mut other_out) = (Vec::new(), Vec::new());
        m.find_with(text, &mut out, &other, text, &mut other_out);
        let mut alone = Vec::new();
        other.find(text, &mut alone);
        assert_eq!(other_out, alone, "{text:?}");
        out
    }

    fn check(patterns: &[Phrase<'_>], text: &str, expect: &[(&str, usize)]) {
        let got: Vec<(&str, usize)> = found(patterns, true, text)
            .iter()
            .map(|&(p, s, _)| (patterns.get(p).map_or("?", |p| p.0), s))
            .collect();
        assert_eq!(got, expect, "{text:?}");
        assert_eq!(found(patterns, true, text), reference(patterns, true, text), "{text:?}");
    }

    #[test]
    fn whole_words_and_the_rest() {
        let p = &[
            ("ebox", false),
            ("my ebox", false),
            ("verifi", true),
            ("% off", false),
            ("at&t", false),
            ("ค่าปรับ", false),
            ("my  ebox", false),
        ];
        check(p, "in uw ebox", &[("ebox", 6)]);
        check(p, "My EBOX, ebox2 xebox", &[("my ebox", 0), ("ebox", 3)]);
        check(p, "my  ebox", &[("my  ebox", 0), ("ebox", 4)]);
        check(p, "verifieer 50% off at&t at&tx", &[("verifi", 0), ("% off", 12), ("at&t", 18)]);
        check(p, "ค่าปรับ éebox ebox", &[("ค่าปรับ", 0), ("ebox", 29)]);
        check(p, "", &[]);
    }

    proptest::proptest! {
        /// Any patterns over a small alphabet (shared words, repeats, one the start of
        /// another, open ends) and any text: what the trie finds, less what callers drop.
        #[test]
        fn runs_find_what_the_trie_finds(
            patterns in proptest::collection::vec(("[abAB é%.-]{1,7}", proptest::bool::ANY), 0..10),
            text in "[abAB é%.-]{0,28}",
            fold_case: bool,
        ) {
            let patterns: Vec<Phrase<'_>> = patterns.iter().map(|(p, o)| (p.as_str(), *o)).collect();
            proptest::prop_assert_eq!(
                found(&patterns, fold_case, &text),
                reference(&patterns, fold_case, &text)
            );
        }
    }

    proptest::proptest! {
        /// ASCII texts longer than the 64-byte blocks of the run finder.
        #[test]
        fn runs_across_blocks(
            patterns in proptest::collection::vec(("[abAB %-]{1,7}", proptest::bool::ANY), 0..10),
            text in "[abAB %-]{60,200}",
        ) {
            let patterns: Vec<Phrase<'_>> = patterns.iter().map(|(p, o)| (p.as_str(), *o)).collect();
            proptest::prop_assert_eq!(found(&patterns, true, &text), reference(&patterns, true, &text));
        }
    }
}
