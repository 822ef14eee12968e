//! `{{variable}}` substitution for persona pages and JSON replies.
//!
//! Hand-written because the needs are tiny and strict: a fixed set of variable names checked
//! at load (a typo in a persona file is a load error, not a blank on the page), no logic, and
//! no attacker data ever reaches a template (only values the sensor generated).

use std::borrow::Cow;

use serde_json::Value;

use crate::ordered::Json;

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "vendor",
    "model",
    "pn",
    "oem",
    "rtver",
    "serial",
    "mac",
    "imei",
    "imsi",
    "iccid",
    "modem_model",
    "modem_version",
    "operator",
    "plmnid",
    "lac",
    "cellid",
    "signal",
    "hostname",
    "username",
    "lan_ip",
    "wan_ip",
    "timezone",
    "local_time",
    "current_time",
    "uptime",
    "sim_monthly_sms",
    "log_date",
    "client_ip",
    "password_enc",
    "wan_gateway",
    "wan_dns",
    "kernel",
    "pid_dnsmasq",
    "pid_httpd",
    "pid_cell",
    "pid_sms",
    "pid_ntpd",
    "pid_dropbear",
    "sms_number",
    "sms_status",
    "httpd_log_mtime",
    "httpd_log_size",
    "system_log_mtime",
    "system_log_size",
    "csrf_token",
    "csrf_token2",
    "tplink_token",
    "uptime_secs",
];

/// Variables that are counters: alone in a JSON string they render as JSON numbers.
const NUMERIC_VARIABLES: &[&str] = &["sim_monthly_sms"];

/// Values for the variables at render time.
pub trait Vars {
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(&'static str),
}

/// A parsed text template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `{{name}}` placeholders; the error names the offending placeholder.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err("unclosed `{{`".to_owned());
            };
            let name = after[..end].trim();
            let Some(known) = VARIABLES.iter().find(|v| **v == name) else {
                return Err(format!("unknown template variable `{name}`"));
            };
            parts.push(Part::Var(known));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Whether the template shows variable `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Var(v) if *v == name))
    }

    pub fn render(&self, vars: &dyn Vars) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&vars.get(v).unwrap_or_default()),
            }
        }
        out
    }

    /// The variable if the template is exactly one placeholder (used to keep JSON numbers typed).
    fn single_var(&self) -> Option<&'static str> {
        match self.parts.as_slice() {
            [Part::Var(v)] => Some(v),
            _ => None,
        }
    }
}

/// A JSON value whose strings may hold placeholders. A string that is exactly one counter
/// variable (e.g. `"{{sim_monthly_sms}}"`) renders as a JSON number, like the device's counters;
/// identifiers made of digits (IMEI, IMSI) stay strings.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Literal(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    pub fn parse(value: &Value) -> Result<JsonTemplate, String> {
        Ok(match value {
            Value::String(s) if s.contains("{{") => JsonTemplate::Text(Template::parse(s)?),
            Value::Array(items) => JsonTemplate::Array(
                items.iter().map(JsonTemplate::parse).collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => JsonTemplate::Object(
                map.iter()
                    .map(|(k, v)| JsonTemplate::parse(v).map(|t| (k.clone(), t)))
                    .collect::<Result<_, _>>()?,
            ),
            other => JsonTemplate::Literal(other.clone()),
        })
    }

    pub fn render(&self, vars: &dyn Vars) -> Value {
        match self {
            JsonTemplate::Literal(v) => v.clone(),
            JsonTemplate::Text(t) => {
                let text = t.render(vars);
                if t.single_var().is_some_and(|v| NUMERIC_VARIABLES.contains(&v))
                    && let Ok(n) = text.parse::<u64>()
                {
                    return Value::from(n);
                }
                Value::String(text)
            }
            JsonTemplate::Array(items) => {
                Value::Array(items.iter().map(|i| i.render(vars)).collect())
            }
            JsonTemplate::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.render(vars))).collect())
            }
        }
    }
}

impl JsonTemplate {
    /// Like [`JsonTemplate::parse`] from JSON that kept its key order (persona files).
    pub fn parse_ordered(value: &Json) -> Result<JsonTemplate, String> {
        Ok(match value {
            Json::String(s) if s.contains("{{") => JsonTemplate::Text(Template::parse(s)?),
            Json::Array(items) => JsonTemplate::Array(
                items.iter().map(JsonTemplate::parse_ordered).collect::<Result<_, _>>()?,
            ),
            Json::Object(fields) => JsonTemplate::Object(
                fields
                    .iter()
                    .map(|(k, v)| JsonTemplate::parse_ordered(v).map(|t| (k.clone(), t)))
                    .collect::<Result<_, _>>()?,
            ),
            other => JsonTemplate::Literal(serde_json::to_value(other).unwrap_or_default()),
        })
    }

    /// Renders with objects in the order of the template (the device's order).
    pub fn render_ordered(&self, vars: &dyn Vars) -> Json {
        match self {
            JsonTemplate::Literal(v) => Json::from(v),
            JsonTemplate::Text(_) => Json::from(self.render(vars)),
            JsonTemplate::Array(items) => {
                Json::Array(items.iter().map(|i| i.render_ordered(vars)).collect())
            }
            JsonTemplate::Object(fields) => Json::Object(
                fields.iter().map(|(k, v)| (k.clone(), v.render_ordered(vars))).collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Vars for Fixed {
        fn get(&self, name: &str) -> Option<Cow<'_, str>> {
            match name {
                "model" => Some("UR32L".into()),
                "sim_monthly_sms" => Some("42".into()),
                "imei" => Some("490154203237518".into()),
                _ => None,
            }
        }
    }

    fn check(text: &str, expect: Result<&str, &str>) {
        let got = Template::parse(text).map(|t| t.render(&Fixed));
        assert_eq!(got.as_deref().map_err(String::as_str), expect, "template {text:?}");
    }

    #[test]
    fn renders_known_variables_and_rejects_unknown_ones() {
        check("plain", Ok("plain"));
        check("<b>{{model}}</b>", Ok("<b>UR32L</b>"));
        check("{{ model }}{{model}}", Ok("UR32LUR32L"));
        check("{{rtver}}", Ok(""));
        check("{{nope}}", Err("unknown template variable `nope`"));
        check("a {{model", Err("unclosed `{{`"));
    }

    #[test]
    fn single_numeric_placeholders_stay_numbers() {
        let t = JsonTemplate::parse(
            &serde_json::json!({"n": "{{sim_monthly_sms}}", "m": "x{{model}}"}),
        )
        .unwrap();
        assert_eq!(t.render(&Fixed), serde_json::json!({"n": 42, "m": "xUR32L"}));
    }
}
