//! `{{name}}` placeholders in an agent's texts (system prompt, first message, voicemail message).
//!
//! A placeholder is `{{`, optional spaces, a variable name (a letter or `_`, then letters, digits or `_`),
//! optional spaces, `}}`. Anything else that opens with `{{` is a mistake, refused when the agent is saved
//! ([`check`]), so a stored text always fills cleanly. Filling ([`fill`]) never leaves a blank: a variable the
//! call does not have is an error naming every missing one.

use std::collections::BTreeSet;

use crate::error::{ErrorCode, InvalidInput};
use crate::model::agent::VoicemailAction;
use crate::model::variables::is_variable_name;
use crate::model::{AgentConfig, Variables};

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

/// Why a text is not a valid template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| TemplateError("a `{{` is never closed with `}}`".to_string()))?;
        let name = after[..close].trim_matches(' ');
        if !is_variable_name(name) {
            return Err(TemplateError(format!(
                "`{{{{{}}}}}` is not a variable: names are a letter or _, then letters, digits or _",
                &after[..close]
            )));
        }
        pieces.push(Piece::Variable(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Checks that `text` is a valid template.
pub fn check(text: &str) -> Result<(), TemplateError> {
    parse(text).map(drop)
}

/// The variables `text` uses (none for an invalid template: those are refused when saved).
pub fn variables(text: &str) -> BTreeSet<String> {
    parse(text)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Variable(name) => Some(name.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Every variable an agent's texts use: its system prompt, first message and (when it leaves one) voicemail
/// message.
pub fn required(config: &AgentConfig) -> BTreeSet<String> {
    let mut names = variables(&config.system_prompt);
    if let Some(first) = &config.first_message {
        names.extend(variables(first));
    }
    if config.voicemail.action == VoicemailAction::LeaveMessage
        && let Some(message) = &config.voicemail_message
    {
        names.extend(variables(message));
    }
    names
}

/// The variables `config` needs that `values` lacks, as the `MISSING_VARIABLES` error callers report before a
/// call is placed (under `field`).
pub fn check_complete(
    config: &AgentConfig,
    values: &Variables,
    field: &str,
) -> Result<(), InvalidInput> {
    let missing: Vec<String> = required(config)
        .into_iter()
        .filter(|name| values.get(name).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(InvalidInput::field(
        field,
        ErrorCode::MissingVariables,
        missing_message(&missing),
    ))
}

/// "the agent's texts use {{a}}, {{b}}, which this call does not have".
pub fn missing_message<S: AsRef<str>>(missing: &[S]) -> String {
    let names: Vec<String> = missing
        .iter()
        .map(|n| format!("{{{{{}}}}}", n.as_ref()))
        .collect();
    format!(
        "the agent's texts use {}, which this call does not have",
        names.join(", ")
    )
}

/// `text` with every placeholder replaced by its value; `Err` lists the variables `values` lacks.
pub fn fill(text: &str, values: &Variables) -> Result<String, BTreeSet<String>> {
    let pieces = parse(text).map_err(|_| BTreeSet::new())?;
    let mut out = String::with_capacity(text.len());
    let mut missing = BTreeSet::new();
    for piece in pieces {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Variable(name) => match values.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    missing.insert(name.to_string());
                }
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        Variables(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn fills_every_placeholder() {
        let text = "Hi {{first_name}}, your visit is on {{ day }}. Bye {{first_name}}!";
        assert_eq!(
            fill(text, &vars(&[("first_name", "Ada"), ("day", "Friday")])).unwrap(),
            "Hi Ada, your visit is on Friday. Bye Ada!"
        );
        assert_eq!(
            variables(text).into_iter().collect::<Vec<_>>(),
            ["day", "first_name"]
        );
        assert_eq!(
            fill("no placeholders {", &Variables::new()).unwrap(),
            "no placeholders {"
        );
    }

    #[test]
    fn missing_variables_are_named_never_blank() {
        let missing = fill("{{a}} {{b}} {{c}}", &vars(&[("b", "x")])).unwrap_err();
        assert_eq!(missing.into_iter().collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        assert!(check("Hello {{name").is_err());
        assert!(check("Hello {{first name}}").is_err());
        assert!(check("Hello {{}}").is_err());
        assert!(check("Hello {{1st}}").is_err());
        assert!(check("Hello {{ name }} and {single} braces").is_ok());
    }
}
