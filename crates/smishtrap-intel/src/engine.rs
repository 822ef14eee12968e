//! Per-message analysis: extraction, brand and impersonation, explainable scoring, verdict.
//!
//! The score is a logistic combination of named features (each one a reason a person can
//! read) plus the text model's log-odds. The weights are set by hand, not learned, so that
//! structural evidence (a look-alike domain, a credential request behind a link) keeps
//! working on wording and brands the model never saw.

use smishtrap_event::SmsRecord;
use smishtrap_extract::{ExtractedUrl, defang};

use crate::analysis::{Analysis, NumberInfo, UrlInfo, Verdict};
use crate::catalog::{BrandId, Catalog, CatalogError, Mentions};
use crate::cues::{Cue, CueError, CueHits, Cues};
use crate::domains::Domains;
use crate::model::{Model, ModelError};
use crate::phrases::{Phrase, PhraseMatcher};
use crate::squat::{HostView, Impersonation, impersonation};
use crate::text::{Spliced, fold, splice};

/// Why an engine could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Cues(#[from] CueError),
    #[error(transparent)]
    Model(#[from] ModelError),
}

/// Options that apply to every message of a run.
#[derive(Debug, Clone, Default)]
pub struct AnalyzeOptions {
    /// ISO 3166-1 alpha-2 used for national numbers when the record has no `router_country`.
    pub default_region: Option<String>,
}

/// The loaded catalog, cue vocabulary and text model. Cheap to share across threads.
#[derive(Debug)]
pub struct Engine {
    catalog: Catalog,
    cues: Cues,
    model: Option<Model>,
    /// Brand text patterns then cue phrases in one matcher: one pass over the folded text
    /// finds both (`None` if it could not be built: each is then scanned on its own).
    words: Option<(PhraseMatcher, usize)>,
    /// The brand and cue phrases that are one word of ASCII letters, folded: the only ones a
    /// word written with digits for letters can spell (see `spell_out`).
    spellable: std::collections::HashSet<String, foldhash::fast::RandomState>,
}

/// Feature weights in log-odds.
mod w {
    pub(super) const BIAS: f32 = -0.4;
    /// Without the text model, its prior (most messages are wanted) is stood in for here.
    pub(super) const BIAS_RULES_ONLY: f32 = -1.5;
    /// A smishing verdict needs more evidence than "unwanted": log-odds at or above this.
    pub(super) const SMISHING_MIN: f32 = 1.5;
    pub(super) const IMPERSONATION: f32 = 5.0;
    pub(super) const BRAND_NON_OFFICIAL_LINK: f32 = 2.6;
    pub(super) const OFFICIAL_LINKS_ONLY: f32 = -3.5;
    /// Every link under a registry that vets its registrants (`vetted_suffixes` of `data/domains.toml`).
    pub(super) const VETTED_LINKS_ONLY: f32 = -1.5;
    pub(super) const SHORTENER: f32 = 1.4;
    pub(super) const IP_HOST: f32 = 2.0;
    pub(super) const MIXED_SCRIPT: f32 = 2.0;
    pub(super) const USERINFO: f32 = 1.5;
    pub(super) const SUSPICIOUS_TLD: f32 = 1.0;
    pub(super) const HYPHENATED_DOMAIN: f32 = 0.5;
    pub(super) const EVASIVE_LINK: f32 = 1.0;
    pub(super) const URGENCY: f32 = 0.8;
    pub(super) const THREAT: f32 = 1.0;
    pub(super) const REWARD: f32 = 0.8;
    pub(super) const CREDENTIAL: f32 = 1.2;
    pub(super) const PAYMENT: f32 = 0.9;
    pub(super) const DELIVERY: f32 = 0.3;
    pub(super) const MONEY: f32 = 0.5;
    pub(super) const MARKETING: f32 = 0.4;
    pub(super) const ACTION_ON_LINK: f32 = 1.0;
    pub(super) const CALL_BACK: f32 = 1.0;
    pub(super) const NUMBER_COUNTRY_MISMATCH: f32 = 0.8;
    /// No link, number or request to act: nowhere for the recipient to go.
    pub(super) const NO_CHANNEL: f32 = -1.0;
    /// A one-time code delivered without a link or a payment request.
    pub(super) const CODE_NOTICE: f32 = -1.5;
    /// A notice about the recipient's own account (its number masked), with no link, no
    /// call back and no lure: how banks and operators write (`notice.rs`).
    pub(super) const ACCOUNT_NOTICE: f32 = -1.5;
    /// A missed call or message reported by the number the text starts with, nothing asked
    /// but perhaps a call back: how operators forward missed calls.
    pub(super) const MISSED_CALL_NOTICE: f32 = -1.5;
    /// A receipt or account event with no link, number or stakes.
    pub(super) const EVENT_NOTICE: f32 = -1.0;
    /// In a notice (a code, an account report, a missed call) wording alone adds at most
    /// this: the structure says who writes, the words only how.
    pub(super) const NOTICE_MODEL_MAX: f32 = 0.5;
    /// A trusted party invoked with a request that leads to data or money (docs/verdict.md).
    pub(super) const LURE: f32 = 1.5;
    /// The same without a threat, reward or request for data or money in the words.
    pub(super) const LURE_WITHOUT_STAKES: f32 = 0.3;
    /// Unwanted-looking, with a link or number, pressure or a hidden destination, and no
    /// marketing wording.
    /// Decides the class, not whether the message is unwanted: no weight.
    pub(super) const SELLS_NOTHING: f32 = 0.0;
    /// A prize, refund or grant the recipient must pay for first (advance-fee fraud), in a
    /// text with no marketing wording.
    pub(super) const PAY_FIRST_REWARD: f32 = 1.0;
    /// "Hi mum, new number": per phrase, at most two.
    pub(super) const PERSONAL: f32 = 1.0;
    /// A stranger opening with "is this Michael?" (a wrong-number scam's first message).
    pub(super) const STRANGER: f32 = 2.0;
    /// ...whose chat-like wording the text model, trained on personal ham, reads as
    /// ordinary, as it reads family asking for money from a new number: in those it lowers
    /// the score by at most this.
    pub(super) const CHAT_LURE_MODEL_MIN: f32 = -1.0;
    /// A brand or cue word written with digits for letters (`V0DAF0NE`, `bl0cked`).
    pub(super) const DISGUISED_WORD: f32 = 1.0;
    pub(super) const MODEL: f32 = 1.0;
    pub(super) const MODEL_CLAMP: f32 = 6.0;
}

/// Who a lure invokes.
#[derive(Debug, Clone, Copy)]
enum Party {
    Brand,
    Personal,
    /// A stranger writing as if the recipient were someone they know.
    Stranger,
    Authority,
    /// An unnamed employer offering easy pay for little work.
    Employer,
    Courier,
    Service,
}

/// What a lure asks for.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Pay,
    Details,
    Link,
    Call,
    Reply,
    /// A generic request to act (update, renew, complete, unlock, contact), beside a threat
    /// or a reward.
    Act,
}

/// Everything the scorer weighs for one message.
struct Evidence<'a> {
    text: &'a str,
    /// The text with links and numbers replaced by placeholders (what cues matched on).
    words: &'a str,
    urls: &'a [ExtractedUrl],
    numbers: &'a [smishtrap_extract::MentionedNumber],
    masked_link: bool,
    /// The text ends on a colon where its link was cut away ([`Spliced::cut_link`]).
    cut_link: bool,
    masked_number: bool,
    /// An e-mail address, written out or masked: a way to write back, as a number is.
    mail_address: bool,
    impersonations: &'a [(usize, Impersonation)],
    brand: Option<BrandId>,
    mentioned: &'a [BrandId],
    cues: &'a CueHits,
    /// The first word written with digits for letters that spells a brand or a cue word.
    disguised: Option<&'a str>,
    model_logit: Option<f32>,
}

/// What the first step of [`Engine::analyze`] reads in a record.
struct Read<'r> {
    record: &'r SmsRecord,
    /// The text, cut to the extractor's bound.
    text: &'r str,
    recipient: Option<NumberInfo>,
    sender: Option<NumberInfo>,
    extracted: smishtrap_extract::Extracted,
    spliced: Spliced,
    lang: Option<String>,
}

/// The region that numbers are read in: the router's country, else the default.
fn region<'a>(record: &'a SmsRecord, options: &'a AnalyzeOptions) -> Option<&'a str> {
    record
        .router_country
        .as_deref()
        .map(str::trim)
        .filter(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
        .or(options.default_region.as_deref())
}

/// What [`Engine::analyze`] finds in a record before it scores: [`Evidence`], owned, and the
/// parts of the analysis that carry over.
struct Prepared<'r> {
    text: &'r str,
    words: String,
    extracted: smishtrap_extract::Extracted,
    masked_link: bool,
    masked_number: bool,
    cut_link: bool,
    mail_address: bool,
    lang: Option<String>,
    recipient: Option<NumberInfo>,
    sender: Option<NumberInfo>,
    impersonations: Vec<(usize, Impersonation)>,
    brand: Option<BrandId>,
    mentioned: Vec<BrandId>,
    cues: CueHits,
    disguised: Option<String>,
    model_logit: Option<f32>,
}

/// A reason's sentence: fixed, or written only if the reason is shown (most are not, and
/// writing every one cost a few percent of an analysis).
enum Sentence<'a> {
    Fixed(&'static str),
    Later(Box<dyn FnOnce() -> String + 'a>),
}

impl Sentence<'_> {
    /// The text model's reasons, which rank after the concrete evidence.
    fn is_model(&self) -> bool {
        matches!(self, Sentence::Fixed(s) if s.ends_with("(text model)"))
    }

    fn write(self) -> String {
        match self {
            Sentence::Fixed(s) => s.to_string(),
            Sentence::Later(f) => f(),
        }
    }
}

/// What [`Reasons`] takes as a sentence: a fixed one, or a closure that writes it.
trait Say<'a> {
    fn sentence(self) -> Sentence<'a>;
}

impl<'a> Say<'a> for &'static str {
    fn sentence(self) -> Sentence<'a> {
        Sentence::Fixed(self)
    }
}

impl<'a, F: FnOnce() -> String + 'a> Say<'a> for F {
    fn sentence(self) -> Sentence<'a> {
        Sentence::Later(Box::new(self))
    }
}

/// The reasons of one verdict: weight, sentence, and whether the sentence claims
/// impersonation or a lure (which only a smishing verdict may list).
struct Reasons<'a>(Vec<(f32, Sentence<'a>, bool)>);

impl<'a> Reasons<'a> {
    fn add(&mut self, weight: f32, reason: impl Say<'a>) -> f32 {
        self.0.push((weight, reason.sentence(), false));
        weight
    }

    /// A reason that claims impersonation or a lure.
    fn lure(&mut self, weight: f32, reason: impl Say<'a>) -> f32 {
        self.0.push((weight, reason.sentence(), true));
        weight
    }

    /// The reasons that argue for `verdict`, strongest first, at most six: for `ham` those
    /// that lower the score; for `spam` those that raise it without claiming impersonation;
    /// for `smishing` the impersonation and lure claims first, then the rest that raise it.
    fn explain(self, verdict: Verdict) -> Vec<String> {
        // The model's verdict is listed after the concrete evidence it agrees with.
        let key = |weight: f32, reason: &Sentence<'_>| {
            if reason.is_model() { weight.abs().min(0.9) } else { weight.abs() }
        };
        let mut kept: Vec<(f32, Sentence<'_>, bool)> = self
            .0
            .into_iter()
            .filter(|(weight, _, lure)| match verdict {
                Verdict::Ham => *weight < 0.0,
                Verdict::Spam => *weight > 0.0 && !lure,
                Verdict::Smishing => *weight > 0.0 || *lure,
            })
            .collect();
        // Strongest evidence first; ties keep the order features were checked in.
        kept.sort_by(|a, b| b.2.cmp(&a.2).then(key(b.0, &b.1).total_cmp(&key(a.0, &a.1))));
        let mut reasons: Vec<String> =
            kept.into_iter().take(6).map(|(_, s, _)| s.write()).collect();
        if reasons.is_empty() {
            reasons.push(
                match verdict {
                    Verdict::Ham => "nothing in it argues for spam or smishing",
                    _ => "its wording and structure add up to an unwanted message",
                }
                .to_string(),
            );
        }
        reasons
    }
}

