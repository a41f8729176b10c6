//! Contacts from CSV: a header row, then one contact per line. The phone number column (`phone`,
//! `phone_number`, `number` or `to`) is required (E.164; spaces, dashes and parentheses are dropped); a `timezone`
//! column (IANA) is optional; every other column is a variable for the agent's `{{placeholders}}`. Lines that fail
//! are reported by line number with a reason, and the valid ones kept.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono_tz::Tz;

use super::window::parse_zone;
use crate::error::{ErrorCode, InvalidInput};
use crate::model::Variables;
use crate::model::variables::{MAX_VARIABLES, is_variable_name};
use crate::telephony::values::E164;

/// Most contacts read from one upload.
pub const MAX_ROWS: usize = 20_000;

/// A contact read from a line.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContact {
    pub line: i64,
    pub phone_number: String,
    pub timezone: Option<String>,
    pub variables: Variables,
}

/// A line that was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub line: i64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

/// What an upload held.
#[derive(Debug, Default)]
pub struct Parsed {
    pub contacts: Vec<NewContact>,
    pub rejected: Vec<Rejected>,
}

enum Column {
    Phone,
    Timezone,
    Variable(String),
}

fn column_of(header: &str) -> Column {
    let name = header.trim();
    match name.to_ascii_lowercase().as_str() {
        "phone" | "phone_number" | "number" | "to" => Column::Phone,
        "timezone" | "time_zone" | "tz" => Column::Timezone,
        _ => Column::Variable(name.to_string()),
    }
}

/// Reads `text`. `required` are the variables the agent's texts use (a line lacking one is rejected);
/// `automatic` are filled by the call itself (its numbers) and need no column. A header that cannot work
/// refuses the whole upload.
pub fn parse(
    text: &str,
    required: &BTreeSet<String>,
    automatic: &[&str],
) -> Result<Parsed, InvalidInput> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header_error = |message: String| InvalidInput::field("csv", ErrorCode::InvalidCsv, message);
    let headers = reader
        .headers()
        .map_err(|e| header_error(format!("line 1: the header cannot be read: {e}")))?
        .clone();
    let columns: Vec<Column> = headers.iter().map(column_of).collect();
    if !columns.iter().any(|c| matches!(c, Column::Phone)) {
        return Err(header_error(
            "line 1: the header names no phone number column (phone, phone_number, number or to)"
                .into(),
        ));
    }
    let mut seen_names = BTreeSet::new();
    for column in &columns {
        if let Column::Variable(name) = column {
            if !is_variable_name(name) {
                return Err(header_error(format!(
                    "line 1: column `{name}` is not a variable name (a letter or _, then letters, digits or _)"
                )));
            }
            if !seen_names.insert(name.clone()) {
                return Err(header_error(format!(
                    "line 1: column `{name}` appears twice"
                )));
            }
        }
    }
    if seen_names.len() > MAX_VARIABLES {
        return Err(header_error(format!(
            "line 1: at most {MAX_VARIABLES} variable columns"
        )));
    }
    let needed: Vec<&String> = required
        .iter()
        .filter(|name| !automatic.contains(&name.as_str()))
        .collect();

    let mut parsed = Parsed::default();
    let mut numbers = HashSet::new();
    for record in reader.records() {
        let (line, record) = match record {
            Ok(record) => (record.position().map_or(0, |p| p.line() as i64), record),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as i64);
                parsed.rejected.push(Rejected {
                    line,
                    column: None,
                    code: ErrorCode::InvalidCsv,
                    message: csv_message(&e),
                });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        if parsed.contacts.len() + parsed.rejected.len() >= MAX_ROWS {
            parsed.rejected.push(Rejected {
                line,
                column: None,
                code: ErrorCode::TooMany,
                message: format!("at most {MAX_ROWS} contacts per upload; the rest was not read"),
            });
            break;
        }
        match read_line(line, &record, &headers, &columns, &needed) {
            Ok(contact) if !numbers.insert(contact.phone_number.clone()) => {
                parsed.rejected.push(Rejected {
                    line,
                    column: Some(headers[phone_index(&columns)].to_string()),
                    code: ErrorCode::Duplicate,
                    message: format!("{} is on an earlier line", contact.phone_number),
                });
            }
            Ok(contact) => parsed.contacts.push(contact),
            Err(rejected) => parsed.rejected.push(rejected),
        }
    }
    Ok(parsed)
}

