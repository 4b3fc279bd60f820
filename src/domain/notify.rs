//! What a notification says and how it is signed: the channels a routing config names, the
//! message frozen into the outbox with the assignment, its Slack and webhook renderings, the
//! HMAC signature a receiver verifies, the signed acknowledge link, and the retry schedule.
//! Pure: no HTTP, no clock, no secrets store; the caller resolves secrets and sends.

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub use super::channel::{Channel, ChannelKind, SecretRef, Setting};
use super::lead::Lead;
use super::model::Owner;

/// Most delivery attempts (the first, immediate one included) before a notification is dead.
pub const MAX_ATTEMPTS: u32 = 10;
/// Wait before the first retry; each later retry waits twice as long, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: i64 = 30;
/// Longest wait between two attempts.
pub const MAX_RETRY_DELAY: i64 = 60 * 60;
/// Header with the notification's event id (the same on every attempt: de-duplicate on it).
pub const EVENT_ID_HEADER: &str = "x-leadrouter-event-id";
/// Header with the attempt's Unix time in seconds, covered by the signature.
pub const TIMESTAMP_HEADER: &str = "x-leadrouter-timestamp";
/// Header with `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-leadrouter-signature";

/// What happened, from the receiver's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    /// The lead is yours now (first assignment or after an escalation).
    #[serde(rename = "lead.assigned")]
    Assigned,
    /// The lead was taken from you after its SLA deadline passed.
    #[serde(rename = "lead.reassigned")]
    Reassigned,
    /// A lead's owner missed the SLA deadline (for managers).
    #[serde(rename = "lead.sla_breached")]
    SlaBreached,
    /// A lead was placed in a queue the channel watches.
    #[serde(rename = "lead.queued")]
    Queued,
    /// A reminder to the owner: acknowledge by the deadline (or it has passed).
    #[serde(rename = "lead.sla_reminder")]
    SlaReminder,
}

impl EventType {
    /// The type as sent (`lead.assigned`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Self::Assigned => "lead.assigned",
            Self::Reassigned => "lead.reassigned",
            Self::SlaBreached => "lead.sla_breached",
            Self::Queued => "lead.queued",
            Self::SlaReminder => "lead.sla_reminder",
        }
    }
}

/// The lead as shown in a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadSummary {
    /// Full name, if given.
    pub name: Option<String>,
    /// Company, if given.
    pub company: Option<String>,
    /// Email address, if given.
    pub email: Option<String>,
    /// Phone, if given.
    pub phone: Option<String>,
    /// Country code.
    pub country: Option<String>,
    /// Company size as a range.
    pub employees: Option<String>,
    /// Product of interest.
    pub product: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Consent to be contacted, as the form gave it.
    #[serde(default)]
    pub consent: Option<bool>,
    /// The person asked not to be contacted: do not call or email.
    #[serde(default)]
    pub do_not_contact: bool,
    /// The qualified score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The matched account's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl LeadSummary {
    /// The summary of a parsed lead.
    pub fn of(lead: &Lead) -> Self {
        let name = [&lead.first_name, &lead.last_name]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            name: (!name.is_empty()).then_some(name),
            company: lead.company.clone(),
            email: lead.email.as_ref().map(|e| e.address.clone()),
            phone: lead.phone.clone(),
            country: lead.country.clone(),
            employees: lead.employees.as_ref().map(|e| match e.max {
                Some(max) if max == e.min => e.min.to_string(),
                Some(max) => format!("{}-{max}", e.min),
                None => format!("{}+", e.min),
            }),
            product: lead.product.clone(),
            title: lead.title.clone(),
            consent: lead.consent,
            do_not_contact: lead.do_not_contact.unwrap_or(false),
            score: lead.qualification.as_ref().map(|q| q.score).or(lead.score),
            account: lead.account.as_ref().map(|a| a.account.name.clone()),
        }
    }

    /// "Jane Doe at Acme", or whatever part is known.
    pub fn headline(&self) -> String {
        match (&self.name, &self.company) {
            (Some(n), Some(c)) => format!("{n} at {c}"),
            (Some(n), None) => n.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => "A new lead".into(),
        }
    }
}

