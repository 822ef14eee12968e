//! Pure text extraction for SMS analysis: URLs, registrable domains, phone numbers, language.
//!
//! `smishtrap-extract` turns one untrusted SMS text into typed values the intelligence
//! engine (`smishtrap-intel`) scores:
//!
//! - [`extract`] (or [`extract_with`], given a region for national numbers) finds every URL
//!   (with or without scheme, `www.`, bare `domain.tld/path`, defanged or evasive spellings
//!   such as `hxxps://csam-be[.]info` or `mycsam-login. com/be`), every phone number
//!   mentioned in the text (call-back scams) and every e-mail address. URLs carry their
//!   refanged, normalised form, ASCII and Unicode host, registrable domain (public suffix
//!   list), UTS #39 confusable skeleton, and flags (shortener, defanged, IP host, mixed
//!   script, bare, userinfo).
//! - [`parse_number`] normalises a sender/recipient field to E.164 and ISO country.
//! - [`detect_language`] gives the ISO 639-1 code of a short text.
//! - [`defang`] / [`refang`] convert between live and safe-to-show URL spellings.
//! - [`RegistrableDomain`], [`is_shortener`] and [`confusable_skeleton`] serve the brand
//!   impersonation checks of `smishtrap-intel`.
//!
//! Choices: URLs are found with `linkify` after refanging (with a byte map back to the
//! input for spans), hosts go through `idna` and `psl`; phone numbers are validated with
//! libphonenumber metadata (`phonenumber`) behind `catch_unwind`; the language detector is a
//! character n-gram model derived at build time from lingua's models (lingua itself is the
//! test reference: its low-accuracy mode costs about 150 µs per SMS, the derived model
//! about 1 µs, and is more accurate on SMS-length texts).
//!
//! Invariants: no I/O, no panics and bounded work on any input (text is capped at
//! [`MAX_TEXT_BYTES`], candidates at [`MAX_URLS`] / [`MAX_NUMBERS`]); problems come back as
//! [`Diagnostic`] values next to the results, never as failures. Spans are byte ranges into
//! the caller's text, always on char boundaries.

mod defang;
mod lang;
mod numbers;
pub mod safe;
mod urls;

use serde::Serialize;

pub use defang::{defang, refang};
pub use lang::{SUPPORTED_LANGUAGES, detect_language};
pub use numbers::{E164, MentionedNumber, PhoneNumber, is_toll_free, parse_number};
pub use urls::{
    ExtractedEmail, ExtractedUrl, RegistrableDomain, confusable_skeleton, is_shortener,
    normalize_url,
};

/// Texts are cut at this many bytes (on a char boundary) before extraction.
pub const MAX_TEXT_BYTES: usize = 8 * 1024;
/// At most this many URLs are reported per text.
pub const MAX_URLS: usize = 32;
/// At most this many mentioned numbers are reported per text.
pub const MAX_NUMBERS: usize = 16;

/// Everything found in one text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Extracted {
    pub urls: Vec<ExtractedUrl>,
    pub numbers: Vec<MentionedNumber>,
    /// E-mail addresses (not counted as URLs).
    pub emails: Vec<ExtractedEmail>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Something worth telling the analyst that did not stop extraction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    /// Lowercase, no trailing period; attacker bytes in it are escaped and bounded.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The text was longer than [`MAX_TEXT_BYTES`]; only the start was examined.
    TextTruncated,
    /// More candidates than the caps allow; the rest were ignored.
    TooManyCandidates,
    /// A phone number could not be parsed or is not valid.
    InvalidNumber,
    /// The number parser panicked on this input (caught).
    NumberParserPanic,
    /// A URL-like token whose host could not be normalised.
    InvalidHost,
}

impl Diagnostic {
    pub(crate) fn new(kind: DiagnosticKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

/// Shows at most 64 chars of attacker text inside a diagnostic, escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        out.extend(c.escape_default());
    }
    out.push('"');
    out
}

/// Largest char boundary `<= max` in `s`.
pub(crate) fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Extracts URLs and mentioned phone numbers from one SMS text. Never panics.
pub fn extract(text: &str) -> Extracted {
    extract_with(text, None)
}

/// Like [`extract`], with a region (ISO alpha-2, e.g. the router's country) for national
/// numbers written in the text.
pub fn extract_with(text: &str, region_hint: Option<&str>) -> Extracted {
    let mut out = Extracted::default();
    let cut = floor_char_boundary(text, MAX_TEXT_BYTES);
    if cut < text.len() {
        out.diagnostics.push(Diagnostic::new(
            DiagnosticKind::TextTruncated,
            format!("text of {} bytes cut to {cut} bytes before extraction", text.len()),
        ));
    }
    let text = &text[..cut];
    urls::find_urls(text, &mut out);
    numbers::find_numbers(text, region_hint, &mut out);
    out
}