fn phone_index(columns: &[Column]) -> usize {
    columns
        .iter()
        .position(|c| matches!(c, Column::Phone))
        .unwrap_or_default()
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} cells where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".into(),
        _ => format!("cannot be read: {e}"),
    }
}

fn read_line(
    line: i64,
    record: &csv::StringRecord,
    headers: &csv::StringRecord,
    columns: &[Column],
    needed: &[&String],
) -> Result<NewContact, Rejected> {
    let reject = |column: Option<&str>, code, message: String| Rejected {
        line,
        column: column.map(String::from),
        code,
        message,
    };
    let mut phone = None;
    let mut timezone: Option<Tz> = None;
    let mut variables = BTreeMap::new();
    for ((column, header), value) in columns.iter().zip(headers).zip(record) {
        match column {
            Column::Phone => {
                let number = E164::parse(value, header)
                    .ok()
                    .filter(|n| crate::agents::is_e164(n.as_str()))
                    .ok_or_else(|| {
                        reject(
                            Some(header),
                            ErrorCode::InvalidPhoneNumber,
                            format!("`{value}` is not an E.164 phone number such as +14155550123"),
                        )
                    })?;
                phone = Some(number.as_str().to_string());
            }
            Column::Timezone if value.is_empty() => {}
            Column::Timezone => {
                timezone = Some(parse_zone(value).ok_or_else(|| {
                    reject(
                        Some(header),
                        ErrorCode::InvalidTimezone,
                        format!("`{value}` is not an IANA time zone such as America/New_York"),
                    )
                })?);
            }
            Column::Variable(_) if value.is_empty() => {}
            Column::Variable(name) => {
                Variables::check(name, value, name)
                    .map_err(|e| reject(Some(header), e.code, e.message))?;
                variables.insert(name.clone(), value.to_string());
            }
        }
    }
    let phone = phone.ok_or_else(|| reject(None, ErrorCode::Required, "no phone number".into()))?;
    let missing: Vec<&str> = needed
        .iter()
        .filter(|name| !variables.contains_key(name.as_str()))
        .map(|name| name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(reject(
            missing.first().copied(),
            ErrorCode::MissingVariables,
            crate::agents::template::missing_message(&missing),
        ));
    }
    Ok(NewContact {
        line,
        phone_number: phone,
        timezone: timezone.map(|tz| tz.name().to_string()),
        variables: Variables(variables),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn valid_lines_are_kept_and_bad_ones_reported_by_line() {
        let text = "phone,first_name,timezone\n\
                    +1 (415) 555-0100,Ada,America/New_York\n\
                    not a number,Bob,\n\
                    +14155550101,,Europe/Paris\n\
                    +14155550102,Cy,Mars/Olympus\n\
                    +14155550100,Ada again,\n\
                    \"+14155550103\",\"Di, with a comma\",\n\
                    +14155550104,Ed,UTC,extra\n";
        let parsed = parse(
            text,
            &required(&["first_name", "caller_number"]),
            &["caller_number"],
        )
        .unwrap();
        let kept: Vec<(i64, &str)> = parsed
            .contacts
            .iter()
            .map(|c| (c.line, c.phone_number.as_str()))
            .collect();
        assert_eq!(kept, [(2, "+14155550100"), (7, "+14155550103")]);
        assert_eq!(
            parsed.contacts[0].timezone.as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            parsed.contacts[1].variables.get("first_name"),
            Some("Di, with a comma")
        );
        let rejected: Vec<(i64, ErrorCode)> =
            parsed.rejected.iter().map(|r| (r.line, r.code)).collect();
        assert_eq!(
            rejected,
            [
                (3, ErrorCode::InvalidPhoneNumber),
                (4, ErrorCode::MissingVariables),
                (5, ErrorCode::InvalidTimezone),
                (6, ErrorCode::Duplicate),
                (8, ErrorCode::InvalidCsv),
            ]
        );
        assert!(parsed.rejected[1].message.contains("{{first_name}}"));
    }

    #[test]
    fn a_header_that_cannot_work_refuses_the_upload() {
        for text in [
            "name,city\nAda,Paris\n",
            "phone,first name\n+14155550100,Ada\n",
            "",
        ] {
            let err = parse(text, &BTreeSet::new(), &[]).unwrap_err();
            assert_eq!(err.0[0].code, ErrorCode::InvalidCsv, "{text:?}");
        }
    }
}