/// One notification as recorded in the outbox with the assignment that caused it. Frozen at
/// that moment: every attempt sends the same facts under the same event id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Unique per event, the same on every channel it goes to and every attempt; receivers
    /// de-duplicate on it.
    pub event_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event: EventType,
    /// When it happened.
    pub occurred_at: jiff::Timestamp,
    /// The lead's id.
    pub lead_id: String,
    /// Which assignment of the lead this is about (1 for the first owner; +1 per reassignment).
    pub assignment: u64,
    /// The lead.
    pub lead: LeadSummary,
    /// The lead's owner after the event.
    pub owner: Owner,
    /// The owner before the event, for reassignments and breaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_owner: Option<Owner>,
    /// Why, in one sentence.
    pub reason: String,
    /// When the owner must acknowledge by, if an SLA applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_due_at: Option<jiff::Timestamp>,
}

impl Message {
    /// Whether the receiver is asked to act on the lead (and so gets an acknowledge link).
    pub fn wants_ack(&self) -> bool {
        matches!(self.event, EventType::Assigned | EventType::SlaReminder)
            && matches!(self.owner, Owner::Rep { .. })
    }
}

/// The links a notification carries for the rep it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Links {
    /// Acknowledge this lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<String>,
    /// The rep's own page: their open leads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub my_leads: Option<String>,
    /// "I'm away until ...".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away: Option<String>,
    /// "I'm back".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back: Option<String>,
    /// Hand this lead back (it goes to the next eligible rep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hand_back: Option<String>,
}

/// The webhook body: the message with its links.
#[derive(Debug, Serialize)]
struct WebhookBody<'m> {
    #[serde(flatten)]
    message: &'m Message,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_url: Option<&'m str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hand_back_url: Option<&'m str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rep_links: Option<RepLinks<'m>>,
}

/// A rep's self-service links in a webhook body.
#[derive(Debug, Serialize)]
struct RepLinks<'m> {
    my_leads: &'m str,
    away: &'m str,
    back: &'m str,
}

/// The body sent to a channel of this kind.
pub fn render(kind: ChannelKind, message: &Message, links: &Links) -> String {
    match kind {
        ChannelKind::Webhook => {
            let rep_links = match (&links.my_leads, &links.away, &links.back) {
                (Some(my_leads), Some(away), Some(back)) => Some(RepLinks {
                    my_leads,
                    away,
                    back,
                }),
                _ => None,
            };
            let body = WebhookBody {
                message,
                ack_url: links.ack.as_deref(),
                hand_back_url: links.hand_back.as_deref(),
                rep_links,
            };
            serde_json::to_string(&body).expect("a message always serialises")
        }
        ChannelKind::Slack => slack(message, links).to_string(),
        ChannelKind::Teams => teams(message, links).to_string(),
        ChannelKind::Email => {
            serde_json::to_string(&email(message, links)).expect("an email always serialises")
        }
    }
}

/// A message's title line: what happened to whom.
fn title(m: &Message) -> String {
    let headline = m.lead.headline();
    match m.event {
        EventType::Assigned => format!("New lead for {}: {headline}", m.owner.name()),
        EventType::Reassigned => format!(
            "{headline} was reassigned to {} (not acknowledged in time)",
            m.owner.name()
        ),
        EventType::SlaBreached => format!(
            "SLA missed: {} did not acknowledge {headline}",
            m.previous_owner.as_ref().map_or("the owner", Owner::name)
        ),
        EventType::Queued => format!("New lead in queue {}: {headline}", m.owner.name()),
        EventType::SlaReminder => match m.sla_due_at {
            Some(due) if due <= m.occurred_at => {
                format!("Overdue: {headline} was due at {due}, please acknowledge")
            }
            Some(due) => format!("Reminder: acknowledge {headline} by {due}"),
            None => format!("Reminder: acknowledge {headline}"),
        },
    }
}

