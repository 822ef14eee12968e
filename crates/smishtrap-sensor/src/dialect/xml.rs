//! A small, total reader for the flat XML bodies of router APIs (HiLink `<request>` bodies):
//! element texts by name, entities decoded. Attacker input: bounded, never panics.

/// At most this many elements of one name are returned (a send lists its recipients).
pub const MAX_ELEMENTS: usize = 256;

/// The decoded texts of every `<name>…</name>` (and `<name/>` as empty) in `body`, in order.
/// Nested markup inside an element is kept as text; a missing end tag ends the scan.
pub fn texts(body: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut rest = body;
    while out.len() < MAX_ELEMENTS {
        let Some(at) = rest.find(&open) else { break };
        let after = &rest[at + open.len()..];
        // `<Phone>` or `<Phone attr="…">` or `<Phone/>`, not `<Phones>`.
        let Some(end) = after.find('>') else { break };
        let head = &after[..end];
        if !head.is_empty() && !head.starts_with([' ', '\t', '\r', '\n', '/']) {
            rest = after;
            continue;
        }
        let content_start = &after[end + 1..];
        if head.ends_with('/') {
            out.push(String::new());
            rest = content_start;
            continue;
        }
        let Some(stop) = content_start.find(&close) else { break };
        out.push(decode(&content_start[..stop]));
        rest = &content_start[stop + close.len()..];
    }
    out
}

/// The first element's text.
pub fn text(body: &str, name: &str) -> Option<String> {
    texts(body, name).into_iter().next()
}

/// Decodes the five named entities, numeric character references and CDATA sections.
pub fn decode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or("");
            continue;
        }
        if rest.starts_with('<') {
            out.push('<');
            rest = &rest[1..];
            continue;
        }
        let Some(semi) = rest.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text as XML element content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Controls other than tab and line breaks are not XML 1.0 characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, name: &str, expect: &[&str]) {
        assert_eq!(texts(body, name), expect, "{body}");
    }

    #[test]
    fn elements_and_entities() {
        let send = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index><Phones><Phone>+3247&amp;1</Phone><Phone>+2</Phone></Phones><Sca/><Content>a &lt;b&gt; &#233;&#x1F600; &bogus; &</Content></request>";
        check(send, "Phone", &["+3247&1", "+2"]);
        // Nested markup is text, entities decoded.
        check(send, "Phones", &["<Phone>+3247&1</Phone><Phone>+2</Phone>"]);
        check(send, "Sca", &[""]);
        check(send, "Content", &["a <b> \u{e9}\u{1F600} &bogus; &"]);
        check(send, "Missing", &[]);
        check("<Content><![CDATA[x<y]]></Content>", "Content", &["x<y"]);
        check("<Content>unterminated", "Content", &[]);
        check("<Content attr=\"1\">v</Content>", "Content", &["v"]);
    }

    #[test]
    fn escape_round_trips() {
        for s in ["a<b>&\"'", "plain", "ünï 😀"] {
            assert_eq!(decode(&escape(s)), s);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_bounded(body in "(?s:.){0,400}", name in "[A-Za-z]{1,8}") {
            let got = texts(&body, &name);
            proptest::prop_assert!(got.len() <= MAX_ELEMENTS);
            let _ = decode(&body);
        }
    }
}
