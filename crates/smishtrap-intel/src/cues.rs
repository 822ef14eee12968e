//! Vocabulary cues (urgency, threats, rewards, credential and payment requests, delivery,
//! marketing, calls to action, generic requests to act, events to disown ("if this wasn't
//! you"), trusted parties named generically, family on "a new number",
//! one-time codes, events already done such as a missed call or a completed payment, offers
//! of work, an app named as where to act)
//! from the `data/cues.toml` data file, matched in one pass.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use serde::Deserialize;

use crate::text::{cuts_syllable_after, cuts_syllable_before, fold, is_word_char, spaceless};

/// The cue file shipped with smishtrap.
pub const BUILTIN_CUES: &str = include_str!("../data/cues.toml");

/// Cue categories, in the order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cue {
    Urgency,
    Threat,
    Reward,
    Credential,
    Payment,
    Delivery,
    Marketing,
    Action,
    /// A generic request to act that leads somewhere (update, renew, complete, unlock, get
    /// in touch, "to avoid ..."): an ask only beside a trusted party and something at stake.
    Request,
    /// An event on the recipient's account they are asked to disown ("if this wasn't you").
    Disown,
    /// A party the recipient trusts, named generically ("your bank", "the tax office").
    Authority,
    /// Family or a friend writing from "a new number".
    Personal,
    /// A stranger's opener asking whether the recipient is someone by name ("is this
    /// Anna?"): how wrong-number scams start. Counts only at the start of a text, before a
    /// name and a question mark ([`crate::text::asked_name`]).
    Stranger,
    /// A one-time or verification code being delivered.
    Code,
    /// Something that already happened to the recipient: a missed call, a payment done.
    Notice,
    /// An offer of work: part-time, from home, hiring (a task scam's opener when it
    /// promises easy pay through a private channel).
    Job,
    /// An app named as where to act ("log in to the app"): with no link or number beside
    /// it, the sender's own.
    App,
}

/// How many cue categories there are.
const CATEGORIES: usize = 17;
/// Bound on the phrases of a cue file (of at most 80 bytes each; the built-in file has
/// about 2,000): their automaton always builds, even when built on first use.
const MAX_PHRASES: usize = 50_000;