impl Engine {
    /// The shipped catalog, cues and model.
    pub fn builtin() -> Result<Engine, EngineError> {
        Ok(Engine::new(Catalog::builtin()?, Cues::builtin()?, Some(Model::builtin()?)))
    }

    /// An engine from parts; without a model it scores with the rules alone.
    pub fn new(catalog: Catalog, cues: Cues, model: Option<Model>) -> Engine {
        let brands = catalog.text_patterns().len();
        let patterns: Vec<Phrase<'_>> = catalog
            .text_patterns()
            .iter()
            .map(|p| (p.as_str(), false))
            .chain(cues.phrase_ends())
            .collect();
        // Folded text has no ASCII capitals, so matching without case is the brand
        // matcher's rule and changes nothing for the (folded) cue phrases.
        let words = PhraseMatcher::new(&patterns, true).map(|m| (m, brands));
        let spellable = patterns
            .iter()
            .map(|(p, _)| fold(p))
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        Engine { catalog, cues, model, words, spellable }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Analyses one record. `id` is the record's output id. Never panics.
    pub fn analyze(&self, record: &SmsRecord, id: String, options: &AnalyzeOptions) -> Analysis {
        self.conclude(self.prepare(self.read(record, options), options), id)
    }

    /// [`Engine::analyze`] of each record, in order, each step taken for all of them before
    /// the next (links, numbers and language; brands, cues and the model; the score), so
    /// that each step's code stays in the instruction cache from record to record (an
    /// analysis runs through more code than that cache holds).
    pub fn analyze_all<'r>(
        &self,
        records: impl IntoIterator<Item = (&'r SmsRecord, String)>,
        options: &AnalyzeOptions,
    ) -> Vec<Analysis> {
        let read: Vec<(Read<'r>, String)> =
            records.into_iter().map(|(record, id)| (self.read(record, options), id)).collect();
        let prepared: Vec<(Prepared<'r>, String)> =
            read.into_iter().map(|(read, id)| (self.prepare(read, options), id)).collect();
        prepared.into_iter().map(|(p, id)| self.conclude(p, id)).collect()
    }

    /// The first step of [`Engine::analyze`]: links, numbers and language.
    fn read<'r>(&self, record: &'r SmsRecord, options: &AnalyzeOptions) -> Read<'r> {
        // Same bound as the extractor: an SMS is at most a few KiB; longer texts are cut (on
        // a char boundary) so per-message work and memory stay bounded.
        let full = record.text.as_str();
        let mut cut = full.len().min(smishtrap_extract::MAX_TEXT_BYTES);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = full.get(..cut).unwrap_or("");
        let region = region(record, options);
        let recipient = record.to.as_deref().and_then(|raw| number_info(raw, region));
        let sender = record.from.as_deref().and_then(|raw| number_info(raw, region));
        let extracted = smishtrap_extract::extract_with(text, region);

        // Text with links and numbers replaced (masked ones too): language, brand mentions,
        // cues and the model read the words, not the hostnames (those are judged by
        // impersonation) nor the digits. The language reads the text with links as spaces.
        let spliced = splice(
            text,
            extracted.urls.iter().map(|u| u.span.clone()),
            extracted.numbers.iter().map(|n| n.span.clone()),
        );
        let lang = smishtrap_extract::detect_language(&spliced.without_urls).map(str::to_string);
        Read { record, text, recipient, sender, extracted, spliced, lang }
    }

    /// The second step of [`Engine::analyze`]: everything else it finds before it scores.
    fn prepare<'r>(&self, read: Read<'r>, options: &AnalyzeOptions) -> Prepared<'r> {
        let Read { record, text, recipient, sender, extracted, spliced, lang } = read;
        let Spliced { words, without_urls: _, masked_link, masked_number, masked_mail, cut_link } =
            spliced;
        let region = region(record, options);
        // One fold per message, shared by brand mentions, cues and the model; the URL
        // placeholder matches no brand or cue.
        let folded = fold(&words);
        // Words written with digits for letters (`V0DAF0NE`, `bl0cked`) name brands and
        // cues as spelled out; the model reads them as written.
        let spelled = self.spell_out(&words);
        let scanned = spelled.as_ref().map_or(words.as_str(), |(spelled, _)| spelled.as_str());
        let spelled_folded = spelled.as_ref().map(|(spelled, _)| fold(spelled));
        let scanned_folded = spelled_folded.as_deref().unwrap_or(&folded);
        let (mut mentions, mut cues) = self.scan_words(scanned, scanned_folded);
        // a messenger named as the way to reach the sender ("add me on WhatsApp") is not
        // the brand the text invokes, nor is the mail provider of an address (`@gmail.com`)
        mentions.brands.retain(|m| {
            let mail_domain = scanned_folded.get(..m.at).is_some_and(|b| b.ends_with('@'));
            let channel = self.catalog.brand(m.brand).channel
                && crate::text::names_a_channel(scanned_folded, m.at, m.len);
            !(mail_domain || channel)
        });
        // An opt-out instruction ("Reply STOP to opt out") asks for nothing: its words are
        // no cue but for marketing, which they still are.
        let opt_out = needles()
            .stop
            .find(folded.as_bytes())
            .is_some()
            .then(|| crate::text::blank_opt_out(scanned));
        if let Some(blanked) = opt_out.flatten() {
            let (_, mut without) = self.scan_words(&blanked, &fold(&blanked));
            without.keep_from(&cues, Cue::Marketing);
            cues = without;
        }
        // brand choice (catalog.rs): the recipient's country, else the router's, and the
        // language decide between brands that share a word
        let country = recipient.as_ref().and_then(|r| r.country.as_deref()).or(region);
        let mentioned = self.catalog.named(&mentions, country, lang.as_deref());

        let mut impersonations: Vec<(usize, Impersonation)> = Vec::new();
        for (i, u) in extracted.urls.iter().enumerate() {
            if let Some(imp) = self.impersonation(u, &mentioned) {
                impersonations.push((i, imp));
            }
        }

        // A look-alike of a brand the text does not name, and that neither serves the
        // recipient nor writes in the message's language, while the text names another
        // brand, is a chance resemblance (`cpost-…`, one bit from `bpost`, in a Czech text
        // naming Česká pošta): the named brand's check of the link decides instead.
        if !mentioned.is_empty() {
            impersonations.retain(|(_, imp)| {
                mentioned.contains(&imp.brand)
                    || self.catalog.fits(imp.brand, country, lang.as_deref())
            });
        }
        let imitated: Vec<BrandId> = impersonations.iter().map(|(_, i)| i.brand).collect();
        let brand =
            self.catalog.choose_among(&mentions, &mentioned, &imitated, country, lang.as_deref());

        let model_logit = self
            .model
            .as_ref()
            .map(|m| m.logit_folded(&folded, &words).clamp(-w::MODEL_CLAMP, w::MODEL_CLAMP));