/// The facts a readable message lists, in order: the lead's known fields, why, and by when.
fn facts(m: &Message) -> Vec<(&'static str, String)> {
    let score = m.lead.score.map(score_text);
    let consent = m
        .lead
        .consent
        .map(|c| if c { "yes" } else { "no" }.to_string());
    let mut facts: Vec<(&'static str, String)> = [
        ("Account", m.lead.account.clone()),
        ("Score", score),
        ("Consent", consent),
        ("Company", m.lead.company.clone()),
        ("Title", m.lead.title.clone()),
        ("Email", m.lead.email.clone()),
        ("Phone", m.lead.phone.clone()),
        ("Country", m.lead.country.clone()),
        ("Employees", m.lead.employees.clone()),
        ("Product", m.lead.product.clone()),
    ]
    .into_iter()
    .filter_map(|(label, value)| value.map(|v| (label, v)))
    .collect();
    facts.push(("Why", m.reason.clone()));
    if let Some(due) = &m.sla_due_at {
        facts.push(("Acknowledge by", due.to_string()));
    }
    facts
}

/// The buttons a readable message offers: acknowledge, then the rep's own links.
fn buttons(links: &Links) -> Vec<(&'static str, &str, bool)> {
    let mut buttons = Vec::new();
    if let Some(url) = &links.ack {
        buttons.push(("Acknowledge", url.as_str(), true));
    }
    for (text, url) in [
        ("Hand back", &links.hand_back),
        ("I'm away until…", &links.away),
        ("I'm back", &links.back),
        ("My open leads", &links.my_leads),
    ] {
        if let Some(url) = url {
            buttons.push((text, url.as_str(), false));
        }
    }
    buttons
}

/// A Slack incoming-webhook message: a one-line text (shown in notifications) and blocks.
fn slack(m: &Message, links: &Links) -> serde_json::Value {
    let title = title(m);
    let mut details = String::new();
    if m.lead.do_not_contact {
        details.push_str(":no_entry: *Do not contact:* the person asked not to be contacted.\n");
    }
    for (label, value) in facts(m) {
        let _ = writeln!(details, "*{label}:* {value}");
    }
    let mut blocks = vec![
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{title}*")}}),
        serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": details.trim_end()}}),
    ];
    let buttons: Vec<serde_json::Value> = buttons(links)
        .into_iter()
        .map(|(text, url, primary)| {
            let mut button = serde_json::json!({
                "type": "button",
                "text": {"type": "plain_text", "text": text},
                "url": url,
            });
            if primary {
                button["style"] = "primary".into();
            }
            button
        })
        .collect();
    if !buttons.is_empty() {
        blocks.push(serde_json::json!({"type": "actions", "elements": buttons}));
    }
    let text = match &links.ack {
        Some(url) => format!("{title}. Acknowledge: {url}"),
        None => title,
    };
    serde_json::json!({ "text": text, "blocks": blocks })
}

/// An email's subject and bodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmailBody {
    /// The subject: the title line.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body (every value escaped).
    pub html: String,
}

/// An email: the title as subject; the facts, the reason and the deadline; the acknowledge
/// link and the rep's own links, as text and as HTML.
pub fn email(m: &Message, links: &Links) -> EmailBody {
    let subject = title(m);
    let facts = facts(m);
    let buttons = buttons(links);
    let mut text = format!("{subject}\n\n");
    if m.lead.do_not_contact {
        text.push_str("DO NOT CONTACT: the person asked not to be contacted.\n\n");
    }
    for (label, value) in &facts {
        let _ = writeln!(text, "{label}: {value}");
    }
    if !buttons.is_empty() {
        text.push('\n');
    }
    for (label, url, _) in &buttons {
        let _ = writeln!(text, "{label}: {url}");
    }
    let html = maud::html! {
        (maud::DOCTYPE)
        html {
            body style="font-family: system-ui, sans-serif; color: #1d2430" {
                h2 style="font-size: 18px" { (subject) }
                @if m.lead.do_not_contact {
                    p style="color: #b3261e; font-weight: bold" { "Do not contact: the person asked not to be contacted." }
                }
                table cellpadding="4" {
                    @for (label, value) in &facts {
                        tr { th align="left" valign="top" { (label) } td { (value) } }
                    }
                }
                p {
                    @for (label, url, primary) in &buttons {
                        @if *primary {
                            a href=(url) style="background: #2456c7; color: #fff; padding: 8px 14px; border-radius: 6px; text-decoration: none; display: inline-block; margin: 0 6px 6px 0" { (label) }
                        } @else {
                            a href=(url) style="color: #2456c7; padding: 8px 6px; display: inline-block; margin: 0 6px 6px 0" { (label) }
                        }
                    }
                }
            }
        }
    }
    .into_string();
    EmailBody {
        subject,
        text,
        html,
    }
}

