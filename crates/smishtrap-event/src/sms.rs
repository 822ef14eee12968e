use serde::{Deserialize, Serialize};

/// Direction of an SMS relative to the router or gateway that handled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Outbound,
    Inbound,
}

impl Direction {
    /// Accepts the spellings seen in router dumps and telco exports.
    pub fn parse(s: &str) -> Option<Direction> {
        match s.trim().to_ascii_lowercase().as_str() {
            "out" | "outbound" | "outbox" | "sent" | "mt" | "tx" => Some(Direction::Outbound),
            "in" | "inbound" | "inbox" | "received" | "mo" | "rx" => Some(Direction::Inbound),
            _ => None,
        }
    }
}

/// One SMS as the intelligence engine reads it.
///
/// Every field but `text` is optional: imports carry what they carry. Values are kept as
/// given (raw numbers, raw timestamps); normalisation is the analysis' job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SmsRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    pub text: String,
}

impl SmsRecord {
    /// The SMS records an `sms.send` event stands for: one per recipient (or one without a
    /// recipient when none was given). Other events give none.
    pub fn from_event(event: &crate::Event) -> Vec<SmsRecord> {
        let Some(sms) = event.sms.as_ref() else { return Vec::new() };
        if event.kind != crate::EventKind::SmsSend {
            return Vec::new();
        }
        let base = SmsRecord {
            id: Some(event.id.clone()),
            ts: Some(event.ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            to: None,
            from: None,
            direction: Some("outbound".into()),
            status: sms.status.clone(),
            router: Some(format!("{}/{}", event.sensor, event.persona)),
            router_country: None,
            source: Some("sensor".into()),
            src_ip: Some(event.src_ip.to_string()),
            text: sms.text.clone().unwrap_or_default(),
        };
        if sms.to.is_empty() {
            return vec![base];
        }
        let many = sms.to.len() > 1;
        sms.to
            .iter()
            .enumerate()
            .map(|(i, to)| SmsRecord {
                id: if many { Some(format!("{}#{}", event.id, i + 1)) } else { base.id.clone() },
                to: Some(to.clone()),
                ..base.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_spellings() {
        for (input, expect) in [
            ("OUT", Some(Direction::Outbound)),
            ("sent", Some(Direction::Outbound)),
            (" inbox ", Some(Direction::Inbound)),
            ("sideways", None),
        ] {
            assert_eq!(Direction::parse(input), expect, "{input}");
        }
    }
}