        Prepared {
            text,
            mail_address: masked_mail || crate::text::has_mail_address(text),
            words,
            extracted,
            masked_link,
            masked_number,
            cut_link,
            lang,
            recipient,
            sender,
            impersonations,
            brand,
            mentioned,
            cues,
            disguised: spelled.map(|(_, word)| word),
            model_logit,
        }
    }

    /// The verdict, score and reasons of prepared evidence, and the analysis that carries
    /// them.
    fn conclude(&self, p: Prepared<'_>, id: String) -> Analysis {
        let (score, verdict, reasons) = self.score(&Evidence {
            text: p.text,
            words: &p.words,
            urls: &p.extracted.urls,
            numbers: &p.extracted.numbers,
            masked_link: p.masked_link,
            masked_number: p.masked_number,
            cut_link: p.cut_link,
            mail_address: p.mail_address,
            impersonations: &p.impersonations,
            brand: p.brand,
            mentioned: &p.mentioned,
            cues: &p.cues,
            disguised: p.disguised.as_deref(),
            model_logit: p.model_logit,
        });
        let Prepared { extracted, impersonations, brand, lang, recipient, sender, .. } = p;

        // the extracted strings move into the result (no copies)
        let urls = extracted
            .urls
            .into_iter()
            .enumerate()
            .map(|(i, u)| {
                let imp = impersonations.iter().find(|(at, _)| *at == i).map(|(_, imp)| *imp);
                UrlInfo {
                    url: u.url,
                    host: u.host,
                    registrable_domain: u.registrable_domain.map(|d| d.into_string()),
                    impersonates: imp.map(|i| self.catalog.brand(i.brand).name.clone()),
                    technique: imp.map(|i| i.technique.as_str().to_string()),
                    shortener: u.shortener,
                }
            })
            .collect();

        Analysis {
            id,
            verdict,
            score,
            reasons,
            lang,
            recipient,
            sender,
            urls,
            brand: brand.map(|b| self.catalog.brand(b).name.clone()),
            campaign: None,
            phase: None,
        }
    }

    /// Brand mentions and cues of `words` (`folded` is its fold), in one pass when the
    /// combined automaton exists; the same result as scanning each on its own.
    fn scan_words(&self, words: &str, folded: &str) -> (Mentions, CueHits) {
        let Some((matcher, brands)) = &self.words else {
            return (self.catalog.mentions(words, folded), self.cues.scan(folded));
        };
        let (mut found, mut caps) = (Vec::new(), Vec::new());
        matcher.find_with(folded, &mut found, self.catalog.caps_matcher(), words, &mut caps);
        let brands = *brands;
        let named = found.iter().copied().filter(|&(at, _, _)| at < brands);
        let cued = found
            .iter()
            .filter_map(|&(at, start, end)| at.checked_sub(brands).map(|cue| (cue, start, end)));
        (self.catalog.mentions_from(words, folded, named, &caps), self.cues.scan_from(folded, cued))
    }

    /// `words` with each word written with digits for letters (`FL1PKART`, `bl0cked`) spelled
    /// out where that spells a brand or a cue word (same byte offsets), and the first such
    /// word as written; `None` when there is none. Legitimate senders spell their own name
    /// and their notices plainly; writing them this way is meant to slip past filters.
    fn spell_out(&self, words: &str) -> Option<(String, String)> {
        let mut spelled: Option<(String, String)> = None;
        for range in crate::text::leet_words(words) {
            let Some(word) = words.get(range.clone()) else { continue };
            let found = [b'i', b'l']
                .into_iter()
                .map(|one| crate::text::unleet(word, one))
                .find(|plain| self.spellable.contains(&plain.to_ascii_lowercase()));
            if let Some(plain) = found {
                let (text, _) =
                    spelled.get_or_insert_with(|| (words.to_string(), word.to_string()));
                text.replace_range(range, &plain);
            }
        }
        spelled
    }

    fn impersonation(&self, u: &ExtractedUrl, mentioned: &[BrandId]) -> Option<Impersonation> {
        if u.ip_host {
            return None;
        }
        let view = HostView {
            host: &u.host,
            host_unicode: &u.host_unicode,
            skeleton: &u.skeleton,
            registrable: u.registrable_domain.as_ref().map(|d| d.as_str()),
            suffix: u.registrable_domain.as_ref().map(|d| d.suffix()),
            mixed_script: u.mixed_script,
        };
        impersonation(&self.catalog, &view, mentioned)
    }

    fn score(&self, e: &Evidence<'_>) -> (f32, Verdict, Vec<String>) {
        let Evidence { text, words, urls, numbers, impersonations, brand, mentioned, cues, .. } =
            *e;
        let mut r = Reasons(Vec::new());
        let mut total = if e.model_logit.is_some() { w::BIAS } else { w::BIAS_RULES_ONLY };
        // A scheme or `www.` the extractor could not turn into a URL is a link broken up on
        // purpose (`https://csam-be. info`): still a way out of the message.
        let broken_link = urls.is_empty() && {
            let lower = text.to_ascii_lowercase();
            // `http://` and `https://` contain `://`: not searched for on their own
            needles().broken_link.iter().any(|m| m.find(lower.as_bytes()).is_some())
                || spaced_domain(&lower, self.catalog.domains())
                || spelled_domain(&lower, self.catalog.domains())
        };
        // A masked link (`<URL>`, `[link]`) is a link whose destination we cannot inspect;
        // so is a text that ends on a colon (`...verify via:`, `check the status:-`): its
        // link was cut off.
        let dangling = e.cut_link;
        // A text that ends on an ellipsis was cut short by whoever forwarded it: its ask
        // may be in the part we do not see.
        let cut_off = {
            let end = text.trim_end();
            end.ends_with("...") || end.ends_with('…')
        };
        let has_link = !urls.is_empty() || broken_link || e.masked_link || dangling;
        let valid_numbers: Vec<&smishtrap_extract::PhoneNumber> =
            numbers.iter().filter_map(|n| n.number.as_ref()).collect();
        // A number written in the text is a channel even when it does not validate
        // (premium and short codes often do not), and so is a masked one, and an e-mail
        // address to write to.
        let mail_only = numbers.is_empty() && !e.masked_number && e.mail_address;
        let has_number = !numbers.is_empty() || e.masked_number || e.mail_address;

        // Evidence that a link imitates a brand: never compatible with `ham`.
        let mut decisive = false;
        // Evidence of impersonation that a smishing verdict needs no more than "unwanted" for.
        let mut strong_smishing = false;
        if let Some((u, imp)) =
            impersonations.iter().find_map(|(i, imp)| urls.get(*i).map(|u| (u, imp)))
        {
            let b = self.catalog.brand(imp.brand);
            total += r.lure(w::IMPERSONATION, move || {
                format!("link {} imitates {} ({})", show_host(u), b.name, imp.technique.describe())
            });
            decisive = true;
        }

        let official = |u: &ExtractedUrl| {
            u.registrable_domain
                .as_ref()
                .map(|d| !self.catalog.official_for(d.as_str()).is_empty())
                .unwrap_or(false)
        };
        let all_official = !urls.is_empty() && urls.iter().all(official);
        let domains = self.catalog.domains();
        let vetted = |u: &ExtractedUrl| {
            u.registrable_domain.as_ref().is_some_and(|d| domains.is_vetted(d.suffix()))
        };
        // A shortener or a link service's customer subdomain is not a brand's domain: it
        // hides where it goes (weighed as such below) rather than standing in for one.
        let relayed = |u: &ExtractedUrl| u.shortener || domains.is_link_service_host(&u.host);
        // ...except the subdomain a link service gave the very brand the message names
        // (`mybank.onelink.me` in a text from MyBank): the service vets its customers
        let brand_service_link = |u: &ExtractedUrl| {
            let customer = u.host.split('.').next().unwrap_or("");
            domains.is_link_service_host(&u.host)
                && brand.is_some_and(|b| {
                    mentioned.contains(&b)
                        && self.catalog.brand(b).tokens.iter().any(|t| t == customer)
                })
        };
        // links a vetted registrant holds are treated as the sender's own from here on
        let all_vetted = !all_official
            && impersonations.is_empty()
            && !urls.is_empty()
            && urls.iter().all(|u| official(u) || vetted(u) || brand_service_link(u));
        if all_vetted {
            total += r.add(w::VETTED_LINKS_ONLY, move || {
                let host = urls
                    .iter()
                    .find(|u| !official(u))
                    .map(show_host)
                    .unwrap_or_default();
                format!("links only to domains of vetted holders ({host}: its registry or link service checks who registers)")
            });
        }
        let own_links = all_official || all_vetted;
        if impersonations.is_empty()
            && !all_vetted
            && has_link
            && let Some(b) = brand.filter(|b| mentioned.contains(b))
            && let Some(u) = urls.iter().find(|u| !u.ip_host && !official(u) && !relayed(u))
        {
            let name = &self.catalog.brand(b).name;
            total += r.lure(w::BRAND_NON_OFFICIAL_LINK, move || {
                format!(
                    "names {name} but links to {}, which is not an official {name} domain",
                    show_host(u)
                )
            });
            strong_smishing = true;
        }
        if all_official {
            total += r.add(w::OFFICIAL_LINKS_ONLY, move || {
                let host = urls.first().map(show_host).unwrap_or_default();
                format!("links only to official brand domains ({host})")
            });
        }
        if let Some(u) = urls.iter().find(|u| u.shortener) {
            total += r.add(w::SHORTENER, move || {
                format!("hides its destination behind a link shortener ({})", show_host(u))
            });
        }
        if let Some(u) = urls.iter().find(|u| u.ip_host) {
            total +=
                r.add(w::IP_HOST, move || format!("links to a bare IP address ({})", show_host(u)));
            strong_smishing = true;
        }
        if let Some(u) = urls.iter().find(|u| u.mixed_script) {
            total += r.lure(w::MIXED_SCRIPT, move || {
                format!("link {} mixes alphabets to look like another name", show_host(u))
            });
            decisive = true;
        }
        if let Some(u) = urls.iter().find(|u| u.has_userinfo) {
            total += r.add(w::USERINFO, move || {
                format!("link {} hides its real host after an @", show_host(u))
            });
        }
        if let Some(u) = urls.iter().find(|u| !official(u) && suspicious_tld(u, domains)) {
            total += r.add(w::SUSPICIOUS_TLD, move || {
                let tld = u.registrable_domain.as_ref().map(|d| d.suffix()).unwrap_or_default();
                format!("link uses .{tld}, a top-level domain common in phishing")
            });
        }
        if urls.iter().any(|u| {
            !official(u) && u.registrable_domain.as_ref().is_some_and(|d| d.name().contains('-'))
        }) {
            total += w::HYPHENATED_DOMAIN;
        }
        if broken_link {
            total += r.add(
                w::EVASIVE_LINK + 0.5,
                "contains a link broken up so that filters cannot read it",
            );
            if brand.is_some_and(|b| mentioned.contains(&b)) {
                strong_smishing = true;
            }
        }
        if let Some(u) = urls.iter().find(|u| u.defanged) {
            total += r.add(w::EVASIVE_LINK, move || {
                format!("writes its link {} in a broken-up form that dodges filters", show_host(u))
            });
        }

        let example = |cue: Cue| {
            self.cues
                .example_as_written(cues, cue, words)
                .map(|e| format!(" (\"{e}\")"))
                .unwrap_or_default()
        };
        if let Some(word) = e.disguised {
            total += r.add(w::DISGUISED_WORD, move || {
                format!(
                    "writes a word with digits for letters (\"{word}\"), as filter evasion does"
                )
            });
        }
        // "Hi, is this Michael?": a stranger's opener, the first message of a wrong-number
        // scam (the chat that follows leads to an investment or a payment)
        // (a question far into the text is no opener: folding makes a char at most four
        // times longer, so one past this in the folded text is past the greeting as written)
        let stranger = cues
            .first_start(Cue::Stranger)
            .is_some_and(|at| at <= 4 * crate::text::GREETING_MAX)
            .then(|| self.cues.span_as_written(cues, Cue::Stranger, words))
            .flatten()
            .and_then(|question| crate::text::asked_name(words, question));
        if let Some(name) = stranger {
            let name: String = name.chars().take(40).collect();
            total += r.add(w::STRANGER, move || {
                format!(
                    "opens by asking whether the recipient is \"{name}\", as wrong-number scams do"
                )
            });
        }
        if cues.has(Cue::Urgency) {
            total += r.add(w::URGENCY, move || {
                format!("pushes for urgent action{}", example(Cue::Urgency))
            });
        }
        if cues.has(Cue::Threat) {
            total += r.add(w::THREAT, move || {
                format!("threatens a blocked account, fine or penalty{}", example(Cue::Threat))
            });
        }
        // "If this wasn't you" beside a link or number that is not the sender's own (a notice
        // points to its own app or the number on the card): the alarm of a fake account event.
        // A bank's transaction alert (a masked account, the transaction's reference, no link)
        // says to call its dispute line if it was not the recipient; a toll-free line is the
        // bank's own (lures give mobile numbers: toll-free lines take a registered business),
        // so neither its "not you?" nor its call back is a lure's ask.
        let transaction_alert = has_number
            && !has_link
            && crate::notice::has_transaction_reference(text)
            && crate::notice::has_masked_account(text)
            && valid_numbers.first().is_some_and(|n| smishtrap_extract::is_toll_free(n));
        let disowned =
            cues.has(Cue::Disown) && !transaction_alert && ((has_link && !own_links) || has_number);
        if disowned && !cues.has(Cue::Threat) {
            total += r.add(w::THREAT, move || {
                format!(
                    "reports an account event and says to act if it was not the recipient{}",
                    example(Cue::Disown)
                )
            });
        }
        let threat = cues.has(Cue::Threat) || disowned;
        if cues.has(Cue::Reward) {
            total += r.add(w::REWARD, move || {
                format!("promises money, a refund or a prize{}", example(Cue::Reward))
            });
        }
        // A document or detail named in a notice that gives no way to reach anyone and
        // presses for nothing ("your PAN card application has been received") asks for
        // nothing.
        // a link, a number (masked or not), an e-mail address, a call to act or a question
        let reachable = has_link || has_number || cues.has(Cue::Action) || stranger.is_some();
        let credential = cues.has(Cue::Credential)
            && (reachable || !cues.has(Cue::Notice) || threat || cues.has(Cue::Urgency));
        // "Log in to the app to view", "pay in the app": with no link, number, reply or
        // masked part beside it, the app is the sender's own (a lure needs a way to reach
        // the sender that the recipient does not already have)
        let own_app = cues.has(Cue::App)
            && !has_link
            && !has_number
            && !cues.has(Cue::Action)
            && !e.masked_number
            && !cut_off
            && !cues.has(Cue::Personal)
            && stranger.is_none();
        // A payment reported as done (`... was successful`), with no link and nothing
        // threatened or asked for, is a receipt: its "payment" asks for nothing.
        let receipt =
            cues.has(Cue::Notice) && cues.has(Cue::Payment) && !has_link && !credential && !threat;
        let payment = cues.has(Cue::Payment) && !receipt;
        // (details given in the sender's own app are no evidence)
        if credential && !own_app {
            total += r.add(w::CREDENTIAL, move || {
                format!(
                    "asks to log in, verify identity or update details{}",
                    example(Cue::Credential)
                )
            });
        }
        // A payment asked for with nowhere to make it (no link, number or reply; "update your
        // payment method in the app") is how a service reminds its own customers: the money
        // alone is not at stake then.
        let pay_in_own_channel =
            payment && !has_link && !has_number && !cues.has(Cue::Action) && !e.masked_number;
        if payment && !pay_in_own_channel {
            total += r.add(w::PAYMENT, move || {
                format!("asks for a payment or fee{}", example(Cue::Payment))
            });
        }
        let amount = money_amount(text);
        let has_amount = amount.is_some();
        if let Some(amount) = amount {
            total += r.add(w::MONEY, move || format!("mentions a sum of money ({amount})"));
        }
        if cues.has(Cue::Delivery) {
            total += r.add(w::DELIVERY, move || {
                format!("talks about a parcel or delivery{}", example(Cue::Delivery))
            });
        }
        if cues.has(Cue::Marketing) {
            let n = f32::from(cues.count(Cue::Marketing).min(4));
            total += r.add(w::MARKETING * n, move || {
                format!("uses marketing or prize wording{}", example(Cue::Marketing))
            });
        }
        // money promised but paid for first: an advance fee, not a sale (a sale's reward
        // comes with marketing words: "buy 500, get 600")
        if cues.has(Cue::Reward) && payment && !cues.has(Cue::Marketing) {
            total += r
                .add(w::PAY_FIRST_REWARD, "promises money or a prize but asks for a payment first");
        }
        let data_or_money_by_link = has_link && !own_links && (credential || payment);
        if data_or_money_by_link {
            total += r.lure(w::ACTION_ON_LINK, "asks for data or money through a link");
        }
        let call_back = has_number
            && !transaction_alert
            && (cues.has(Cue::Urgency) || cues.has(Cue::Reward) || threat || cues.has(Cue::Action));
        if call_back {
            let first_valid = valid_numbers.first().copied();
            total += r.add(w::CALL_BACK, move || {
                // the first valid number in E.164, else the first one as written (short
                // codes and premium numbers often do not validate)
                let shown = match first_valid {
                    Some(n) => n.e164.as_str().to_string(),
                    None => numbers
                        .first()
                        .map(|n| n.raw.chars().filter(|c| !c.is_control()).take(24).collect())
                        .unwrap_or_default(),
                };
                if mail_only {
                    "asks to write back to an e-mail address".to_string()
                } else if shown.is_empty() {
                    "asks to call or text back".to_string()
                } else {
                    format!("asks to call or text back {shown}")
                }
            });
        }
        // (a transaction alert names the merchant, not whose number it gives)
        if let Some(b) = brand.filter(|_| !transaction_alert) {
            let b = self.catalog.brand(b);
            if let Some(n) = valid_numbers
                .iter()
                .copied()
                .find(|n| n.country.as_deref().is_some_and(|c| !b.serves(c)))
            {
                total += r.add(w::NUMBER_COUNTRY_MISMATCH, move || {
                    format!(
                        "gives a {} number for {}, which serves other countries",
                        n.country.as_deref().unwrap_or("?"),
                        b.name
                    )
                });
            }
        }

        // An offer of work with a sum or a reward (easy daily pay): a task scam's opener,
        // whose private channel (a chat app, a reply) is where the fee is asked for.
        let job_offer = cues.has(Cue::Job)
            && (has_amount || cues.has(Cue::Reward) || cues.count(Cue::Job) >= 2);
        // The lure (docs/verdict.md): a party the recipient trusts, invoked, asking for an
        // action that leads to credentials, money or personal data. Links are not needed.
        // Who is invoked: only put into words when the lure is reported.
        // a relative "on a new number" first: the brand such messages name is the messenger
        let party_kind = if cues.has(Cue::Personal) {
            Some(Party::Personal)
        } else if stranger.is_some() {
            Some(Party::Stranger)
        } else if job_offer {
            // before a brand: the brand such offers name is the chat app or the employer
            Some(Party::Employer)
        } else if brand.is_some() {
            Some(Party::Brand)
        } else if cues.has(Cue::Authority) {
            Some(Party::Authority)
        } else if cues.has(Cue::Delivery) && (payment || credential) {
            Some(Party::Courier)
        } else if threat || credential {
            // a blocked account or a request to verify implies the service that holds it
            Some(Party::Service)
        } else {
            None
        };
        let party = |kind: Party| match kind {
            Party::Brand => brand.map(|b| self.catalog.brand(b).name.clone()).unwrap_or_default(),
            Party::Personal => {
                format!("a relative or friend on a new number{}", example(Cue::Personal))
            }
            Party::Stranger => "a stranger as if the recipient were someone they know".to_string(),
            Party::Authority => format!("a trusted organisation{}", example(Cue::Authority)),
            Party::Employer => format!("an employer offering easy pay{}", example(Cue::Job)),
            Party::Courier => "a courier".to_string(),
            Party::Service => "a service the recipient uses".to_string(),
        };
        // family "on a new number" naming a sum ask for it, whatever the words
        let personal_money = cues.has(Cue::Personal) && has_amount;
        let ask_kind = if payment || personal_money {
            Some(Ask::Pay)
        } else if credential {
            Some(Ask::Details)
        } else if has_link && !own_links {
            Some(Ask::Link)
        } else if has_number && cues.has(Cue::Action) {
            Some(Ask::Call)
        } else if cues.has(Cue::Action) {
            Some(Ask::Reply)
        } else if cues.has(Cue::Request)
            && (threat
                || cues.has(Cue::Reward)
                || (has_amount
                    && brand.is_some_and(|b| mentioned.contains(&b))
                    && !cues.has(Cue::Notice)))
        {
            // the ask words of a lure are often generic, cut off or anonymised: a request to
            // act with something at stake (a threat, a reward, a sum from a named brand not
            // reported as paid or done) is one when a trusted party is invoked
            Some(Ask::Act)
        } else if stranger.is_some() {
            // its question asks for a reply
            Some(Ask::Reply)
        } else {
            None
        };
        let ask = |kind: Ask| match kind {
            Ask::Pay => "pay".to_string(),
            Ask::Details => "give or confirm personal details".to_string(),
            Ask::Link => "open a link".to_string(),
            Ask::Call if mail_only => "write to an e-mail address".to_string(),
            Ask::Call => "call or text a number".to_string(),
            Ask::Reply => format!("reply or act{}", example(Cue::Action)),
            Ask::Act => format!("act on what is at stake{}", example(Cue::Request)),
        };
        let stakes = credential
            || (payment && !pay_in_own_channel)
            || threat
            || cues.has(Cue::Reward)
            || cues.has(Cue::Personal)
            || job_offer;
        // An invoked party asking for an action is what makes unwanted mail smishing; with
        // something at stake (a threat, a refund, data, money) it is also evidence that the
        // message is unwanted at all.
        if cues.has(Cue::Personal) {
            let n = f32::from(cues.count(Cue::Personal).min(2));
            total += r.add(w::PERSONAL * n, move || {
                format!("writes as a relative or friend on a new number{}", example(Cue::Personal))
            });
        }
        // A code delivered with no link (or links only to the sender's own domains) and no
        // payment is a notice the recipient asked for
        // (a login, a purchase): its "verify" and "password" words are not a request.
        // `<#>` opens the messages Android's SMS Retriever hands to an app: always a code.
        let retriever = text.trim_start().starts_with("<#>");
        // "123456 is your code for example.com", "@example.com #123456" (the format browsers
        // read codes from): a bare domain there names the site the code is for, no link to
        // open
        let code_sites_only = !urls.is_empty()
            && urls.iter().all(|u| {
                let before = text.get(..u.span.start).unwrap_or("").trim_end();
                u.bare
                    && (before.ends_with('@')
                        || before.rsplit(char::is_whitespace).next().is_some_and(|w| {
                            ["for", "pour", "para", "per", "für", "voor", "untuk"]
                                .iter()
                                .any(|f| w.eq_ignore_ascii_case(f))
                        }))
            });
        let code_notice = (cues.has(Cue::Code) || retriever)
            && (!has_link || own_links || code_sites_only)
            && !payment
            && !call_back
            && has_code_digits(text);
        if code_notice {
            total += r.add(w::CODE_NOTICE, "delivers a one-time or verification code");
        }
        let lure = !code_notice
            && !own_links
            && !own_app
            && !transaction_alert
            && party_kind.is_some()
            && ask_kind.is_some();
        if lure && let (Some(p), Some(a)) = (party_kind, ask_kind) {
            let weight = if stakes { w::LURE } else { w::LURE_WITHOUT_STAKES };
            total += r.lure(weight, move || format!("invokes {} and asks to {}", party(p), ask(a)));
        }
        let account_notice = !lure
            && !code_notice
            && !has_link
            && !call_back
            && crate::notice::has_masked_account(text);
        if account_notice {
            total += r.add(w::ACCOUNT_NOTICE, "reports on an account by its masked number");
        }
        let missed_call = !lure
            && cues.has(Cue::Notice)
            && !has_link
            && !payment
            && !credential
            && !threat
            && !cues.has(Cue::Reward)
            && crate::notice::starts_with_phone_number(text);
        if missed_call {
            total += r.add(
                w::MISSED_CALL_NOTICE,
                "reports a missed call or message from the number it starts with",
            );
        }
        // nowhere for the recipient to go (a stranger's question asks for a reply: its channel)
        if !reachable {
            total += w::NO_CHANNEL;
        }
        // Something done reported with no link (or only the sender's own), no number (not
        // even one that does not validate: a long digit run) and no threat or hurry: a
        // receipt or account event (`you have been charged...`, `your PIN was set
        // successfully`, `your bonus was added`: a reward already given, with nowhere to
        // claim it, is no bait).
        let event_notice = !lure
            && !code_notice
            && !account_notice
            && !missed_call
            && cues.has(Cue::Notice)
            && (!has_link || own_links)
            && !has_number
            && !has_digit_run(text, 8)
            && !payment
            && !credential
            && ![Cue::Urgency, Cue::Threat].into_iter().any(|c| cues.has(c));
        if event_notice {
            total += r.add(w::EVENT_NOTICE, "reports something already done, asking nothing");
        }
        let notice = code_notice || account_notice || missed_call || event_notice;
        // Unwanted, a way out (a link or a number) and nothing for sale: a lure whose party
        // we could not name, not commerce.
        let pressure = [Cue::Urgency, Cue::Threat, Cue::Reward, Cue::Credential, Cue::Payment]
            .into_iter()
            .any(|c| cues.has(c));
        let hidden_destination = e.masked_link
            || broken_link
            || dangling
            || urls.iter().any(|u| u.shortener || u.ip_host || suspicious_tld(u, domains));
        // ...or a named brand or trusted party in a text cut short before its ask
        let cut_before_ask =
            cut_off && matches!(party_kind, Some(Party::Brand | Party::Authority | Party::Service));
        // ...or a threat, a request for credentials, a reward a trusted party promises, one
        // of a stated sum or one to pay for first: none of them is commerce (docs/verdict.md)
        let not_commerce = threat
            || credential
            || (cues.has(Cue::Reward)
                && (payment
                    || has_amount
                    || matches!(party_kind, Some(Party::Brand | Party::Authority))));
        let sells_nothing = !lure
            && !notice
            && !own_links
            && !own_app
            && (((has_link || has_number) && (pressure || hidden_destination))
                || cut_before_ask
                || not_commerce)
            && !cues.has(Cue::Marketing);
        if sells_nothing {
            let sentence = if (has_link || has_number) && (pressure || hidden_destination) {
                "asks to open a link or call a number but offers nothing for sale"
            } else if not_commerce {
                "threatens, asks for details or promises a reward, and offers nothing for sale"
            } else {
                "names a trusted party, is cut short before its ask, and offers nothing for sale"
            };
            total += r.lure(w::SELLS_NOTHING, sentence);
        }
        if let Some(m) = e.model_logit {
            let contribution = w::MODEL * m;
            let contribution =
                if notice { contribution.min(w::NOTICE_MODEL_MAX) } else { contribution };
            let chat_lure =
                stranger.is_some() || (lure && matches!(party_kind, Some(Party::Personal)));
            let contribution =
                if chat_lure { contribution.max(w::CHAT_LURE_MODEL_MIN) } else { contribution };
            total += contribution;
            if contribution >= 1.0 {
                r.add(contribution, "wording resembles known spam and smishing (text model)");
            } else if contribution <= -1.0 {
                r.add(contribution, "wording resembles ordinary messages (text model)");
            }
        }

        // A link that imitates a brand is never ham, whatever the wording.
        if decisive {
            total = total.max(0.0);
        }
        let score = sigmoid(total);
        let unwanted = total >= 0.0 && score >= 0.5;
        let phishing_intent = data_or_money_by_link
            || (has_link && !own_links && threat)
            || (call_back && (credential || payment || threat));
        let verdict = if !unwanted {
            Verdict::Ham
        } else if decisive
            || strong_smishing
            || lure
            || sells_nothing
            || (phishing_intent && total >= w::SMISHING_MIN)
        {
            Verdict::Smishing
        } else {
            Verdict::Spam
        };
        (round_score(score, verdict), verdict, r.explain(verdict))
    }
}