impl Cue {
    pub const ALL: [Cue; CATEGORIES] = [
        Cue::Urgency,
        Cue::Threat,
        Cue::Reward,
        Cue::Credential,
        Cue::Payment,
        Cue::Delivery,
        Cue::Marketing,
        Cue::Action,
        Cue::Request,
        Cue::Disown,
        Cue::Authority,
        Cue::Personal,
        Cue::Stranger,
        Cue::Code,
        Cue::Notice,
        Cue::Job,
        Cue::App,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A cue file problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CueError {
    pub file: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CueFile {
    urgency: BTreeMap<String, Vec<String>>,
    threat: BTreeMap<String, Vec<String>>,
    reward: BTreeMap<String, Vec<String>>,
    credential: BTreeMap<String, Vec<String>>,
    payment: BTreeMap<String, Vec<String>>,
    delivery: BTreeMap<String, Vec<String>>,
    marketing: BTreeMap<String, Vec<String>>,
    action: BTreeMap<String, Vec<String>>,
    request: BTreeMap<String, Vec<String>>,
    disown: BTreeMap<String, Vec<String>>,
    authority: BTreeMap<String, Vec<String>>,
    personal: BTreeMap<String, Vec<String>>,
    stranger: BTreeMap<String, Vec<String>>,
    code: BTreeMap<String, Vec<String>>,
    notice: BTreeMap<String, Vec<String>>,
    job: BTreeMap<String, Vec<String>>,
    app: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
struct Pattern {
    cue: Cue,
    prefix: bool,
    phrase: String,
}

/// Compiled cue vocabulary.
#[derive(Debug)]
pub struct Cues {
    /// For [`Cues::scan`] on its own, built on first use: the engine scans cues with its own
    /// word matcher. Phrases are bounded at load, so the build succeeds.
    matcher: OnceLock<Option<AhoCorasick>>,
    patterns: Vec<Pattern>,
}

/// Cues found in one text: which categories, how often, and the first phrase of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CueHits {
    mask: u32,
    counts: [u8; CATEGORIES],
    /// Pattern index and folded-text byte span of the first match of each category.
    first: [Option<(u32, u32, u32)>; CATEGORIES],
}

impl CueHits {
    pub fn has(&self, cue: Cue) -> bool {
        self.mask & cue.bit() != 0
    }

    /// Takes `cue`'s hits from `other` (a scan of the same text with some parts blanked).
    pub(crate) fn keep_from(&mut self, other: &CueHits, cue: Cue) {
        let at = cue as usize;
        self.mask = (self.mask & !cue.bit()) | (other.mask & cue.bit());
        if let (Some(count), Some(&theirs)) = (self.counts.get_mut(at), other.counts.get(at)) {
            *count = theirs;
        }
        if let (Some(first), Some(&theirs)) = (self.first.get_mut(at), other.first.get(at)) {
            *first = theirs;
        }
    }

    /// Where the first match of `cue` starts in the folded text.
    pub fn first_start(&self, cue: Cue) -> Option<usize> {
        self.first.get(cue as usize).copied().flatten().map(|(_, start, _)| start as usize)
    }

    /// How many phrases of `cue` matched (saturating).
    pub fn count(&self, cue: Cue) -> u8 {
        self.counts.get(cue as usize).copied().unwrap_or(0)
    }
}

impl Cues {
    pub fn builtin() -> Result<Cues, CueError> {
        Cues::parse("builtin cues.toml", BUILTIN_CUES)
    }

    pub fn parse(file: &str, text: &str) -> Result<Cues, CueError> {
        let parsed: CueFile = toml::from_str(text).map_err(|e| CueError {
            file: file.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let sections = [
            (Cue::Urgency, parsed.urgency),
            (Cue::Threat, parsed.threat),
            (Cue::Reward, parsed.reward),
            (Cue::Credential, parsed.credential),
            (Cue::Payment, parsed.payment),
            (Cue::Delivery, parsed.delivery),
            (Cue::Marketing, parsed.marketing),
            (Cue::Action, parsed.action),
            (Cue::Request, parsed.request),
            (Cue::Disown, parsed.disown),
            (Cue::Authority, parsed.authority),
            (Cue::Personal, parsed.personal),
            (Cue::Stranger, parsed.stranger),
            (Cue::Code, parsed.code),
            (Cue::Notice, parsed.notice),
            (Cue::Job, parsed.job),
            (Cue::App, parsed.app),
        ];
        let mut patterns: Vec<Pattern> = Vec::new();
        for (cue, langs) in sections {
            for (lang, phrases) in langs {
                if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
                    return Err(CueError {
                        file: file.into(),
                        message: format!("{lang:?} is not an ISO 639-1 code"),
                    });
                }
                for p in phrases {
                    let prefix = p.ends_with('*');
                    let phrase = fold(p.trim_end_matches('*').trim());
                    if phrase.is_empty() || phrase.len() > 80 {
                        return Err(CueError {
                            file: file.into(),
                            message: format!("{lang}: phrase {p:?} must hold 1 to 80 characters"),
                        });
                    }
                    if !patterns
                        .iter()
                        .any(|q| q.cue == cue && q.phrase == phrase && q.prefix == prefix)
                    {
                        patterns.push(Pattern { cue, prefix, phrase });
                    }
                }
            }
        }
        if patterns.len() > MAX_PHRASES {
            return Err(CueError {
                file: file.into(),
                message: format!("more than {MAX_PHRASES} phrases"),
            });
        }
        Ok(Cues { matcher: OnceLock::new(), patterns })
    }

    /// Cues in `folded` text (see [`crate::text::fold`]).
    pub fn scan(&self, folded: &str) -> CueHits {
        let matcher = self.matcher.get_or_init(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::ContiguousNFA))
                .build(self.phrases())
                .ok()
        });
        let found = matcher
            .iter()
            .flat_map(|m| m.find_overlapping_iter(folded))
            .map(|m| (m.pattern().as_usize(), m.start(), m.end()));
        self.scan_from(folded, found)
    }

    /// The phrases, in pattern-index order, for an automaton that also holds other
    /// patterns (see [`Cues::scan_from`]).
    pub(crate) fn phrases(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.phrase.as_str())
    }

