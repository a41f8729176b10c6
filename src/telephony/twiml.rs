//! TwiML, the XML Twilio runs for a call. Every value is escaped; characters XML 1.0 cannot carry at all
//! (most control characters) are dropped, since Twilio would refuse the whole document.

/// Served with `Content-Type: text/xml`.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

const PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Says `message`, then hangs up.
pub fn say_and_hang_up(message: &str) -> String {
    format!(
        "{PROLOG}<Response><Say>{}</Say><Hangup/></Response>",
        escape(message)
    )
}

/// Dials `number` (a transfer): the caller is connected to it and our stream ends.
pub fn dial(number: &str) -> String {
    format!(
        "{PROLOG}<Response><Dial>{}</Dial></Response>",
        escape(number)
    )
}

/// Connects the call to a Media Stream at `stream_url`, passing `parameters` as its custom parameters
/// (Twilio hands them to the stream in its `start` message, as `customParameters`).
pub fn connect_stream(stream_url: &str, parameters: &[(&str, &str)]) -> String {
    let mut xml = format!(
        "{PROLOG}<Response><Connect><Stream url=\"{}\">",
        escape(stream_url)
    );
    for (name, value) in parameters {
        xml.push_str(&format!(
            "<Parameter name=\"{}\" value=\"{}\"/>",
            escape(name),
            escape(value)
        ));
    }
    xml.push_str("</Stream></Connect></Response>");
    xml
}

/// Escapes text for an XML element or a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Attribute values normalise raw whitespace to spaces; references keep it.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// XML 1.0's `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_drops_what_xml_cannot_hold() {
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\u{FFFE}d"), "abcd");
        assert_eq!(escape("line\nnext"), "line&#10;next");
        assert_eq!(escape("héllo ☎ 😀"), "héllo ☎ 😀");
    }

    #[test]
    fn stream_twiml_has_the_expected_shape() {
        let xml = connect_stream(
            "wss://voxedge.example/v1/twilio/stream",
            &[("token", "vxs_a.b.c"), ("from", "+1415\"><Hangup/>")],
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Connect>\
             <Stream url=\"wss://voxedge.example/v1/twilio/stream\">\
             <Parameter name=\"token\" value=\"vxs_a.b.c\"/>\
             <Parameter name=\"from\" value=\"+1415&quot;&gt;&lt;Hangup/&gt;\"/>\
             </Stream></Connect></Response>"
        );
    }

    #[test]
    fn say_twiml() {
        assert_eq!(
            say_and_hang_up("Sorry & goodbye."),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>Sorry &amp; goodbye.</Say><Hangup/></Response>"
        );
    }
}