/// The score shown: three decimals, on the verdict's side of 0.5 even at the rounding edge.
fn round_score(score: f32, verdict: Verdict) -> f32 {
    let score = (score * 1000.0).round() / 1000.0;
    match verdict {
        Verdict::Ham => score.min(0.499),
        _ => score.max(0.5),
    }
}

/// Currency words and symbols recognised next to a number.
const CURRENCIES: &[&str] = &[
    "eur", "euro", "euros", "kr", "sek", "nok", "dkk", "pln", "zl", "chf", "usd", "gbp", "inr",
    "rs", "try", "czk", "huf",
];

/// The first sum of money in the text (`1,63 EUR`, `€35`, `£1000`, `5,41 kr`), bounded for display.
fn money_amount(text: &str) -> Option<String> {
    // every form below needs a digit
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut tokens = text.split_whitespace().take(200).peekable();
    let (mut prev, mut before_prev): (Option<&str>, Option<&str>) = (None, None);
    let numeric = |t: &str| {
        let t = t.trim_matches(|c: char| !c.is_alphanumeric());
        !t.is_empty()
            && t.chars().any(|c| c.is_ascii_digit())
            && t.chars().all(|c| c.is_ascii_digit() || c == ',' || c == '.')
    };
    // thousands grouped with a space (`2 000 kr`, `1 240€`): the group before the sum's
    // last three digits, if there is one
    let group = |before: Option<&str>, sum: &str| {
        let head = sum.split(['.', ',']).next().unwrap_or("");
        before
            .filter(|b| (1..=3).contains(&b.len()) && b.bytes().all(|c| c.is_ascii_digit()))
            .filter(|_| head.len() == 3 && head.bytes().all(|c| c.is_ascii_digit()))
            .map_or_else(String::new, |b| format!("{b} "))
    };
    while let Some(t) = tokens.next() {
        let bare = trim_punctuation(t);
        // Every form below needs a digit in the token or a currency of at most 5 bytes:
        // most words are neither and skip the checks.
        if bare.len() > 5 && !bare.bytes().any(|b| b.is_ascii_digit()) {
            (before_prev, prev) = (prev, Some(t));
            continue;
        }
        let prefixed = bare
            .strip_prefix(['€', '£', '$'])
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        let suffixed = bare.strip_suffix(['€', '£', '$']).filter(|n| numeric(n));
        if prefixed {
            return Some(bare.chars().take(16).collect());
        }
        if let Some(sum) = suffixed {
            return Some(format!("{}{bare}", group(prev, sum)).chars().take(20).collect());
        }
        if ["€", "£", "$"].contains(&bare)
            || CURRENCIES.iter().any(|c| c.eq_ignore_ascii_case(bare))
        {
            if let Some(prev) = prev.filter(|p| numeric(p)) {
                let sum = prev.trim_matches(|c: char| !c.is_alphanumeric());
                return Some(
                    format!("{}{sum} {bare}", group(before_prev, sum)).chars().take(28).collect(),
                );
            }
            if let Some(next) = tokens.peek().filter(|n| numeric(n)) {
                return Some(
                    format!("{bare} {}", next.trim_matches(|c: char| !c.is_alphanumeric()))
                        .chars()
                        .take(24)
                        .collect(),
                );
            }
        }
        (before_prev, prev) = (prev, Some(t));
    }
    None
}