    /// [`Cues::phrases`], each with whether it may end inside a word (`verifi*`).
    pub(crate) fn phrase_ends(&self) -> impl Iterator<Item = (&str, bool)> {
        self.patterns.iter().map(|p| (p.phrase.as_str(), p.prefix))
    }

    /// [`Cues::scan`] from the overlapping matches `(pattern, start, end)` of
    /// [`Cues::phrases`] in `folded`, found by the caller in the same order.
    pub(crate) fn scan_from(
        &self,
        folded: &str,
        found: impl Iterator<Item = (usize, usize, usize)>,
    ) -> CueHits {
        let mut hits = CueHits::default();
        for (pattern, start, end) in found {
            let Some(p) = self.patterns.get(pattern) else { continue };
            let before = folded.get(..start).and_then(|s| s.chars().next_back());
            let after = folded.get(end..).and_then(|s| s.chars().next());
            // phrases of scripts written without spaces match inside words
            let first_char =
                p.phrase.chars().next().is_some_and(|c| is_word_char(c) && !spaceless(c));
            let last_char =
                p.phrase.chars().next_back().is_some_and(|c| is_word_char(c) && !spaceless(c));
            if first_char && before.is_some_and(is_word_char) {
                continue;
            }
            if !p.prefix && last_char && after.is_some_and(is_word_char) {
                continue;
            }
            // ...but never start or end inside a syllable (`ศาล`, court, is not in `ศาลา`)
            if (!first_char && cuts_syllable_before(before))
                || (!p.prefix && !last_char && cuts_syllable_after(after))
            {
                continue;
            }
            let i = p.cue as usize;
            hits.mask |= p.cue.bit();
            if let Some(c) = hits.counts.get_mut(i) {
                *c = c.saturating_add(1);
            }
            if let Some(f) = hits.first.get_mut(i)
                && f.is_none()
            {
                let as_u32 = |v: usize| u32::try_from(v).ok();
                *f = as_u32(pattern)
                    .zip(as_u32(start))
                    .zip(as_u32(end))
                    .map(|((p, s), e)| (p, s, e));
            }
        }
        hits
    }

