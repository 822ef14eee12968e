//! What pages and streams show of an event: bounded, defanged text (escaping is the template
//! engine's job, or `textContent`'s in the browser).

use std::borrow::Cow;

use serde::Serialize;
use smishtrap_event::{BodyEncoding, Event};

/// Longest summary shown in a list row, in characters.
pub const SUMMARY_CHARS: usize = 160;

/// Text with every URL or domain that [`smishtrap_extract`] finds defanged
/// (`hxxps://csam-be[.]info`), so nothing an analyst copies or a viewer linkifies is live.
/// Text longer than the extractor's bound is defanged line by line, then in chunks.
pub fn defang_text(text: &str) -> Cow<'_, str> {
    if text.len() <= smishtrap_extract::MAX_TEXT_BYTES {
        return defang_chunk(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let mut rest = line;
        while !rest.is_empty() {
            let mut end = rest.len().min(smishtrap_extract::MAX_TEXT_BYTES);
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            let (chunk, tail) = rest.split_at(end);
            out.push_str(&defang_chunk(chunk));
            rest = tail;
        }
    }
    Cow::Owned(out)
}

fn defang_chunk(text: &str) -> Cow<'_, str> {
    let urls = smishtrap_extract::extract(text).urls;
    if urls.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16 * urls.len());
    let mut at = 0;
    for url in &urls {
        let (start, end) = (url.span.start, url.span.end);
        let (Some(before), Some(raw)) = (text.get(at..start), text.get(start..end)) else {
            continue;
        };
        out.push_str(before);
        out.push_str(&smishtrap_extract::defang(raw));
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    Cow::Owned(out)
}

/// Cuts to at most `max` characters, marking the cut with `…`.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The router family of a persona: persona names are `<family>-<model>` (`tplink-mr600`).
pub fn family_of(persona: &str) -> String {
    clip(persona.split_once('-').map_or(persona, |(f, _)| f), 32)
}

/// One line of the Live list, as the page renders it and the stream sends it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub id: String,
    pub ts: String,
    pub kind: &'static str,
    pub sensor: String,
    pub persona: String,
    /// The router family the persona belongs to (its name up to the first `-`: `tplink`).
    pub family: String,
    /// The SMS API dialect of a send or query (`tplink_gdpr`), else empty.
    pub dialect: &'static str,
    pub src_ip: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// The SMS text and recipients, or the login user, or nothing; defanged and clipped.
    pub summary: String,
}

impl EventRow {
    /// The family and, for SMS events, the dialect, as one cell shows them.
    pub fn origin(&self) -> String {
        if self.dialect.is_empty() {
            self.family.clone()
        } else {
            format!("{} · {}", self.family, self.dialect)
        }
    }

    pub fn of(event: &Event) -> EventRow {
        let summary = if let Some(sms) = &event.sms {
            let to = sms.to.iter().take(3).map(String::as_str).collect::<Vec<_>>().join(", ");
            let more =
                if sms.to.len() > 3 { format!(" +{}", sms.to.len() - 3) } else { String::new() };
            let text = sms.text.as_deref().unwrap_or("");
            format!(
                "to {to}{more}: {}",
                clip(&defang_text(&clip(text, SUMMARY_CHARS * 2)), SUMMARY_CHARS)
            )
        } else if let Some(auth) = &event.auth {
            let outcome = if auth.success { "success" } else { "failure" };
            clip(&format!("login {} ({outcome})", auth.username), SUMMARY_CHARS)
        } else {
            String::new()
        };
        EventRow {
            id: event.id.clone(),
            ts: event.ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            kind: event.kind.as_str(),
            sensor: clip(&event.sensor, 64),
            persona: clip(&event.persona, 64),
            family: family_of(&event.persona),
            dialect: event.sms.as_ref().map_or("", |s| s.dialect.as_str()),
            src_ip: event.src_ip.to_string(),
            method: clip(&event.http.method, 16),
            path: clip(&defang_text(&clip(&event.http.path, 400)), 200),
            status: event.response_status,
            summary,
        }
    }
}