/// `token` without the sentence punctuation around it. The marks are ASCII, so the cut is
/// made on bytes (no UTF-8 decoding) and always falls on a char boundary.
fn trim_punctuation(token: &str) -> &str {
    let mark = |b: &u8| matches!(b, b'(' | b')' | b':' | b';' | b'!' | b'?' | b'.' | b',');
    let bytes = token.as_bytes();
    let start = bytes.iter().position(|b| !mark(b)).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !mark(b)).map_or(start, |last| last + 1);
    token.get(start..end).unwrap_or("")
}

/// A run of at least `min` ASCII digits.
fn has_digit_run(text: &str, min: usize) -> bool {
    let mut run = 0usize;
    for b in text.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= min {
            return true;
        }
    }
    false
}

/// A one-time code standing alone: a run of 4 to 8 ASCII digits, or two groups of 3 or 4
/// joined by a hyphen or a space as messengers write them (`123-456`, `1234 5678`).
fn has_code_digits(text: &str) -> bool {
    has_code_run(text) || has_grouped_code(text)
}

/// Two groups of 3 or 4 ASCII digits joined by one `-` or space, with neither a letter, a
/// digit nor a joiner on either side.
fn has_grouped_code(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |i: usize| {
        bytes.get(i..).map_or(0, |b| b.iter().take_while(|b| b.is_ascii_digit()).count())
    };
    // beside the groups: a letter, a `+`, a hyphen, or a space or decimal mark next to more
    // digits makes them part of something else (a phone number, an amount, a reference)
    let digit = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let edge_before = |i: usize| match i.checked_sub(1).map(|p| (p, bytes.get(p))) {
        None | Some((_, None)) => true,
        Some((_, Some(b)))
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.' | b',') =>
        {
            false
        }
        Some((p, Some(b' '))) => !digit(p.checked_sub(1)),
        Some(_) => true,
    };
    let edge_after = |j: usize| match bytes.get(j) {
        None => true,
        Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+') => false,
        Some(b' ' | b'.' | b',') => !digit(Some(j + 1)),
        Some(_) => true,
    };
    let mut i = 0;
    while i < bytes.len() {
        let first = digits_from(i);
        if first == 0 {
            i += 1;
            continue;
        }
        let joiner = i + first;
        if (3..=4).contains(&first)
            && edge_before(i)
            && matches!(bytes.get(joiner), Some(b'-' | b' '))
        {
            let second = digits_from(joiner + 1);
            if (3..=4).contains(&second) && edge_after(joiner + 1 + second) {
                return true;
            }
        }
        i = joiner;
    }
    false
}

/// A run of 4 to 8 digits standing alone, ASCII digits only.
fn has_code_run(text: &str) -> bool {
    let mut run = 0usize;
    let mut after_word = false;
    let mut found = false;
    for b in text.bytes().chain(std::iter::once(b' ')) {
        if b.is_ascii_digit() {
            run += 1;
            continue;
        }
        if (4..=8).contains(&run) && !after_word && !b.is_ascii_alphabetic() {
            found = true;
            break;
        }
        after_word = b.is_ascii_alphabetic();
        run = 0;
    }
    found
}

/// `website dot com`: a domain spelled out with the word "dot" before a known top-level
/// domain, so that filters and link previews miss it.
fn spelled_domain(lower: &str, domains: &Domains) -> bool {
    let mut rest = lower;
    while let Some(at) = needles().dot_word.find(rest.as_bytes()) {
        let before = rest.get(..at).and_then(|b| b.chars().next_back());
        let after = rest.get(at + 5..).unwrap_or("");
        let tld: &str = after.split(|c: char| !c.is_ascii_lowercase()).next().unwrap_or("");
        let known = tld.len() == 2 || domains.is_common_tld(tld) || domains.is_suspicious_tld(tld);
        if before.is_some_and(|c| c.is_ascii_alphanumeric()) && known && tld.len() <= 8 {
            return true;
        }
        rest = rest.get(at + 5..).unwrap_or("");
    }
    false
}

/// Substring searches made on most messages, set up once (`str::contains` and `str::find`
/// set a searcher up on every call, which costs more than the search in a short text).
struct Needles {
    stop: memchr::memmem::Finder<'static>,
    broken_link: [memchr::memmem::Finder<'static>; 4],
    dot_word: memchr::memmem::Finder<'static>,
}

fn needles() -> &'static Needles {
    static NEEDLES: std::sync::OnceLock<Needles> = std::sync::OnceLock::new();
    NEEDLES.get_or_init(|| {
        let finder = |needle: &str| memchr::memmem::Finder::new(needle.as_bytes()).into_owned();
        Needles {
            stop: finder("stop"),
            broken_link: ["hxxp", "www.", "://", "xn--"].map(finder),
            dot_word: finder(" dot "),
        }
    })
}

/// `name. tld/` or `name . tld/`: a domain with spaces around its dot, followed by a path.
fn spaced_domain(lower: &str, domains: &Domains) -> bool {
    let b = lower.as_bytes();
    let mut i = 0;
    while let Some(pos) = b.get(i..).and_then(|rest| rest.iter().position(|&c| c == b'.')) {
        let dot = i + pos;
        i = dot + 1;
        let before_ok =
            dot > 0 && b.get(dot - 1).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b' ');
        let mut j = dot + 1;
        let mut spaced = b.get(dot.wrapping_sub(1)) == Some(&b' ');
        while b.get(j) == Some(&b' ') {
            spaced = true;
            j += 1;
        }
        let start = j;
        while b.get(j).is_some_and(u8::is_ascii_lowercase) {
            j += 1;
        }
        let tld = lower.get(start..j).unwrap_or("");
        let known_tld =
            tld.len() == 2 || domains.is_common_tld(tld) || domains.is_suspicious_tld(tld);
        if before_ok && spaced && known_tld && b.get(j) == Some(&b'/') {
            return true;
        }
    }
    false
}

fn suspicious_tld(u: &ExtractedUrl, domains: &Domains) -> bool {
    u.registrable_domain.as_ref().is_some_and(|d| {
        let tld = d.suffix().rsplit('.').next().unwrap_or("");
        domains.is_suspicious_tld(tld)
    })
}

/// Host for a reason sentence: defanged, bounded, control characters dropped.
fn show_host(u: &ExtractedUrl) -> String {
    let host: String = u.host_unicode.chars().filter(|c| !c.is_control()).take(80).collect();
    defang(&host)
}

/// A `to`/`from` field: parsed number, else the raw value (bounded, printable) without country.
/// Memoised per thread: outboxes repeat recipients (test numbers, fan-out lists) and
/// libphonenumber parsing is the costliest step of an analysis.
fn number_info(raw: &str, region: Option<&str>) -> Option<NumberInfo> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    const MEMO_ENTRIES: usize = 4096;
    /// Key: the raw value, a NUL, the region (a lookup borrows the key from `key`, so a hit
    /// allocates nothing). Randomly seeded: the keys come from the records.
    struct Memo {
        key: String,
        map: HashMap<Box<str>, Option<NumberInfo>, foldhash::fast::RandomState>,
    }
    thread_local! {
        static MEMO: RefCell<Memo> =
            RefCell::new(Memo { key: String::new(), map: HashMap::default() });
    }
    if raw.len() > 64 {
        return parse_number_info(raw, region);
    }
    let hit = MEMO.with(|m| {
        let mut m = m.try_borrow_mut().ok()?;
        let Memo { key, map } = &mut *m;
        key.clear();
        key.push_str(raw);
        key.push('\0');
        key.push_str(region.unwrap_or(""));
        map.get(key.as_str()).cloned()
    });
    if let Some(hit) = hit {
        return hit;
    }
    let info = parse_number_info(raw, region);
    MEMO.with(|m| {
        let Ok(mut m) = m.try_borrow_mut() else { return };
        let Memo { key, map } = &mut *m;
        if map.len() >= MEMO_ENTRIES {
            map.clear();
        }
        map.insert(key.as_str().into(), info.clone());
    });
    info
}