    /// The first phrase that matched `cue`, for reasons.
    pub fn example<'a>(&'a self, hits: &CueHits, cue: Cue) -> Option<&'a str> {
        let (idx, _, _) = hits.first.get(cue as usize).copied().flatten()?;
        self.patterns.get(usize::try_from(idx).ok()?).map(|p| p.phrase.as_str())
    }

    /// The words of `original` (the text `scan` saw folded) that matched `cue` first, as
    /// written (`impayé`, not `impaye`); falls back to the catalogued phrase.
    pub fn example_as_written(&self, hits: &CueHits, cue: Cue, original: &str) -> Option<String> {
        self.span_as_written(hits, cue, original)
            .and_then(|span| original.get(span))
            .map(|w| w.chars().filter(|c| !c.is_control()).take(60).collect())
            .or_else(|| self.example(hits, cue).map(str::to_string))
    }

    /// The byte span in `original` (the text `scan` saw folded) of the first match of `cue`.
    pub fn span_as_written(
        &self,
        hits: &CueHits,
        cue: Cue,
        original: &str,
    ) -> Option<std::ops::Range<usize>> {
        let (_, start, end) = hits.first.get(cue as usize).copied().flatten()?;
        let (start, end) = (start as usize, end as usize);
        if original.is_ascii() {
            return original.get(start..end).map(|_| start..end);
        }
        // Folding is char by char, so folded offsets map back by folding each char.
        let mut folded_len = 0usize;
        let mut from = None;
        let mut buf = String::new();
        for (i, c) in original.char_indices() {
            if folded_len == start && from.is_none() {
                from = Some(i);
            }
            folded_len += crate::text::folded_len(c, &mut buf);
            if folded_len == end {
                return from.map(|from| from..i + c.len_utf8());
            }
            if folded_len > end {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &[Cue]) {
        let cues = match Cues::builtin() {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let hits = cues.scan(&fold(text));
        let got: Vec<Cue> = Cue::ALL.into_iter().filter(|c| hits.has(*c)).collect();
        assert_eq!(got, expect, "cues in {text:?}");
    }

    #[test]
    fn cue_categories() {
        check(
            "Ditt BankID har spärrats. Aktivera det igen inom 24 timmar",
            &[Cue::Urgency, Cue::Threat, Cue::Credential],
        );
        check("Réglez 35 € avant majoration", &[Cue::Threat, Cue::Payment]);
        check("Votre colis sera livré demain", &[Cue::Delivery, Cue::Authority]);
        check("Hi mum, this is my new number", &[Cue::Personal]);
        check("Your one-time password is 482913", &[Cue::Credential, Cue::Code]);
        check("Aapka bank account band ho jayega", &[Cue::Threat, Cue::Authority]);
        check(
            "Rekening Anda akan diblokir, segera verifikasi",
            &[Cue::Urgency, Cue::Threat, Cue::Credential, Cue::Authority],
        );
        check("Vérifiez votre compte", &[Cue::Credential, Cue::Authority]);
        check("Alarm: DI1 changed to HIGH at site X", &[]);
        check("Mega korting! 50% op alle schoenen", &[Cue::Marketing]);
        check("hai diritto a un rimborso", &[Cue::Reward]);
        check("Kindly renew before the deadline", &[Cue::Urgency, Cue::Request]);
        check("Si ce n'est pas vous, signalez-le", &[Cue::Disown]);
        check("お客様の口座は停止されました", &[Cue::Threat, Cue::Authority]);
        check("Váš účet byl zablokován", &[Cue::Threat, Cue::Authority]);
    }

    #[test]
    fn cues_are_whole_words() {
        check("repaying", &[]);
        check("fineness", &[]);
    }

    #[test]
    fn thai_cues_match_inside_words() {
        // Thai writes no spaces between words: "your account has been suspended, please
        // verify your identity" is one run of letters
        check("บัญชีของท่านถูกระงับกรุณายืนยันตัวตน", &[Cue::Threat, Cue::Credential, Cue::Authority]);
        check("เย็นนี้กินข้าวด้วยกันไหม", &[]);
    }

    /// Written for this test: Thai cue words inside longer words that mean something else
    /// (a Thai phrase may start and end anywhere, but not inside a syllable).
    #[test]
    fn thai_cues_do_not_cut_syllables() {
        // "ศาล" (court) inside "ศาลา" (pavilion); "รางวัล" (prize) stays a reward
        check("นัดเจอกันที่ศาลาริมน้ำตอนเย็น", &[]);
        check("คุณได้รับรางวัลใหญ่", &[Cue::Reward]);
        // "ด่วน" (urgent) needs its tone mark: "ดวน" is not it
        check("ด่วนที่สุด", &[Cue::Urgency]);
    }

    #[test]
    fn examples_are_shown_as_written() {
        let cues = match Cues::builtin() {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        for (text, cue, expect) in [
            ("ANTAI : avis de contravention impayé. Réglez 35 €", Cue::Threat, "impayé"),
            ("Réglez 35 € avant majoration", Cue::Payment, "Réglez"),
            ("Ditt BankID har spärrats", Cue::Threat, "spärrats"),
            ("URGENT call now", Cue::Urgency, "URGENT"),
        ] {
            let hits = cues.scan(&fold(text));
            assert_eq!(
                cues.example_as_written(&hits, cue, text).as_deref(),
                Some(expect),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_cue_file() {
        assert!(Cues::parse("x.toml", "[urgency]\n").is_err());
    }
}
