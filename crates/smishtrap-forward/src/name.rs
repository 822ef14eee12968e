//! [`SensorName`]: the one token of a subject a sensor may choose.

use std::fmt;

/// Longest sensor name, in bytes.
const MAX_LEN: usize = 64;

/// A sensor's name as used in NATS subjects: 1 to 64 of `A-Z a-z 0-9 _ -`. No `.`, `*`, `>`
/// or white space, so it is exactly one subject token and cannot widen a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SensorName(String);

/// Why a sensor name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sensor name {shown}: use 1 to {MAX_LEN} of A-Z, a-z, 0-9, '_', '-'")]
pub struct SensorNameError {
    /// The refused name, escaped and cut for messages.
    shown: String,
}

impl SensorName {
    /// Checks a name.
    pub fn parse(name: &str) -> Result<SensorName, SensorNameError> {
        let valid = !name.is_empty()
            && name.len() <= MAX_LEN
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid {
            Ok(SensorName(name.to_owned()))
        } else {
            let cut: String = name.chars().take(MAX_LEN + 1).collect();
            Err(SensorNameError { shown: format!("{cut:?}") })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SensorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[track_caller]
    fn check(name: &str, expect: bool) {
        assert_eq!(SensorName::parse(name).is_ok(), expect, "{name:?}");
    }

    #[test]
    fn names() {
        check("be-antwerp_01", true);
        check(&"a".repeat(64), true);
        check(&"a".repeat(65), false);
        check("", false);
        check("a.b", false);
        check("a*", false);
        check(">", false);
        check("a b", false);
        check("é", false);
        check("a\n", false);
    }

    #[test]
    fn error_names_the_value_escaped() {
        let err = SensorName::parse("a.b\n").unwrap_err().to_string();
        assert_eq!(err, r#"sensor name "a.b\n": use 1 to 64 of A-Z, a-z, 0-9, '_', '-'"#);
    }

    proptest! {
        #[test]
        fn a_valid_name_is_one_subject_token(name in "\\PC{0,80}") {
            if let Ok(n) = SensorName::parse(&name) {
                let subject = crate::subject(&n);
                prop_assert_eq!(subject.split('.').count(), 3);
                prop_assert!(!subject.contains(['*', '>', ' ']));
            }
        }
    }
}
