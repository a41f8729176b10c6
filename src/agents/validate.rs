//! Checking agent configuration input field by field: every problem is collected with its path
//! (`config.llm.temperature`, `config.tools[0].url`, ...) so a client learns them all at once.

use async_graphql::Json;

use super::input::{ToolHeaderInput, ToolInput};
use crate::error::{ErrorCode, FieldError};
use crate::model::agent::*;

/// Collects field errors under a path prefix.
pub(super) struct Check {
    pub(super) errors: Vec<FieldError>,
}

impl Check {
    pub(super) fn fail(
        &mut self,
        field: impl Into<String>,
        code: ErrorCode,
        message: impl Into<String>,
    ) {
        self.errors.push(FieldError::new(field, code, message));
    }

    pub(super) fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let chars = value.chars().count();
        if chars < min {
            self.fail(
                field,
                ErrorCode::Required,
                if min == 1 {
                    "must not be empty".into()
                } else {
                    format!("must be at least {min} characters")
                },
            );
        } else if chars > max {
            self.fail(
                field,
                ErrorCode::TooLong,
                format!("must be at most {max} characters"),
            );
        }
    }

    pub(super) fn range_i(&mut self, field: &str, value: i32, min: i32, max: i32) {
        if !(min..=max).contains(&value) {
            self.fail(
                field,
                ErrorCode::OutOfRange,
                format!("must be between {min} and {max}"),
            );
        }
    }

    pub(super) fn range_f(&mut self, field: &str, value: f64, min: f64, max: f64) {
        if !value.is_finite() || value < min || value > max {
            self.fail(
                field,
                ErrorCode::OutOfRange,
                format!("must be between {min} and {max}"),
            );
        }
    }

    /// `value` must be a valid `{{variable}}` template.
    pub(super) fn template(&mut self, field: &str, value: &str) {
        if let Err(e) = super::template::check(value) {
            self.fail(field, ErrorCode::InvalidTemplate, e.0);
        }
    }

    pub(super) fn http_url(&mut self, field: &str, value: &str) {
        match reqwest::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
            _ => self.fail(
                field,
                ErrorCode::InvalidUrl,
                "must be an absolute http(s) URL",
            ),
        }
    }
}

/// E.164: `+` then 8–15 digits.
pub fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

/// Seals a webhook tool header's clear value for storage: (header name, value) → sealed text.
pub type SealHeader<'a> = dyn Fn(&str, &str) -> String + 'a;

/// Headers a tool may not set: the HTTP layer or voxedge owns them.
const RESERVED_HEADERS: [&str; 12] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "proxy-authorization",
    "proxy-connection",
];

/// Checks a webhook tool's headers and seals their values.
fn tool_headers(
    check: &mut Check,
    field: &str,
    inputs: Vec<ToolHeaderInput>,
    seal: &SealHeader<'_>,
) -> Vec<ToolHeader> {
    if inputs.len() > 16 {
        check.fail(field, ErrorCode::TooMany, "at most 16 headers");
    }
    let mut headers: Vec<ToolHeader> = Vec::with_capacity(inputs.len());
    for (i, header) in inputs.into_iter().enumerate() {
        let at = format!("{field}[{i}]");
        let lower = header.name.to_ascii_lowercase();
        if reqwest::header::HeaderName::from_bytes(header.name.as_bytes()).is_err()
            || header.name.len() > 100
        {
            check.fail(
                format!("{at}.name"),
                ErrorCode::InvalidName,
                "must be an HTTP header name (letters, digits and -)",
            );
        } else if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-voxedge-") {
            check.fail(
                format!("{at}.name"),
                ErrorCode::InvalidName,
                "this header is set by the server",
            );
        } else if headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(&header.name))
        {
            check.fail(
                format!("{at}.name"),
                ErrorCode::Duplicate,
                "header names must be unique",
            );
        }
        check.text(&format!("{at}.value"), &header.value, 1, 4096);
        if reqwest::header::HeaderValue::from_str(&header.value).is_err() {
            check.fail(
                format!("{at}.value"),
                ErrorCode::InvalidCharacters,
                "must be visible ASCII (no line breaks)",
            );
        }
        // Only a configuration without errors is stored; sealing is for those.
        if check.errors.is_empty() {
            headers.push(ToolHeader {
                sealed: seal(&lower, &header.value),
                name: header.name,
            });
        }
    }
    headers
}

