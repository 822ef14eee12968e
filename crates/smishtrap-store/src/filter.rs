use std::net::IpAddr;

use chrono::{DateTime, Utc};
use smishtrap_event::EventKind;

/// Which events to read. The default matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Any of these kinds (empty: every kind).
    pub kinds: Vec<EventKind>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant (so `since`/`until` windows tile without overlap).
    pub until: Option<DateTime<Utc>>,
    pub sensor: Option<String>,
    pub persona: Option<String>,
    pub session: Option<String>,
    pub src_ip: Option<IpAddr>,
    /// At most this many events.
    pub limit: Option<u64>,
}

impl EventFilter {
    /// The same filter restricted to `sms.send` events.
    pub fn sms_sends(mut self) -> EventFilter {
        self.kinds = vec![EventKind::SmsSend];
        self
    }
}

/// A value bound to a placeholder of a generated clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
}

/// The `WHERE` conditions of a filter (without the keyword), joined by `AND`, and their
/// parameters in order. `placeholder(n)` spells the n-th (1-based) parameter for the backend.
pub(crate) fn conditions(
    filter: &EventFilter,
    placeholder: impl Fn(usize) -> String,
) -> (Vec<String>, Vec<Param>) {
    let mut conds = Vec::new();
    let mut params = Vec::new();
    let bind = |param: Param, params: &mut Vec<Param>| {
        params.push(param);
        placeholder(params.len())
    };
    let mut kinds: Vec<&'static str> = filter.kinds.iter().map(|k| k.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    if !kinds.is_empty() {
        let list: Vec<String> =
            kinds.iter().map(|k| bind(Param::Text((*k).to_owned()), &mut params)).collect();
        conds.push(format!("kind IN ({})", list.join(", ")));
    }
    if let Some(since) = filter.since {
        conds.push(format!("ts >= {}", bind(Param::Int(since.timestamp_micros()), &mut params)));
    }
    if let Some(until) = filter.until {
        conds.push(format!("ts < {}", bind(Param::Int(until.timestamp_micros()), &mut params)));
    }
    for (column, value) in
        [("sensor", &filter.sensor), ("persona", &filter.persona), ("session", &filter.session)]
    {
        if let Some(value) = value {
            conds.push(format!("{column} = {}", bind(Param::Text(value.clone()), &mut params)));
        }
    }
    if let Some(ip) = filter.src_ip {
        conds.push(format!("src_ip = {}", bind(Param::Text(ip.to_string()), &mut params)));
    }
    (conds, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(filter: EventFilter, expect_sql: &str, expect_params: &[Param]) {
        let (conds, params) = conditions(&filter, |n| format!("${n}"));
        assert_eq!(conds.join(" AND "), expect_sql);
        assert_eq!(params, expect_params);
    }

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn filters_become_bound_conditions() {
        check(EventFilter::default(), "", &[]);
        check(
            EventFilter {
                kinds: vec![EventKind::SmsSend, EventKind::AuthLogin, EventKind::SmsSend],
                ..Default::default()
            },
            "kind IN ($1, $2)",
            &[Param::Text("auth.login".into()), Param::Text("sms.send".into())],
        );
        check(
            EventFilter {
                since: Some(ts("1970-01-01T00:00:01Z")),
                until: Some(ts("1970-01-01T00:00:02.5Z")),
                ..Default::default()
            },
            "ts >= $1 AND ts < $2",
            &[Param::Int(1_000_000), Param::Int(2_500_000)],
        );
        check(
            EventFilter {
                sensor: Some("s'; DROP TABLE events; --".into()),
                src_ip: Some("::ffff:10.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))),
                session: Some("c1".into()),
                limit: Some(3),
                ..Default::default()
            },
            "sensor = $1 AND session = $2 AND src_ip = $3",
            &[
                Param::Text("s'; DROP TABLE events; --".into()),
                Param::Text("c1".into()),
                Param::Text("::ffff:10.0.0.1".into()),
            ],
        );
    }

    #[test]
    fn sms_sends_replaces_kinds() {
        let f =
            EventFilter { kinds: vec![EventKind::LogRead], limit: Some(2), ..Default::default() }
                .sms_sends();
        assert_eq!(f.kinds, vec![EventKind::SmsSend]);
        assert_eq!(f.limit, Some(2));
    }
}
