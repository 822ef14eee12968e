//! JSON whose object keys keep the order they were written in.
//!
//! The device writes its replies in a fixed key order (`{"ysrole":4,"ystimeout":..}`, persona
//! core files in file order); `serde_json::Value` sorts keys, which is a tell. Enabling
//! serde_json's `preserve_order` would change every crate of the workspace (features unify), so
//! the sensor's replies use this small value type instead.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// Most nested arrays/objects accepted when parsing (persona files are trusted, but bounded).
const MAX_DEPTH: usize = 32;

/// A JSON value with ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Builds a [`Json`] object or array in the order written. Values are expressions converted
/// with `Json::from`; nested objects and arrays are written as nested `ojson!` calls.
#[macro_export]
macro_rules! ojson {
    ({ $($key:literal : $value:expr),* $(,)? }) => {
        $crate::ordered::Json::Object(vec![$(($key.to_owned(), $crate::ordered::Json::from($value))),*])
    };
    ([ $($value:expr),* $(,)? ]) => {
        $crate::ordered::Json::Array(vec![$($crate::ordered::Json::from($value)),*])
    };
}

impl Json {
    /// The text of this value, keys in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising strings, numbers and ordered maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses JSON text keeping key order; duplicate keys are kept as written.
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Json::deserialize(&mut de)?;
        de.end()?;
        Ok(value)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn depth(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::depth).max().unwrap_or(0),
            Json::Object(fields) => 1 + fields.iter().map(|(_, v)| v.depth()).max().unwrap_or(0),
            _ => 0,
        }
    }
}

impl From<Value> for Json {
    /// A `serde_json::Value` has already lost its key order: its keys come out sorted.
    fn from(value: Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(s),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            Value::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, v.into())).collect())
            }
        }
    }
}

impl From<&Value> for Json {
    fn from(value: &Value) -> Json {
        Json::from(value.clone())
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<&String> for Json {
    fn from(s: &String) -> Json {
        Json::String(s.clone())
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(n: $t) -> Json {
                Json::Number(Number::from(n))
            }
        }
    )*};
}
from_number!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(n) => n.serialize(s),
            Json::String(t) => s.serialize_str(t),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        let value = d.deserialize_any(JsonVisitor)?;
        if value.depth() > MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(value)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
        Number::from_f64(n).map(Json::Number).ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expect: &str) {
        let got = Json::parse(text).map(|j| String::from_utf8(j.to_bytes()).unwrap_or_default());
        assert_eq!(got.map_err(|e| e.to_string()).as_deref(), Ok(expect), "input {text}");
    }

    #[test]
    fn keys_keep_their_written_order() {
        check(
            r#"{"z":1,"a":{"y":[1,"x",null],"b":true}}"#,
            r#"{"z":1,"a":{"y":[1,"x",null],"b":true}}"#,
        );
        check(r#" {"system":{}, "cell":{}, "lan":1.5} "#, r#"{"system":{},"cell":{},"lan":1.5}"#);
        let built = crate::ojson!({"ysrole": 4, "ystimeout": 1800u32, "username": "admin", "td": crate::ojson!([])});
        assert_eq!(
            built.to_bytes(),
            br#"{"ysrole":4,"ystimeout":1800,"username":"admin","td":[]}"#
        );
        assert_eq!(built.get("username"), Some(&Json::from("admin")));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(Json::parse("{").is_err());
        assert!(Json::parse("{} x").is_err());
        assert!(
            Json::parse(
                &"[".repeat(40)
                    .to_string()
                    .chars()
                    .chain("]".repeat(40).chars())
                    .collect::<String>()
            )
            .is_err()
        );
    }

    proptest::proptest! {
        /// Whatever serde_json reads, this type reads to the same value (order aside).
        #[test]
        fn agrees_with_serde_json(text in r#"[{}\[\]":,a-z0-9 .-]{0,120}"#) {
            let ours = Json::parse(&text).ok();
            let theirs = serde_json::from_str::<Value>(&text).ok();
            proptest::prop_assert_eq!(ours.is_some(), theirs.is_some() && theirs.as_ref().map_or(0, |v| Json::from(v).depth()) <= MAX_DEPTH);
            if let (Some(o), Some(t)) = (ours, theirs) {
                let back: Value = serde_json::from_slice(&o.to_bytes()).unwrap_or_default();
                proptest::prop_assert_eq!(back, t);
            }
        }
    }
}