fn parse_number_info(raw: &str, region: Option<&str>) -> Option<NumberInfo> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    match smishtrap_extract::parse_number(trimmed, region) {
        Ok(n) => Some(NumberInfo { e164: n.e164.as_str().to_string(), country: n.country }),
        Err(_) => Some(NumberInfo {
            e164: trimmed.chars().filter(|c| !c.is_control()).take(64).collect(),
            country: None,
        }),
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Built once for all tests (a build takes a noticeable fraction of a second).
    fn engine() -> &'static Engine {
        static ENGINE: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
        ENGINE.get_or_init(|| match Engine::builtin() {
            Ok(e) => e,
            Err(e) => panic!("{e}"),
        })
    }

    fn record(text: &str) -> SmsRecord {
        SmsRecord { text: text.to_string(), ..SmsRecord::default() }
    }

    /// Brand expectation that accepts whatever the catalog picks (the catalog is not what
    /// these tables test).
    const ANY_BRAND: Option<&str> = Some("*");

    /// `expect`: verdict, brand ([`ANY_BRAND`] for any), and a fragment one of the reasons
    /// must contain. Every analysis must also keep verdict and reasons in agreement.
    #[track_caller]
    fn check(text: &str, verdict: Verdict, brand: Option<&str>, reason: Option<&str>) {
        check_in(None, text, verdict, brand, reason);
    }

    /// The analysis of `text` with default options.
    fn analyzed(text: &str) -> Analysis {
        engine().analyze(&record(text), "1".into(), &AnalyzeOptions::default())
    }

    /// [`check`] for a message received in `region` (how national numbers are read).
    #[track_caller]
    fn check_in(
        region: Option<&str>,
        text: &str,
        verdict: Verdict,
        brand: Option<&str>,
        reason: Option<&str>,
    ) {
        let options = AnalyzeOptions { default_region: region.map(str::to_string) };
        let a = engine().analyze(&record(text), "1".into(), &options);
        assert_eq!(a.verdict, verdict, "verdict of {text:?}: {a:#?}");
        if brand != ANY_BRAND {
            assert_eq!(a.brand.as_deref(), brand, "brand of {text:?}: {a:#?}");
        }
        assert_reasons_agree(&a);
        if let Some(fragment) = reason {
            assert!(
                a.reasons.iter().any(|r| r.contains(fragment)),
                "reasons of {text:?} lack {fragment:?}: {:#?}",
                a.reasons
            );
        }
        assert_eq!(a.verdict != Verdict::Ham, a.score >= 0.5, "score/verdict consistency: {a:#?}");
    }

    #[test]
    fn smishing_with_unseen_wording_and_domains() {
        // a link one bit from another country's brand (`cpost`, `bpost`) in a text naming its
        // own: the named brand, not the chance resemblance
        check(
            "Česká pošta: Vaše zásilka čeká na doplacení poštovného 39 Kč. Zaplaťte na cpost-platba.com",
            Verdict::Smishing,
            Some("Česká pošta"),
            Some("names Česká pošta but links to cpost-platba[.]com"),
        );
        check(
            "KBC: uw kaartlezer vervalt vandaag. Bevestig uw gegevens via https://kbc-veilig.top/x",
            Verdict::Smishing,
            Some("KBC"),
            Some("kbc-veilig[.]top imitates KBC (combosquatting)"),
        );
        check(
            "Correos: su paquete está retenido. Pague 1,99 EUR de gastos de envío en https://correos-entrega.xyz/p",
            Verdict::Smishing,
            Some("Correos"),
            Some("imitates Correos"),
        );
        check(
            "DHL: Ihr Paket konnte nicht zugestellt werden. Zollgebühr bezahlen: http://dhl-zustellung.info/de",
            Verdict::Smishing,
            Some("DHL"),
            None,
        );
        check(
            "Skatteverket: du har en skatteåterbäring på 2 340 kr. Logga in för att få den: https://skv-retur.com/a",
            Verdict::Smishing,
            Some("Skatteverket"),
            Some("names Skatteverket but links to skv-retur[.]com"),
        );
    }

    #[test]
    fn links_broken_up_to_dodge_filters() {
        check(
            "CSAM: bevestig uw identiteit via https://csam-be. info/verif/x",
            Verdict::Smishing,
            Some("CSAM"),
            // read either as a URL by the extractor or as a broken-up link by the fallback
            Some("CSAM"),
        );
        check(
            "INPS: aggiorna i tuoi dati su inps-rimborso . info/modulo",
            Verdict::Smishing,
            Some("INPS"),
            None,
        );
        for (text, expect) in [
            ("go to example. com/x", true),
            ("see you at 5. ok?", false),
            ("end. Next/then", false),
            ("a . info/x", true),
        ] {
            assert_eq!(
                spaced_domain(&text.to_ascii_lowercase(), engine().catalog.domains()),
                expect,
                "{text}"
            );
        }
    }

    /// Brand names and cue words written with digits for letters to slip past filters
    /// (messages written for this test).
    #[test]
    fn words_written_with_digits_for_letters() {
        check(
            "Dear customer, your SBI Y0N0 account will be bl0cked today. Update your PAN now",
            Verdict::Smishing,
            Some("State Bank of India"),
            Some("digits for letters (\"Y0N0\")"),
        );
        check(
            "V0DAF0NE: your SIM is suspended. Call 0800 123 4567 to keep your number",
            Verdict::Smishing,
            Some("Vodafone"),
            Some("digits for letters"),
        );
        // codes, sizes, times and rooms are written with digits and letters too
        for text in [
            "Your code is A45R, valid for 10 minutes",
            "See you at 10am in room B3A, bring the 5GB stick",
            "COVID19 booster: your slot is on 12 May at 9:40, hall 4B",
        ] {
            let a = analyzed(text);
            assert!(
                !a.reasons.iter().any(|r| r.contains("digits for letters")),
                "{text:?}: {:#?}",
                a.reasons
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn punctuation_is_trimmed_as_chars_would_be(token in "[(),:;!?.a-zé€£$0-9]{0,12}") {
            let by_chars =
                token.trim_matches(|c: char| matches!(c, '(' | ')' | ':' | ';' | '!' | '?' | '.' | ','));
            proptest::prop_assert_eq!(trim_punctuation(&token), by_chars);
        }
    }

    #[test]
    fn call_back_shows_the_number() {
        let reasons = |text: &str| analyzed(text).reasons;
        let valid = reasons("URGENT! You won a prize. Call +32 470 12 34 56 now to claim");
        assert!(valid.iter().any(|r| r == "asks to call or text back +32470123456"), "{valid:?}");
        // a number that does not validate is shown as written, never as a trailing blank
        let written = reasons("URGENT! You won a prize. Call 4474814695 now to claim");
        assert!(written.iter().any(|r| r == "asks to call or text back 4474814695"), "{written:?}");
    }

    #[test]
    fn analysing_all_at_once_is_analysing_each() {
        let mut records: Vec<SmsRecord> = [
            "DHL: your parcel is on hold, pay the fee at dhl-redelivery.top/x",
            "Hi mum, this is my new number, can you send me 200 today?",
            "Your verification code is 482913",
            "",
            "ค่าปรับจราจร กรุณาชำระที่ https://example-th.top/pay",
        ]
        .iter()
        .map(|t| record(t))
        .collect();
        if let Some(r) = records.get_mut(0) {
            r.to = Some("+32470123456".into());
        }
        let options = AnalyzeOptions::default();
        let ids = (0..records.len()).map(|i| format!("m{i}"));
        let all = engine().analyze_all(records.iter().zip(ids.clone()), &options);
        let each: Vec<Analysis> =
            records.iter().zip(ids).map(|(r, id)| engine().analyze(r, id, &options)).collect();
        assert_eq!(all, each);
        assert_eq!(all.len(), records.len());
    }

    #[test]
    fn money() {
        for (text, expect) in [
            ("livraison (1,63 EUR) :", Some("1,63 EUR")),
            ("Réglez 35 € avant", Some("35 €")),
            ("won a £1000 prize", Some("£1000")),
            ("tullavgiften 5,41 kr: https", Some("5,41 kr")),
            ("see you at 5", None),
            ("kr", None),
            ("(€12,50).", Some("€12,50")),
            ("betaal nu: 12,50 euros!", Some("12,50 euros")),
            ("EUR 4.99 verschuldigd", Some("EUR 4.99")),
            ("onbetaalde-rekeningen 300", None),
            // thousands grouped with a space
            ("swisha mig 2 000 kr idag", Some("2 000 kr")),
            ("il vous reste 1 240€ de droits", Some("1 240€")),
            ("room 4 then 250 kr", Some("250 kr")),
            ("4 2500 kr", Some("2500 kr")),
        ] {
            assert_eq!(money_amount(text).as_deref(), expect, "{text}");
        }
    }

    #[test]
    fn huge_texts_are_bounded() {
        let text = format!("{} https://csam-be.info/x", "é".repeat(100_000));
        let a = engine().analyze(&record(&text), "1".into(), &AnalyzeOptions::default());
        assert!(a.urls.is_empty(), "the link lies past the cut");
        assert_eq!(a.verdict != Verdict::Ham, a.score >= 0.5);
    }

    #[test]
    fn one_pass_finds_what_separate_scans_find() {
        let e = engine();
        assert!(e.words.is_some(), "the combined automaton builds");
        // the shared dev corpus sits beside the clone in CI and on developer machines
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/smish-dev.jsonl");
        let dev = std::fs::read_to_string(path).unwrap_or_default();
        let texts = dev
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
            .chain(
                [
                    "ING: verify your account NOW, urgent! bpost pakket",
                    "KBC: uw kaartlezer vervalt vandaag. Bevestig uw gegevens via https://kbc-veilig.top/x",
                    "ANTAI : avis de contravention impayé. Réglez 35 € avant majoration",
                    "PostNord: Ditt paket väntar på leverans. Bekräfta adressen",
                    "Poste Italiane: il tuo conto BancoPosta è stato sospeso",
                ]
                .map(str::to_string),
            );
        for text in texts {
            let folded = fold(&text);
            let separate = (e.catalog.mentions(&text, &folded), e.cues.scan(&folded));
            assert_eq!(e.scan_words(&text, &folded), separate, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn one_pass_finds_what_separate_scans_find_on_any_text(
            text in "((ing|kbc|ebox|my ebox|bpost|urgent|% off|verifi|50|[a-zé]{1,6}|[ .,!%-])){0,14}",
        ) {
            let e = engine();
            let folded = fold(&text);
            let separate = (e.catalog.mentions(&text, &folded), e.cues.scan(&folded));
            proptest::prop_assert_eq!(e.scan_words(&text, &folded), separate);
        }
    }

    /// The reasons never contradict the verdict (docs/verdict.md).
    #[track_caller]
    fn assert_reasons_agree(a: &Analysis) {
        let claims = |r: &String| {
            [
                "imitates",
                "but links to",
                "invokes ",
                "mixes alphabets",
                "through a link",
                "offers nothing",
            ]
            .iter()
            .any(|c| r.contains(c))
        };
        assert!(!a.reasons.is_empty(), "every verdict has a reason: {a:#?}");
        if a.verdict != Verdict::Smishing {
            assert!(
                !a.reasons.iter().any(claims),
                "{:?} lists a smishing claim: {a:#?}",
                a.verdict
            );
        }
        if a.verdict == Verdict::Ham {
            assert!(
                a.reasons.iter().all(|r| r.contains("ordinary")
                    || r.contains("official")
                    || r.contains("code")
                    || r.contains("masked number")
                    || r.contains("vetted holders")
                    || r.contains("missed call")
                    || r.contains("already done")
                    || r.starts_with("nothing")),
                "ham lists only reasons for ham: {a:#?}"
            );
        }
        if a.reasons.iter().any(|r| r.contains("imitates") || r.contains("mixes alphabets")) {
            assert_eq!(a.verdict, Verdict::Smishing, "impersonating link: {a:#?}");
        }
    }

    #[test]
    fn lures_without_an_inspectable_link_are_smishing() {
        for text in [
            // call a number
            "Fraud prevention: your card has been blocked after a suspicious payment. Call our team on +44 20 7946 0958 to unblock it",
            "Your bank account is suspended. Call 1-800-555-0199 today to reactivate it",
            // reply
            "Your bank: did you just pay 950.00 to a new payee? Reply YES to confirm or NO to block your card",
            // masked, anonymised or spelled-out links
            "Tax office: you are owed a refund of 318.20. Claim it at <URL> before Friday",
            "Your parcel is held at the depot. Pay the 2.10 redelivery fee at [link]",
            "Your account is locked. Verify your identity at secure-login dot com to restore access",
            "Uw bank: uw rekening is geblokkeerd. Bevestig uw gegevens via hxxps://mijn-bank-check[.]info",
            // a relative on a new number
            "Hi mum it's me, this is my new number, my phone broke. Can you text me back here, need to pay something urgently",
            "Hola mamá, este es mi número nuevo. Escríbeme por WhatsApp, necesito que me hagas un pago",
            "Mama, ini nomor baru aku. Tolong kirim pulsa 100rb ke nomor ini dulu ya, penting",
            // a grandchild in trouble
            "Hi Grandma, it's me, I'm in trouble and need bail money. Please don't tell mom. Call this lawyer 555-0142",
            // a fine or refund from a named agency
            "Police: you have an unpaid traffic fine of 120. Pay it today at <URL> to avoid court",
            "Agenzia delle Entrate: hai diritto a un rimborso di 210 €. Compila i tuoi dati su <URL>",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, None);
        }
    }

    #[test]
    fn holiday_pay_lure_naming_an_agency_is_not_ham() {
        let text = "UWV: uw vakantiegeld van 2024 staat nog open. Vul uw gegevens in via de link om het uitbetaald te krijgen";
        let a = analyzed(text);
        assert_ne!(a.verdict, Verdict::Ham, "{a:#?}");
        assert_reasons_agree(&a);
    }

    #[test]
    fn thai_bank_otp_and_operator_notices_are_ham() {
        for text in [
            "รหัส OTP สำหรับเข้าสู่ระบบคือ 604417 (Ref: WXTR) รหัสมีอายุ 5 นาที",
            "เงินเข้าบัญชี x9012 จำนวน 3,200.00 บาท ยอดคงเหลือ 8,450.75 บาท",
            "ท่านได้ชำระค่าบริการ 399.00 บาท เรียบร้อยแล้ว ขอบคุณที่ใช้บริการ",
            "รหัสยืนยันของคุณคือ 2291 กรุณาอย่าเปิดเผยรหัสนี้",
            "โอนเงิน 750.00 บาท ไปยังบัญชี x3344 สำเร็จ",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
    }

    /// A code that names the site it is for ("for example.com", or `@example.com #123456`,
    /// the form browsers read codes from) is a code notice, not a link to open; a code
    /// beside a link to act on, or for a look-alike domain, is not (written for this test).
    #[test]
    fn codes_for_a_named_site_are_notices() {
        for text in [
            "482913 is your verification code for shopnest.net",
            "Your login code is 55120. @app.shopnest.net #55120",
            "Votre code de connexion pour shopnest.fr est 771032",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, Some("one-time or verification code"));
        }
        for text in [
            "Your code is 4821. Verify your account at chase-secure-login.com",
            "390112 is your code for paypal-account-review.top",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, None);
        }
    }

    /// Transactional notices of banks and operators in languages the router corpora lack
    /// (written for this test): ham, while the same parties in a lure stay smishing.
    #[test]
    fn notices_in_other_languages_are_ham_and_their_lures_are_not() {
        for text in [
            "บัญชี xx-7781 มีรายการถอน 1,200.00 บาท คงเหลือ 4,310.25 บาท 03/02 12:40",
            "รหัสยืนยันการสมัครของคุณคือ 880431 ใช้ได้ภายใน 10 นาที ห้ามบอกผู้อื่น",
            "ท่านได้ซื้อแพ็กเกจเน็ต 7 วัน ราคา 79 บาท เรียบร้อยแล้ว",
            "พัสดุของคุณจะถูกส่งถึงภายในวันนี้ ขอบคุณที่ใช้บริการ",
            "Rek. xxx5590 menerima transfer Rp 300.000 pada 08/04. Saldo Rp 1.020.000",
            "Kode OTP 771204 untuk masuk aplikasi. Jangan berikan kepada siapa pun.",
            "Paket sudah sampai, terima kasih. Barang sempat tertahan di gudang karena hujan",
            // a document named in a receipt with nowhere to go asks for nothing
            "Your PAN card application has been received. Acknowledgement number 881200341512. Track status on the NSDL website",
            "Akaun xxxx2231 didebitkan RM45.90 pada 11/03 untuk bil elektrik.",
            "TK 4410xxx332 -350,000 VND luc 18:20 05/05. So du 1,200,000 VND",
            "INR 640.00 spent on your card XX9931 at a pharmacy on 22-05. Avl limit INR 48,300",
            "Ang iyong code ay 220914. Huwag itong ibahagi kahit kanino.",
            // a link under a registry that vets its holders (.co.th), and a cue word
            // ("ศาล", court) inside an unrelated word ("ศาลา", pavilion)
            "ขอบคุณที่ใช้บริการติดตั้งเน็ตบ้าน ให้คะแนนความพึงพอใจได้ที่ https://survey.example.co.th/r/5521",
            "นัดกินข้าวที่ศาลาริมน้ำ เย็นนี้หกโมง",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
        for text in [
            "ธนาคารแจ้ง บัญชีของท่านถูกระงับ กรุณายืนยันตัวตนที่ <URL> ภายใน 24 ชั่วโมง",
            "Nasabah yth, rekening Anda diblokir. Segera verifikasi data di <URL>",
            "Paket Anda akan dikembalikan hari ini. Konfirmasi alamat Anda di <URL>",
            "Your PAN card has been blocked. Update your KYC immediately to avoid suspension",
            "Ihre Sendung wird zurückgeschickt, wenn die Zollgebühr von 2,99€ nicht bezahlt wird.",
            "ธนาคารแจ้ง บัญชีของท่านถูกระงับ กรุณายืนยันตัวตนที่ https://th-verify-account.top/x",
            "Your card XX4417 is blocked. Call our fraud team now on <PHONE_NUMBER> to unblock it",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, None);
        }
    }

    #[test]
    fn wrong_number_openers_are_smishing() {
        // written for this test: a stranger asking whether the recipient is someone by name
        for text in [
            "Hi, is this Michael? This is Jenny from the yoga class, you told me to text you",
            "Hello, are you Ms. Rachel? I am Lily, your new neighbour's friend",
            "Hola, ¿eres Lucía? Soy Marta, la amiga de tu hermana",
            "Bonjour, c'est bien Julien ? Je suis Claire, on s'est croisés au salon",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some("wrong-number"));
        }
        // questions that ask no name, or not at the start, are ordinary
        for text in [
            "Hey Sarah, are we still meeting for dinner at 7 tomorrow?",
            "Are you ready? I'm outside",
            "Is this Thursday or Friday? Can't remember",
            "I think you have the wrong number. Is this Anna? No idea who you are",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
    }

    #[test]
    fn family_asking_for_money_is_smishing_whatever_the_words() {
        // written for this test: the sum is the ask, the chat-like wording does not acquit
        for text in [
            "Mom, my phone fell in the sink so I'm texting from a friend's phone. Could you lend me $350 until Friday?",
            "Hey grandpa, it's me. I'm in trouble and need $1,500 for bail, please don't tell dad",
            "Hoi mam, mijn telefoon is kapot, dit is mijn nieuwe nummer. Kun je 480 euro voor me overmaken?",
            // no sum, but a transfer asked for
            "Hola papá, este es mi número nuevo. ¿Me puedes hacer una transferencia hoy? Luego te explico",
            "Hej mamma, jag har fått nytt nummer. Kan du swisha mig 2 000 kr idag?",
            "Cześć mamo, to mój nowy numer, telefon mi się zepsuł. Możesz mi przelać 500 zł?",
            "Hei äiti, tämä on uusi numeroni. Voitko maksaa laskun puolestani tänään?",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some("relative or friend"));
        }
        // family asking for a lift, or a friend for their share, is chat
        for text in [
            "Hej mamma, kan du hämta mig vid stationen kl 17?",
            "Hej, kan du swisha 150 kr för pizzan ikväll?",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
        // a new number with no money asked for is news
        check(
            "Hi mom, this is my new number, save it. See you Sunday!",
            Verdict::Ham,
            ANY_BRAND,
            None,
        );
    }

    #[test]
    fn a_mail_provider_in_an_address_is_no_brand_invoked() {
        // written for this test
        let text =
            "Hi Tom, the minutes are attached, send your comments to k.lee.minutes@gmail.com";
        check(text, Verdict::Ham, None, None);
        // an address to write to is the way back, as a number is (inheritance fraud)
        check(
            "Dear friend, you are named next of kin to an unclaimed inheritance of USD 4.2M. Write to barrister.okoro.chambers@gmail.com with your details",
            Verdict::Smishing,
            None,
            Some("e-mail address"),
        );
        // the brand a mailbox's name claims still counts
        let text = "Your Netflix account is on hold. Send your card details to netflix.billing.team@outlook.com to restore it";
        check(text, Verdict::Smishing, Some("Netflix"), None);
    }

    #[test]
    fn job_offers_with_easy_pay_and_a_private_channel_are_smishing() {
        // written for this test: the opener of a task scam
        for text in [
            "Good afternoon! We are hiring remote workers, 1 hour a day, you can earn $250-$600 daily. Reply YES for details",
            "Hola, oferta de trabajo desde casa: gana desde 300 euros al dia. Escribenos por WhatsApp +34 612 345 678",
            "Lowongan kerja paruh waktu, gaji harian Rp 500.000. Hubungi kami via WhatsApp 0812-3456-7890",
        ] {
            // the messenger they name is the way to reach them, not a brand they invoke
            check(text, Verdict::Smishing, None, Some("employer offering easy pay"));
        }
        // talk about jobs between people, and an employer's own link, are not lures
        for text in [
            "I got the part-time job at the bakery! I start Monday, pay is ok",
            "Target is hiring for the holidays, flexible hours. Apply at target.com/careers",
        ] {
            let a = analyzed(text);
            assert_ne!(a.verdict, Verdict::Smishing, "{text:?}: {a:#?}");
        }
    }

    #[test]
    fn a_brand_pointing_to_its_own_app_is_no_lure() {
        // written for this test: no link, number or reply, the brand's app is where to act
        for text in [
            "Chase: Your statement is ready. Your minimum payment of $35.00 is due on 12/15. Log in to the Chase app to view.",
            "Spotify: we could not charge your card for Premium. Update your payment details in the app to keep listening.",
            "Tele2: din faktura på 349 kr förfaller imorgon. Betala enkelt i appen.",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
        // ...but an app beside a link or a number is not proof of anything
        check(
            "Chase: your card is locked. Log in to the app at chase-unlock-card.com to restore it",
            Verdict::Smishing,
            ANY_BRAND,
            None,
        );
    }

    #[test]
    fn us_messaging_footers_ask_for_nothing() {
        // written for this test: "Reply HELP for help, STOP to opt out" is required of every
        // US business text; a pharmacy's pickup notice is no lure (its footer still reads as
        // a business's bulk text, which marketing words are evidence of)
        let text = "Your Walgreens prescription is ready for pickup at 1420 Main St. Reply HELP for help, STOP to opt out.";
        let a = analyzed(text);
        assert_ne!(a.verdict, Verdict::Smishing, "{a:#?}");
        assert!(a.reasons.iter().all(|r| !r.contains("asks to reply")), "{a:#?}");
    }

    #[test]
    fn events_reported_as_done_are_ham() {
        // written for this test
        for text in [
            "Chase: A $42.18 transaction at Target was approved on your card. No action needed",
            "Bank: uw betaling van 19,99 EUR aan Bol is uitgevoerd. Geen actie nodig",
            // delivered, issued, scheduled: done, nothing asked
            "USPS: Your item was delivered in or at the mailbox at 1:32 pm on June 3 in AUSTIN TX 78701",
            "Amazon: Refund of $23.99 for your return has been issued to your original payment method",
            "Bank of America: Your payment of $125.00 to Discover was scheduled for 06/15",
            // a sum from a named brand reported as paid is no stake to act on
            "Medicare: Your claim for $64.10 has been processed and paid to your nominated bank account",
            // with a link to the sender's own domain
            "Amazon: Your package with Echo Dot was delivered. Track at https://amazon.com/your-orders",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, Some("already done"));
        }
        // an account written by its last digits after an ellipsis or "ending", as US banks
        // write it
        for text in [
            "Your Chase account alert: a deposit of $1,250.00 was posted to checking ...5521",
            "Chase: A $42.18 transaction at Target was approved on your card ending 8821. No action needed",
            "Bank of America: A deposit of $1,200.00 was posted to your account ending 8812",
            "Your Lyft ride receipt: $14.52 charged to your Visa ending in 4411",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, Some("masked number"));
        }
        // the same words beside a number to call are no notice
        check(
            "Chase: A $942.18 transaction at Target was approved on your card. No action needed if this was you, else call 1-888-555-0199 now",
            Verdict::Smishing,
            ANY_BRAND,
            None,
        );
    }

    #[test]
    fn bank_transaction_alerts_are_ham_and_their_imitations_are_not() {
        // written for this test, as Indian banks write them: a masked account, the
        // transaction's reference, and a toll-free dispute line for "not you?"
        for text in [
            "Rs.500.00 debited from A/c XX1234 on 05-06-26 to VPA swiggy@icici (UPI Ref No 415612345678). Not you? Call 18002586161 - SBI",
            "Dear UPI user A/C X1234 debited by 500.0 on date 05Jun26 trf to SWIGGY Refno 415612345678. If not u? call 18004253800. -SBI",
        ] {
            check_in(Some("IN"), text, Verdict::Ham, ANY_BRAND, Some("masked number"));
        }
        // the same alert giving a mobile number, or without the transaction's reference
        for text in [
            "Rs.49,999.00 debited from A/c XX1234 (UPI Ref No 415612345678). Not you? Call 9876543210 immediately to cancel",
            "Rs.49,999.00 debited from your SBI A/c XX1234. Not you? Call 18002586161 now to block your card",
        ] {
            check_in(Some("IN"), text, Verdict::Smishing, ANY_BRAND, None);
        }
    }

    #[test]
    fn federal_programmes_are_trusted_parties() {
        // written for this test
        for text in [
            "Student loan forgiveness: you are approved for full discharge of your federal loans. Call 855-555-0175 before Friday to finalize",
            "Your student loan forgiveness application has been approved. Call 1-866-555-0111 to finalize within 24 hrs.",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some("trusted organisation"));
        }
    }

    /// US carriers require an opt-out instruction in alerts and receipts too: "Reply STOP"
    /// asks for nothing (messages written for this test).
    #[test]
    fn opt_out_instructions_ask_for_nothing() {
        for text in [
            "Chase: Your available balance in checking ...1234 is $1,023.55 as of 06/10. Reply STOP to opt out",
            "CVS Pharmacy: Your prescription is ready for pickup at 123 Main St. Reply STOP to opt out",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
        check(
            "Chase Fraud Alert: Did you attempt a purchase of $849.99 at Best Buy? Reply YES or NO. Reply STOP to opt out",
            Verdict::Smishing,
            Some("Chase"),
            None,
        );
    }

    /// Codes stand alone; amounts, phone numbers and references do not.
    #[test]
    fn codes_standing_alone() {
        for (text, expect) in [
            ("code 48213", true),
            ("code: 123-456.", true),
            ("482 913 is your code", true),
            ("1234 5678", true),
            // amounts, phone numbers, references, dates
            ("pay 1.250.000 now", false),
            ("ref AB123-456", false),
            ("12 345", false),
            ("total 123 456,50 IDR", false),
            ("+62 812 345", false),
            ("", false),
        ] {
            assert_eq!(has_code_digits(text), expect, "{text:?}");
        }
    }

    /// Notices of operators, banks and services that structure, not wording, tells apart
    /// (messages written for this test): missed-call forwards, receipts, codes, account
    /// events, links of a link service the named brand runs. Their lures stay smishing.
    #[test]
    fn notices_told_by_structure_are_ham_and_their_lures_are_not() {
        for text in [
            // missed call or voicemail forwarded by the operator: the caller's number first
            "0891234567 tried to call you at 09:12. This number tried to contact you.",
            "+66812345670 พยายามโทรหาคุณ กรุณาโทรกลับ Please call back this number",
            "021234567 ฝากข้อความถึงคุณ เมื่อ 10:05 น. ฟังได้ที่ *1800",
            // a receipt: a payment reported done, its "payment" asks for nothing
            "Transfer Ref.55120-0098 1,200.00 THB to X-3321 via Payment gateway was successful.",
            "ขอบคุณที่ชำระค่าบริการรายเดือน 129.00 บาท (รวม VAT) You have been charged 129.00 Baht",
            // an account event with nowhere to go
            "เริ่มใช้งานแพ็กเกจเน็ต 20GB แล้ว ใช้ได้ถึงวันที่ 31/08 เวลา 23:59 น.",
            "We have received your application for the savings plan. We will reply by SMS within 3 days.",
            // a bonus already granted, with nowhere to go: a receipt, not bait
            "Kuota bonus 5GB berhasil ditambahkan ke nomor Anda, berlaku 7 hari.",
            "Your 2GB data bonus was successfully added and is valid for 7 days.",
            // codes: bare "code", the SMS Retriever mark, an official link beside the code
            "Messenger code: 48213",
            "<#> Enter 5520 in the app within 10 minutes. a8Zk3Qp",
            "Telegram code: 55107. You can also log in here: https://t.me/login/55107",
            // codes in two groups, as messengers write them
            "Kode verifikasi WhatsApp Anda: 123-456. Jangan bagikan kode ini.",
            "Your Signal verification code: 482 913",
            // a link service's subdomain of the brand the message names (not a look-alike)
            "dtac: ดูรายละเอียดแพ็กเกจของคุณในแอป dtac.onelink.me/aB3x",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
        for text in [
            // a callback lure is not a missed-call forward: money and a threat
            "0891234567 tried to call you about your unpaid fine of 300. Call back today or your account is blocked",
            // a fake receipt with a way out is still a lure
            "Your payment of 950.00 was successful. If this was not you, cancel it at <URL>",
            "Your cash bonus of 200.00 was successfully added. Claim it today at https://bonus-claim.top/x",
            // a code beside a look-alike link
            "Your code is 44120. Verify your account at https://telegram-login.top/x",
            // someone collecting the code, at a number written with its country prefix
            "WhatsApp: your account will be blocked today. Send the code to +62 812 3456 7890",
            "WhatsApp: your account will be blocked today. Send the code 123-456 to +62 812 3456 7890",
            // a shortener behind a named operator, with something at stake
            "dtac: บัญชีของท่านถูกระงับ กรุณายืนยันตัวตนที่ bit.ly/3xYz9",
        ] {
            assert_ne!(analyzed(text).verdict, Verdict::Ham, "{text:?}");
        }
    }

    /// The lure's ask in generic words (update, complete, unlock, get in touch, "to avoid
    /// ..."), in several languages, beside a trusted party and a threat or reward: smishing
    /// even with the link cut off or anonymised (messages written for this test). The same
    /// verbs without anything at stake, or without a party, do not make a lure.
    #[test]
    fn generic_requests_with_something_at_stake_are_lures() {
        for text in [
            "Your bank account will be blocked today. Kindly update your records",
            "Beste klant, uw rekening is geblokkeerd. Voltooi de controle",
            "Gentile cliente, per evitare la sospensione del conto completi la procedura",
            "Dear customer, your online banking account has expired. Please contact customer care today",
            "Cher client, votre compte est suspendu. Pour éviter sa clôture, régularisez votre situation aujourd'hui",
            "Su tarjeta ha sido bloqueada por seguridad. Contacte con nosotros hoy",
            "A sua conta foi bloqueada. Para evitar a suspensão, conclua o processo",
            "お客様のアカウントに不正なログインがありました。本人確認をお願いします <URL>",
            "Tax office: a refund of 240.00 is waiting for you. Complete the form to receive it",
            "Uw openstaande schuld is nog niet voldaan. Betaal vandaag om beslag te voorkomen",
            // an account event to disown, with a way out that is not the sender's own
            "Your bank: a transfer of 480.00 to a new payee is in progress. If this was not you, cancel it at <URL>",
            "Mobiel: er is een nieuwe simkaart aangevraagd op uw account. Was u dit niet? Als u dit niet was, ga naar <URL>",
            "Votre banque : un nouvel appareil a été ajouté. Si ce n'est pas vous, rendez-vous sur :",
            // Czech: a blocked customer number, its link cut off after the colon
            "Vážený kliente, váš účet byl zablokován. Prosíme, obraťte se na:",
            // a text that ends on ":-" introduces a link that was cut off
            "Govt scheme: your application is approved, a refund is due. Check the status:-",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some("invokes"));
        }
        for text in [
            "Your subscription renews on 12 May. To change your plan, open the app",
            "Reminder: the library books you borrowed are due on Friday, renew them at the desk",
            "Can you confirm dinner on Saturday? Kindly let me know",
            // a code, or a card notice, telling what to do if it was not the recipient, with
            // no link or number of its own: how real security notices are written
            "Login code 480213, valid 10 minutes. If this wasn't you, change your password now.",
            "Your card XX1234 was used for 45.00 at a bakery. If this wasn't you, call the number on the back of your card",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
    }

    /// A prize or grant to be paid for first is advance-fee fraud whatever the language; a
    /// reminder about a renewal or a card on file that points to the app asks for nothing
    /// (written for this test).
    #[test]
    fn prizes_paid_for_first_are_lures_and_billing_reminders_are_not() {
        for text in [
            "Your compensation of 1,200 has been approved. Pay the 45 transfer charge first to receive it",
            "Su número ha ganado un premio de 3.000 euros. Pague antes la tasa de 40 euros para cobrarlo",
            "Vous avez gagné 2 000 €. Pour recevoir votre gain, payez d'abord 35 € de frais",
            "Selamat! Anda pemenang undian 25 juta. Transfer dulu biaya pajak 500 ribu agar hadiah dikirim",
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some("payment first"));
        }
        for text in [
            "Your subscription renews on 12 May. To update your payment method, open the app",
            "Your card on file expires in June. Update it in Settings to keep your plan active",
            "Ihr Abo verlängert sich am 3. Mai. Die Zahlungsart können Sie in der App ändern",
            // a bill to pay in the service's own app: no way out of the message, no weight
            "Verizon: Your bill of $85.20 is due 06/15. To pay, use the My Verizon app",
        ] {
            check(text, Verdict::Ham, ANY_BRAND, None);
        }
    }

    /// Unwanted messages that sell nothing are smishing, not spam, even without a channel
    /// we can see: a threat, a request for credentials, a reward a trusted party promises,
    /// or a named party in a text cut short before its ask (written for this test).
    #[test]
    fn unwanted_that_sells_nothing_is_smishing() {
        for (text, reason) in [
            (
                "Final notice: your debt of 420.00 remains unpaid. Bailiff action follows within 48 hours",
                "threatens, asks for details or promises a reward",
            ),
            (
                "Selamat, anda berhak atas hadiah 25 juta. Syaratnya trf dulu biaya admin 300 ribu",
                "threatens, asks for details or promises a reward",
            ),
            ("Dear customer, your Netbank access will be...", "cut short before its ask"),
            // a stated sum given away with nothing for sale: bait, not a shop's bonus
            (
                "Tu reembolso de 312,40 EUR ya fue procesado y te espera",
                "threatens, asks for details or promises a reward",
            ),
        ] {
            check(text, Verdict::Smishing, ANY_BRAND, Some(reason));
        }
        check(
            "WINTER SALE! 50% off all jackets this weekend only. Shop now at our store. Reply STOP to opt out",
            Verdict::Spam,
            ANY_BRAND,
            None,
        );
    }

    /// Reporting sites and forwarders drop links and leave the colon before them (`...renew
    /// via:`): such a text reads as if its link were masked, so lures cut this way stay
    /// lures and a chat line that ends on a colon stays ham (written for this test).
    #[test]
    fn a_text_whose_link_was_cut_away_reads_as_if_it_were_masked() {
        for (text, verdict) in [
            (
                "Su inscripción caduca en 3 días. Renueve ahora su inscripción en:",
                Verdict::Smishing,
            ),
            (
                "Your application for the housing grant has been approved. Check the status here:-",
                Verdict::Smishing,
            ),
            ("Meeting moved. New room:", Verdict::Ham),
            ("Hi team, the agenda for tomorrow is:", Verdict::Ham),
        ] {
            check(text, verdict, ANY_BRAND, None);
            let (cut, masked) = (analyzed(text), analyzed(&format!("{text} <URL>")));
            assert_eq!((cut.verdict, cut.score), (masked.verdict, masked.score), "{text:?}");
        }
    }

    /// Shorteners and link services are not a brand's (or anyone's) domain: a named brand
    /// with such a link is not "linking to a non-official domain of the brand".
    #[test]
    fn relayed_links_do_not_claim_a_non_official_brand_domain() {
        let a = engine().analyze(
            &record("dtac: ใบแจ้งค่าบริการเดือนนี้ 399 บาท ดูบิลได้ที่ bit.ly/3xYz9"),
            "1".into(),
            &AnalyzeOptions::default(),
        );
        assert!(!a.reasons.iter().any(|r| r.contains("not an official")), "{a:#?}");
        assert_reasons_agree(&a);
    }

    #[test]
    fn commercial_spam_without_impersonation_is_spam() {
        for text in [
            "WINTER SALE! 50% off all jackets this weekend only. Shop now at our store. Reply STOP to opt out",
            "Win a FREE holiday for two! Text WIN to 80800 now. 1.50 per msg, T&Cs apply",
            "Instant personal loan approved in 5 minutes, no documents needed. Apply now http://quick-loan-offer.xyz",
        ] {
            check(text, Verdict::Spam, ANY_BRAND, None);
        }
    }

    #[test]
    fn reasons_are_ordered_and_argue_for_the_verdict() {
        let reasons = || {
            let mut r = Reasons(Vec::new());
            r.add(1.0, "urgent");
            r.add(-3.5, "official");
            r.add(2.0, "wording resembles known spam and smishing (text model)");
            r.lure(1.2, "invokes a bank and asks to pay");
            r
        };
        assert_eq!(
            reasons().explain(Verdict::Smishing),
            [
                "invokes a bank and asks to pay",
                "urgent",
                "wording resembles known spam and smishing (text model)"
            ]
        );
        assert_eq!(
            reasons().explain(Verdict::Spam),
            ["urgent", "wording resembles known spam and smishing (text model)"]
        );
        assert_eq!(reasons().explain(Verdict::Ham), ["official"]);
        assert_eq!(
            Reasons(Vec::new()).explain(Verdict::Ham),
            ["nothing in it argues for spam or smishing"]
        );
    }

    #[test]
    fn hard_negatives_are_ham() {
        check(
            "Nieuw bericht in uw eBox. Bekijk het veilig via https://myebox.be",
            Verdict::Ham,
            Some("eBox"),
            None,
        );
        check(
            "bpost: votre colis sera livré demain. Suivi: https://track.bpost.cloud",
            Verdict::Ham,
            Some("bpost"),
            None,
        );
        check("Alarm: DI1 changed to HIGH at site X", Verdict::Ham, None, None);
        check("Are we still on for dinner tonight?", Verdict::Ham, None, None);
    }
}
