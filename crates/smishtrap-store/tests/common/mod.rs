//! What the message tests of every test crate build their rows from.

#![allow(dead_code, reason = "each test crate uses part of it")]

use smishtrap_store::{MessageQuery, NewMessage};

/// A message: smishing ones carry the CSAM lure's brand and domains; the time picks the
/// recipient and the country.
pub(crate) fn message(id: &str, ts: i64, text: &str, verdict: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        event_id: None,
        origin: "import".into(),
        ts_micros: ts,
        recipient: Some(format!("+3247000000{}", ts % 10)),
        country: Some(if ts % 2 == 0 { "BE" } else { "SE" }.into()),
        sender: None,
        router: Some("r1".into()),
        src_ip: None,
        text: text.into(),
        lang: Some("en".into()),
        verdict: verdict.into(),
        score: 0.5,
        brand: (verdict == "smishing").then(|| "CSAM".into()),
        domains: if verdict == "smishing" {
            vec!["login.csam-be.info".into(), "csam-be.info".into()]
        } else {
            Vec::new()
        },
        record: "{}".into(),
        analysis: "{}".into(),
    }
}

/// The five messages the search tests seed (`a` to `e`, times 1 to 5).
pub(crate) fn seed_messages() -> Vec<NewMessage> {
    vec![
        message("a", 1, "Your CSAM account expires, log in at csam-be.info", "smishing"),
        message("b", 2, "See you at dinner tonight", "ham"),
        message("c", 3, "WIN a free cruise! Reply YES", "spam"),
        message("d", 4, "Uw CSAM dossier: verify now at csam-be.info", "smishing"),
        message("e", 5, "Ünïcode déjà vu \"quoted\" text", "ham"),
    ]
}

/// Queries of every kind of filter, over [`seed_messages`] and the filler of [`many`]: what
/// every backend must answer the same with its indexes kept, deferred or rebuilt.
pub(crate) fn queries() -> Vec<MessageQuery> {
    let q = MessageQuery::default;
    let text = |s: &str| MessageQuery { text: Some(s.into()), ..q() };
    vec![
        q(),
        text("csam"),
        text("CSAM-BE.INFO"),
        text("déjà"),
        text("ÜNÏCODE"),
        text("\"quoted\""),
        text("vu"),
        text("filler message 99"),
        text("nothing like this"),
        MessageQuery { domain: Some("LOGIN.csam-be.info".into()), ..q() },
        MessageQuery { brand: Some("csam".into()), ..q() },
        MessageQuery { verdict: Some("spam".into()), ..q() },
        MessageQuery { country: Some("BE".into()), ..q() },
        MessageQuery { number: Some("+32470000003".into()), ..q() },
        MessageQuery { number: Some("+46000000123".into()), ..q() },
        MessageQuery { verdict: Some("smishing".into()), ..text("dossier") },
        MessageQuery { before: Some((4, i64::MAX)), ..q() },
    ]
}

/// `n` messages of every verdict, times and numbers apart, the seeded ones among them.
pub(crate) fn many(n: i64) -> Vec<NewMessage> {
    let mut all = seed_messages();
    for i in 10..n {
        let verdict = ["ham", "spam", "smishing"][(i % 3) as usize];
        let mut m = message(&format!("m{i}"), i * 1000, &format!("filler message {i}"), verdict);
        m.recipient = Some(format!("+46{i:09}"));
        all.push(m);
    }
    all
}