/// A checked tool, and whether it left its headers out (it then keeps the ones it has).
pub(super) fn validate_tool(
    check: &mut Check,
    field: &str,
    tool: ToolInput,
    seal: &SealHeader<'_>,
) -> (Tool, bool) {
    let name_ok = (1..=64).contains(&tool.name.len())
        && tool
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        check.fail(
            format!("{field}.name"),
            ErrorCode::InvalidName,
            "1–64 letters, digits, _ or -",
        );
    }
    check.text(&format!("{field}.description"), &tool.description, 0, 1_000);
    match tool.kind {
        ToolKind::Webhook => {
            match &tool.url {
                Some(url) => check.http_url(&format!("{field}.url"), url),
                None => check.fail(
                    format!("{field}.url"),
                    ErrorCode::Required,
                    "webhook tools need a URL",
                ),
            }
            match &tool.parameters {
                Some(Json(schema)) => {
                    if !schema.is_object() || jsonschema::meta::validate(schema).is_err() {
                        check.fail(
                            format!("{field}.parameters"),
                            ErrorCode::InvalidJsonSchema,
                            "must be a valid JSON Schema object",
                        );
                    }
                }
                None => check.fail(
                    format!("{field}.parameters"),
                    ErrorCode::Required,
                    "webhook tools need a JSON Schema of their parameters",
                ),
            }
            if let Some(ms) = tool.timeout_ms {
                check.range_i(&format!("{field}.timeoutMs"), ms, 100, 30_000);
            }
        }
        ToolKind::TransferCall => {
            if tool.destinations.is_empty() {
                check.fail(
                    format!("{field}.destinations"),
                    ErrorCode::Required,
                    "transfer tools need at least one destination",
                );
            }
            for (i, d) in tool.destinations.iter().enumerate() {
                check.text(&format!("{field}.destinations[{i}].name"), &d.name, 1, 64);
                if !is_e164(&d.phone_number) {
                    check.fail(
                        format!("{field}.destinations[{i}].phoneNumber"),
                        ErrorCode::InvalidPhoneNumber,
                        "must be an E.164 number like +14155550123",
                    );
                }
            }
        }
        ToolKind::EndCall | ToolKind::SendDtmf => {}
    }
    if tool.kind != ToolKind::Webhook && tool.headers.as_ref().is_some_and(|h| !h.is_empty()) {
        check.fail(
            format!("{field}.headers"),
            ErrorCode::InvalidFormat,
            "only webhook tools send headers",
        );
    }
    let keep_headers = tool.kind == ToolKind::Webhook && tool.headers.is_none();
    let headers = match tool.headers {
        Some(inputs) if tool.kind == ToolKind::Webhook => {
            tool_headers(check, &format!("{field}.headers"), inputs, seal)
        }
        _ => Vec::new(),
    };
    let tool = Tool {
        kind: tool.kind,
        name: tool.name,
        description: tool.description,
        parameters: tool.parameters,
        url: tool.url,
        headers,
        method: match tool.kind {
            ToolKind::Webhook => Some(tool.method.unwrap_or(HttpMethod::Post)),
            _ => None,
        },
        timeout_ms: match tool.kind {
            ToolKind::Webhook => Some(tool.timeout_ms.unwrap_or(5000)),
            _ => None,
        },
        destinations: tool
            .destinations
            .into_iter()
            .map(|d| TransferDestination {
                name: d.name,
                phone_number: d.phone_number,
            })
            .collect(),
    };
    (tool, keep_headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers() {
        assert!(is_e164("+14155550123"));
        for bad in ["14155550123", "+1", "+0123456789", "+1415555012a", ""] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