/// Everything the detail page shows, as display strings.
#[derive(Debug)]
pub struct EventDetail {
    pub row: EventRow,
    pub session: String,
    pub src_port: u16,
    pub dst_port: u16,
    pub version: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub body_note: String,
    pub tags: Vec<String>,
    pub auth: Option<AuthView>,
    pub sms: Option<SmsView>,
}

#[derive(Debug)]
pub struct AuthView {
    pub username: String,
    pub password: String,
    pub decrypted: bool,
    pub success: bool,
}

#[derive(Debug)]
pub struct SmsView {
    pub to: Vec<String>,
    pub text: Option<String>,
    pub dialect: String,
    pub mailbox: Option<String>,
    pub status: Option<String>,
}

impl EventDetail {
    pub fn of(event: &Event) -> EventDetail {
        let http = &event.http;
        let body_note = match (http.body_encoding, http.body_truncated) {
            (BodyEncoding::Utf8, false) => format!("{} bytes", http.body_len),
            (BodyEncoding::Utf8, true) => format!("{} bytes, first 64 KiB shown", http.body_len),
            (BodyEncoding::Base64, truncated) => format!(
                "{} bytes, not UTF-8, shown as base64{}",
                http.body_len,
                if truncated { " (first 64 KiB)" } else { "" }
            ),
        };
        EventDetail {
            row: EventRow::of(event),
            session: event.session.clone(),
            src_port: event.src_port,
            dst_port: event.dst_port,
            version: http.version.clone(),
            query: http.query.as_deref().map(|q| defang_text(q).into_owned()),
            headers: http
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), defang_text(v).into_owned()))
                .collect(),
            body: defang_text(&http.body).into_owned(),
            body_note,
            tags: event.tags.clone(),
            auth: event.auth.as_ref().map(|a| AuthView {
                username: a.username.clone(),
                password: a.password.clone(),
                decrypted: a.password_decrypted,
                success: a.success,
            }),
            sms: event.sms.as_ref().map(|s| SmsView {
                to: s.to.clone(),
                text: s.text.as_deref().map(|t| defang_text(t).into_owned()),
                dialect: serde_json::to_value(s.dialect)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                mailbox: s.mailbox.and_then(|m| {
                    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_owned))
                }),
                status: s.status.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        assert_eq!(defang_text(text), expect);
    }

    #[test]
    fn urls_and_domains_in_text_are_defanged() {
        check(
            "Uw pakket: https://bpost-track.example-be.info/x?id=1 nu",
            "Uw pakket: hxxps://bpost-track[.]example-be[.]info/x?id=1 nu",
        );
        check("no links here", "no links here");
        check("go to csam-be.info now", "go to csam-be[.]info now");
        check("<script>alert(1)</script>", "<script>alert(1)</script>");
    }

    #[test]
    fn long_text_is_defanged_everywhere() {
        let long = format!("{}\nvisit https://evil-site.com/a\n", "x ".repeat(6000));
        let out = defang_text(&long);
        assert!(out.contains("hxxps://evil-site[.]com/a"), "{}", &out[out.len() - 60..]);
        assert!(!out.contains("https://evil-site.com"));
    }

    #[test]
    fn clip_counts_characters() {
        assert_eq!(clip("héllo", 3), "hél…");
        assert_eq!(clip("héllo", 5), "héllo");
    }
}

#[cfg(test)]
mod proptests {
    use proptest::prelude::*;

    use super::{clip, defang_text};

    proptest! {
        /// Defanging never panics, keeps every non-URL character, and leaves no live web
        /// scheme in front of a URL the extractor found.
        #[test]
        fn defanging_keeps_text_and_kills_schemes(
            text in "(\\PC{0,20}( https?://[a-z]{1,8}\\.(com|info|be)/[a-z]{0,5})?){0,6}",
        ) {
            let out = defang_text(&text);
            prop_assert!(out.len() >= text.len());
            for url in smishtrap_extract::extract(&text).urls {
                prop_assert!(!out.contains(&url.raw) || !url.raw.contains('.'), "{} in {}", url.raw, out);
            }
        }

        #[test]
        fn clipping_is_bounded(text in "\\PC{0,300}", max in 0usize..200) {
            prop_assert!(clip(&text, max).chars().count() <= max + 1);
        }
    }
}
