//! A call's dynamic variables: the values `{{name}}` placeholders in an agent's system prompt, first message and
//! voicemail message are filled with. They come from `placeCall`, `createSessionToken`, a campaign's contact
//! row, or — for phone calls — the numbers of the call itself ([`Variables::with_phone_numbers`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ErrorCode, FieldError, InvalidInput};

/// Most variables one call may carry.
pub const MAX_VARIABLES: usize = 50;
/// Longest variable value, in characters.
pub const MAX_VALUE_CHARS: usize = 1_000;
/// Longest variable name.
pub const MAX_NAME_CHARS: usize = 64;

/// Filled in on phone calls when not given: the caller's number (`From`).
pub const CALLER_NUMBER: &str = "caller_number";
/// Filled in on phone calls when not given: the number called (`To`).
pub const CALLED_NUMBER: &str = "called_number";

/// Variable name → value. Ordered, so what is stored and shown is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Variables(pub BTreeMap<String, String>);

/// Whether `name` can be a variable: a letter or `_`, then letters, digits or `_`.
pub fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_NAME_CHARS
}

impl Variables {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks one variable, reporting problems under `field` (e.g. `variables.first_name`).
    pub fn check(name: &str, value: &str, field: &str) -> Result<(), FieldError> {
        if !is_variable_name(name) {
            return Err(FieldError::new(
                field,
                ErrorCode::InvalidName,
                "variable names are a letter or _, then letters, digits or _ (at most 64)",
            ));
        }
        if value.chars().count() > MAX_VALUE_CHARS
            || value.chars().any(|c| c.is_control() && c != '\n')
        {
            return Err(FieldError::new(
                field,
                ErrorCode::InvalidVariables,
                format!("a value is at most {MAX_VALUE_CHARS} printable characters"),
            ));
        }
        Ok(())
    }

    /// Variables sent as a JSON object (`{"first_name": "Ada", "visits": 3}`): strings as they are, numbers and
    /// booleans as their text. Anything else is refused with field errors under `field`.
    pub fn from_json(value: Option<Value>, field: &str) -> Result<Self, InvalidInput> {
        let Some(value) = value else {
            return Ok(Self::new());
        };
        let Value::Object(map) = value else {
            return Err(InvalidInput::field(
                field,
                ErrorCode::InvalidVariables,
                "variables are a JSON object of names to strings",
            ));
        };
        let mut errors = Vec::new();
        if map.len() > MAX_VARIABLES {
            errors.push(FieldError::new(
                field,
                ErrorCode::TooMany,
                format!("at most {MAX_VARIABLES} variables"),
            ));
        }
        let mut variables = BTreeMap::new();
        for (name, value) in map {
            let at = format!("{field}.{name}");
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    errors.push(FieldError::new(
                        at,
                        ErrorCode::InvalidVariables,
                        "a value is a string, number or boolean",
                    ));
                    continue;
                }
            };
            match Self::check(&name, &text, &at) {
                Ok(()) => {
                    variables.insert(name, text);
                }
                Err(e) => errors.push(e),
            }
        }
        InvalidInput::check(errors)?;
        Ok(Self(variables))
    }

    /// The variables as a JSON object (for the API).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.0).expect("invariant: a map of strings serialises")
    }

    /// The variables with `caller_number` and `called_number` passed through `show` (masking them for roles
    /// that may not see numbers).
    pub fn map_phone_numbers(mut self, show: impl Fn(&str) -> String) -> Self {
        for name in [CALLER_NUMBER, CALLED_NUMBER] {
            if let Some(value) = self.0.get_mut(name) {
                *value = show(value);
            }
        }
        self
    }

    /// Adds `caller_number` and `called_number` unless given.
    pub fn with_phone_numbers(mut self, from: Option<&str>, to: Option<&str>) -> Self {
        for (name, number) in [(CALLER_NUMBER, from), (CALLED_NUMBER, to)] {
            if let Some(number) = number {
                self.0
                    .entry(name.to_string())
                    .or_insert_with(|| number.to_string());
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_objects_become_text_values() {
        let vars = Variables::from_json(
            Some(json!({"first_name": "Ada", "visits": 3, "vip": true})),
            "variables",
        )
        .unwrap();
        assert_eq!(vars.get("first_name"), Some("Ada"));
        assert_eq!(vars.get("visits"), Some("3"));
        assert_eq!(vars.get("vip"), Some("true"));
        assert_eq!(Variables::from_json(None, "v").unwrap(), Variables::new());
    }

    #[test]
    fn bad_names_and_values_are_reported_by_field() {
        let err = Variables::from_json(
            Some(json!({"1st": "x", "ok": {"nested": 1}, "long": "x".repeat(1001)})),
            "variables",
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|f| (f.field.as_str(), f.code)).collect();
        assert!(fields.contains(&("variables.1st", ErrorCode::InvalidName)));
        assert!(fields.contains(&("variables.ok", ErrorCode::InvalidVariables)));
        assert!(fields.contains(&("variables.long", ErrorCode::InvalidVariables)));
        assert!(Variables::from_json(Some(json!(["a"])), "variables").is_err());
    }

    #[test]
    fn phone_numbers_fill_in_without_overriding() {
        let vars = Variables(BTreeMap::from([(CALLER_NUMBER.into(), "given".into())]))
            .with_phone_numbers(Some("+14155550100"), Some("+14155550199"));
        assert_eq!(vars.get(CALLER_NUMBER), Some("given"));
        assert_eq!(vars.get(CALLED_NUMBER), Some("+14155550199"));
    }
}
