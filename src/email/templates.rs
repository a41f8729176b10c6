//! Every email voxedge sends, in plain text and HTML. Values people typed (names, workspace names) are escaped in
//! the HTML; links are ours. Each template is one function returning a rendered [`Email`].

use std::time::Duration;

use super::{Email, escape_html};

/// Asks a new user to confirm their address.
pub fn verify_email(to: &str, name: Option<&str>, link: &str, valid_for: Duration) -> Email {
    let hello = greeting(name);
    let valid = human(valid_for);
    render(
        "verify_email",
        to,
        "Confirm your email address for voxedge",
        &[
            Paragraph::Text(hello),
            Paragraph::Text(
                "Please confirm that this is your email address, so you keep access to your voxedge workspace."
                    .into(),
            ),
        ],
        ("Confirm my email", link),
        &format!("The link works once, for {valid}. If you did not sign up for voxedge, ignore this email."),
    )
}

/// A single-use link to choose a new password.
pub fn reset_password(to: &str, link: &str, valid_for: Duration) -> Email {
    let valid = human(valid_for);
    render(
        "reset_password",
        to,
        "Reset your voxedge password",
        &[
            Paragraph::Text("Someone (we hope you) asked to reset the password of your voxedge account.".into()),
            Paragraph::Text(
                "Choosing a new password signs you out everywhere, so anyone else who had your old one is out too."
                    .into(),
            ),
        ],
        ("Choose a new password", link),
        &format!(
            "The link works once, for {valid}. If you did not ask for this, ignore this email: your password stays as it is."
        ),
    )
}

/// An invitation to join a workspace.
pub fn invite(
    to: &str,
    workspace: &str,
    inviter: Option<&str>,
    role: &str,
    link: &str,
    valid_for: Duration,
) -> Email {
    let who = inviter.map_or_else(|| "Someone".to_string(), str::to_string);
    let valid = human(valid_for);
    render(
        "invite",
        to,
        &format!("You are invited to {workspace} on voxedge"),
        &[Paragraph::Text(format!(
            "{who} invited you to join the workspace {workspace} on voxedge, as {role}."
        ))],
        ("Accept the invitation", link),
        &format!(
            "The invitation works once, for {valid}. Sign in with this email's account, or create one when you accept."
        ),
    )
}

/// What billing tells a workspace's owner and billing members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingNotice {
    /// A new invoice (its number and total, e.g. `"$12.34"`).
    InvoiceIssued { number: String, total: String },
    /// A payment did not go through.
    PaymentFailed { number: String, total: String },
    /// The workspace is suspended for unpaid invoices.
    Suspended,
}

/// A billing email for `workspace`; `link` opens its billing page. Sent by
/// [`crate::billing::Billing::notify`].
pub fn billing(to: &str, workspace: &str, notice: &BillingNotice, link: &str) -> Email {
    let (kind, subject, body) = match notice {
        BillingNotice::InvoiceIssued { number, total } => (
            "billing_invoice_issued",
            format!("Invoice {number} for {workspace}"),
            format!("Invoice {number} for {workspace} has been issued: {total}."),
        ),
        BillingNotice::PaymentFailed { number, total } => (
            "billing_payment_failed",
            format!("Payment failed for {workspace}"),
            format!(
                "We could not collect {total} for invoice {number} of {workspace}. Please check the payment method."
            ),
        ),
        BillingNotice::Suspended => (
            "billing_suspended",
            format!("{workspace} is suspended"),
            format!(
                "{workspace} is suspended for unpaid invoices: calls are refused until they are paid."
            ),
        ),
    };
    render(
        kind,
        to,
        &subject,
        &[Paragraph::Text(body)],
        ("Open billing", link),
        "You get this email as an owner or billing member of the workspace.",
    )
}

enum Paragraph {
    Text(String),
}

fn greeting(name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_string(),
    }
}

/// "1 hour", "3 days", "15 minutes".
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = if secs >= 86_400 && secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs >= 3600 && secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else {
        ((secs / 60).max(1), "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn render(
    kind: &str,
    to: &str,
    subject: &str,
    paragraphs: &[Paragraph],
    (action, link): (&str, &str),
    footer: &str,
) -> Email {
    let mut text = String::new();
    let mut html_body = String::new();
    for Paragraph::Text(p) in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
        html_body.push_str(&format!(
            "<p style=\"margin:0 0 16px\">{}</p>\n",
            escape_html(p)
        ));
    }
    text.push_str(&format!("{action}:\n{link}\n\n{footer}\n\n-- \nvoxedge\n"));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
<body style=\"margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;color:#1f2933\">\n\
<div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:32px\">\n\
<p style=\"margin:0 0 24px;font-weight:600;font-size:18px\">voxedge</p>\n\
{html_body}\
<p style=\"margin:24px 0\"><a href=\"{href}\" style=\"display:inline-block;background:#1d4ed8;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:6px;font-weight:600\">{action}</a></p>\n\
<p style=\"margin:0 0 16px;font-size:13px;color:#52606d\">Or open this link: <a href=\"{href}\" style=\"color:#1d4ed8\">{href}</a></p>\n\
<p style=\"margin:0;font-size:13px;color:#52606d\">{footer}</p>\n\
</div>\n</body></html>\n",
        title = escape_html(subject),
        href = escape_html(link),
        action = escape_html(action),
        footer = escape_html(footer),
    );
    Email {
        kind: kind.to_string(),
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_has_the_link_in_both_parts_and_escapes_names() {
        let link = "https://voxedge.example/verify-email?token=vxv_A_b";
        let emails = [
            verify_email(
                "a@example.com",
                Some("<Ada>"),
                link,
                Duration::from_secs(3 * 86_400),
            ),
            reset_password("a@example.com", link, Duration::from_secs(3600)),
            invite(
                "a@example.com",
                "Acme & Co",
                Some("Bob"),
                "admin",
                link,
                Duration::from_secs(7 * 86_400),
            ),
            billing("a@example.com", "Acme", &BillingNotice::Suspended, link),
        ];
        for email in &emails {
            assert!(email.text.contains(link), "{}", email.kind);
            assert!(email.html.contains(&escape_html(link)), "{}", email.kind);
            assert!(!email.html.contains("<Ada>") && !email.html.contains("Acme & Co"));
        }
        assert!(emails[0].text.contains("3 days"));
        assert!(emails[1].text.contains("1 hour"));
        assert!(emails[2].html.contains("Acme &amp; Co"));
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(human(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human(Duration::from_secs(2 * 86_400)), "2 days");
        assert_eq!(human(Duration::from_secs(900)), "15 minutes");
        assert_eq!(human(Duration::from_secs(5400)), "90 minutes");
    }
}