/// A Microsoft Teams message (an incoming webhook or a Workflows "when a Teams webhook request
/// is received" URL): one Adaptive Card with the title, the facts and the links as buttons.
fn teams(m: &Message, links: &Links) -> serde_json::Value {
    let mut body = vec![serde_json::json!({
        "type": "TextBlock", "text": title(m), "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    if m.lead.do_not_contact {
        body.push(serde_json::json!({
            "type": "TextBlock", "text": "Do not contact: the person asked not to be contacted.",
            "color": "Attention", "weight": "Bolder", "wrap": true,
        }));
    }
    let facts: Vec<serde_json::Value> = facts(m)
        .into_iter()
        .map(|(title, value)| serde_json::json!({"title": title, "value": value}))
        .collect();
    body.push(serde_json::json!({"type": "FactSet", "facts": facts}));
    let actions: Vec<serde_json::Value> = buttons(links)
        .into_iter()
        .map(|(title, url, primary)| {
            let mut action =
                serde_json::json!({"type": "Action.OpenUrl", "title": title, "url": url});
            if primary {
                action["style"] = "positive".into();
            }
            action
        })
        .collect();
    serde_json::json!({
        "type": "message",
        "summary": title(m),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

/// A score as Slack shows it: every digit `f64` prints (nothing is rounded), and zero without a
/// sign, since a message frozen in the outbox may carry the -0.0 of an empty sum.
fn score_text(score: f64) -> String {
    if score == 0.0 {
        "0".to_string()
    } else {
        score.to_string()
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The signature header's value for a body sent at `timestamp` (Unix seconds):
/// `sha256=` and the hex HMAC-SHA256 of `"<timestamp>.<body>"` under the channel's secret.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = mac(secret.as_bytes());
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header in constant time (what a receiver does).
pub fn verify_signature(secret: &str, timestamp: i64, body: &str, header: &str) -> bool {
    let Some(hex_mac) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(bytes) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = mac(secret.as_bytes());
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The token of an acknowledge link: the assignment number and an HMAC binding it to the lead.
/// Only the current assignment's token acknowledges; an older one proves its holder once
/// owned the lead (and gets 409).
pub fn ack_token(key: &str, lead_id: &str, assignment: u64) -> String {
    let mut mac = mac(key.as_bytes());
    mac.update(format!("ack:{lead_id}:{assignment}").as_bytes());
    format!("{assignment}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// The assignment number a token was issued for, if its HMAC is right (checked in constant
/// time); `None` for a forged or malformed token.
pub fn check_ack_token(key: &str, lead_id: &str, token: &str) -> Option<u64> {
    let (number, hex_mac) = token.split_once('.')?;
    let assignment: u64 = number.parse().ok()?;
    let bytes = hex::decode(hex_mac).ok()?;
    let mut mac = mac(key.as_bytes());
    mac.update(format!("ack:{lead_id}:{assignment}").as_bytes());
    mac.verify_slice(&bytes).ok().map(|()| assignment)
}

/// The token of a rep's self-service links, valid until `expires` (Unix seconds): an HMAC
/// binding it to the rep and the expiry, so a leaked link can only act for that rep, and not
/// for long.
pub fn rep_token(key: &str, rep: &str, expires: i64) -> String {
    let mut mac = mac(key.as_bytes());
    mac.update(format!("rep:{rep}:{expires}").as_bytes());
    format!("{expires}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `token` is a valid, unexpired self-service token of `rep` at `now` (constant-time).
pub fn check_rep_token(key: &str, rep: &str, token: &str, now: i64) -> bool {
    let Some((expires, hex_mac)) = token.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(bytes)) = (expires.parse::<i64>(), hex::decode(hex_mac)) else {
        return false;
    };
    let mut m = mac(key.as_bytes());
    m.update(format!("rep:{rep}:{expires}").as_bytes());
    m.verify_slice(&bytes).is_ok() && expires > now
}

/// Seconds to wait after failed attempt number `attempts` (1-based) before the next one, or
/// `None` when that was the last attempt and the notification is dead.
pub fn retry_delay(attempts: u32) -> Option<i64> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let doubling = attempts.saturating_sub(1).min(20);
    Some((FIRST_RETRY_DELAY << doubling).min(MAX_RETRY_DELAY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            event_id: "e1".into(),
            event: EventType::Assigned,
            occurred_at: "2026-11-24T15:00:00Z".parse().unwrap(),
            lead_id: "l1".into(),
            assignment: 1,
            lead: LeadSummary {
                name: Some("Jane Doe".into()),
                company: Some("Acme".into()),
                email: Some("jane@acme.com".into()),
                phone: None,
                country: Some("US".into()),
                employees: Some("51-200".into()),
                product: None,
                title: None,
                consent: Some(true),
                do_not_contact: false,
                score: None,
                account: None,
            },
            owner: Owner::Rep {
                id: "alex".into(),
                name: "Alex".into(),
            },
            previous_owner: None,
            reason: "Rule 'smb' matched.".into(),
            sla_due_at: Some("2026-11-24T15:15:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn a_signature_verifies_only_with_the_same_secret_timestamp_and_body() {
        let sig = signature("s3cret", 1_700_000_000, "{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_signature("s3cret", 1_700_000_000, "{\"a\":1}", &sig));
        assert!(!verify_signature("other", 1_700_000_000, "{\"a\":1}", &sig));
        assert!(!verify_signature(
            "s3cret",
            1_700_000_001,
            "{\"a\":1}",
            &sig
        ));
        assert!(!verify_signature(
            "s3cret",
            1_700_000_000,
            "{\"a\":2}",
            &sig
        ));
        assert!(!verify_signature(
            "s3cret",
            1_700_000_000,
            "{\"a\":1}",
            "sha256=zz"
        ));
    }

    #[test]
    fn the_signature_is_what_openssl_computes_over_timestamp_dot_body() {
        // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
        assert_eq!(
            signature("s3cret", 1_700_000_000, "{\"a\":1}"),
            "sha256=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940"
        );
    }

    #[test]
    fn ack_tokens_name_their_assignment_and_cannot_be_forged() {
        let token = ack_token("k", "lead-1", 2);
        assert!(token.starts_with("2."));
        assert_eq!(check_ack_token("k", "lead-1", &token), Some(2));
        assert_eq!(check_ack_token("k", "lead-2", &token), None, "another lead");
        assert_eq!(
            check_ack_token("other", "lead-1", &token),
            None,
            "another key"
        );
        let forged = token.replacen("2.", "3.", 1);
        assert_eq!(check_ack_token("k", "lead-1", &forged), None, "renumbered");
        assert_eq!(check_ack_token("k", "lead-1", "garbage"), None);
    }

    #[test]
    fn retries_back_off_exponentially_and_end() {
        let delays: Vec<Option<i64>> = (1..=MAX_ATTEMPTS).map(retry_delay).collect();
        assert_eq!(delays[0], Some(30));
        assert_eq!(delays[1], Some(60));
        assert_eq!(delays[2], Some(120));
        assert_eq!(delays[8], Some(MAX_RETRY_DELAY));
        assert_eq!(delays[9], None, "the tenth failure is final");
        let total: i64 = delays.iter().flatten().sum();
        assert!(
            total > 2 * 60 * 60,
            "a receiver may be down for hours: {total}s"
        );
    }

    fn links() -> Links {
        Links {
            ack: Some("https://x/ack".into()),
            my_leads: Some("https://x/me/alex?t=1".into()),
            away: Some("https://x/me/alex/away?t=1".into()),
            back: Some("https://x/me/alex/back?t=1".into()),
            hand_back: None,
        }
    }

    #[test]
    fn slack_messages_read_well_and_carry_the_ack_link() {
        let body = render(ChannelKind::Slack, &message(), &links());
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        let text = json["text"].as_str().unwrap();
        assert_eq!(
            text,
            "New lead for Alex: Jane Doe at Acme. Acknowledge: https://x/ack"
        );
        let details = json["blocks"][1]["text"]["text"].as_str().unwrap();
        assert!(details.contains("*Why:* Rule 'smb' matched."));
        assert!(details.contains("*Acknowledge by:* 2026-11-24T15:15:00Z"));
        assert_eq!(json["blocks"][2]["elements"][0]["url"], "https://x/ack");
        let buttons = &json["blocks"][2]["elements"];
        assert_eq!(buttons[1]["text"]["text"], "I'm away until…");
        assert_eq!(buttons[1]["url"], "https://x/me/alex/away?t=1");
        assert_eq!(buttons[3]["url"], "https://x/me/alex?t=1");
    }

    #[test]
    fn a_rep_token_acts_for_that_rep_until_it_expires() {
        let t = rep_token("k", "alex", 100);
        assert!(check_rep_token("k", "alex", &t, 99));
        assert!(!check_rep_token("k", "alex", &t, 100), "expired");
        assert!(!check_rep_token("k", "ava", &t, 99), "another rep");
        assert!(!check_rep_token("other", "alex", &t, 99), "another key");
        assert!(
            !check_rep_token("k", "alex", &t.replace("100.", "200."), 99),
            "a longer life"
        );
        assert!(!check_rep_token("k", "alex", "garbage", 0));
    }

    #[test]
    fn a_lead_without_points_shows_score_zero_in_slack() {
        let details = |score| {
            let mut m = message();
            m.lead.score = score;
            let body = render(ChannelKind::Slack, &m, &Links::default());
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            json["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let lead = Lead::parse([("email", "jane@acme.com")]).unwrap();
        let q = crate::domain::qualify::qualify(&Default::default(), &lead, "x");
        let qualified = Lead {
            qualification: Some(q),
            ..lead
        };
        let shown = details(LeadSummary::of(&qualified).score);
        assert!(shown.contains("*Score:* 0\n"), "{shown}");
        assert!(!shown.contains("-0"), "{shown}");
        // A message frozen before qualification stopped storing -0.0.
        assert!(!details(Some(-0.0)).contains("-0"));
        // The score is not rounded, so a small negative score keeps its sign and digits.
        assert!(details(Some(-0.4)).contains("*Score:* -0.4\n"));
    }

    #[test]
    fn webhook_bodies_are_the_message_with_its_link() {
        let body = render(ChannelKind::Webhook, &message(), &links());
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["type"], "lead.assigned");
        assert_eq!(json["event_id"], "e1");
        assert_eq!(json["owner"]["id"], "alex");
        assert_eq!(json["ack_url"], "https://x/ack");
        assert_eq!(json["lead"]["employees"], "51-200");
        assert_eq!(json["rep_links"]["away"], "https://x/me/alex/away?t=1");
        let plain = render(ChannelKind::Webhook, &message(), &Links::default());
        assert!(!plain.contains("rep_links") && !plain.contains("ack_url"));
    }

    #[test]
    fn secret_references_read_as_config_writes_them() {
        let s: Setting = serde_json::from_str(r#"{"env":"SLACK_URL"}"#).unwrap();
        assert_eq!(s, Setting::Secret(SecretRef::Env("SLACK_URL".into())));
        let s: Setting = serde_json::from_str(r#""https://example.com/hook""#).unwrap();
        assert_eq!(s, Setting::Plain("https://example.com/hook".into()));
        let s: SecretRef = serde_json::from_str(r#"{"aws_secret":"leadrouter/crm"}"#).unwrap();
        assert_eq!(s, SecretRef::AwsSecret("leadrouter/crm".into()));
    }
}
