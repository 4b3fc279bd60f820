//! The local server's public pages, dressed with the shared stylesheet: the try-it form (a
//! plain HTML form that posts a lead, no JavaScript), its thank-you page, and the dev inbox,
//! which shows each message the way its channel would (a Slack message's blocks and buttons,
//! a webhook's event with its links) with the raw JSON beside it.

use maud::{html, Markup};
use serde_json::Value;

use super::view;

/// The try-it form: posts to `/leads` with `source_key`, and comes back to `thanks`.
pub fn form_page(source_key: &str, thanks: &str) -> Markup {
    let sizes = ["1-10", "11-49", "51-200", "201-499", "500-1000", "1000+"];
    view::public(
        "Request a demo",
        html! {
            h1 { "Request a demo" }
            form.card method="post" action="/leads" {
                input type="hidden" name="source_key" value=(source_key);
                input type="hidden" name="_redirect" value=(thanks);
                div.field { label for="email" { "Work email" } input #email name="email" type="email" autocomplete="email" required; }
                div.field { label for="name" { "Name" } input #name name="name" autocomplete="name"; }
                div.field { label for="company" { "Company" } input #company name="company" autocomplete="organization"; }
                div.field {
                    label for="size" { "Employees" }
                    select #size name="company_size" { @for s in sizes { option { (s) } } }
                }
                div.field { label for="country" { "Country" } input #country name="country" value="United States" autocomplete="country-name"; }
                div.field {
                    label for="product" { "Product" }
                    select #product name="product_interest" {
                        option value="" { "(any)" } option { "Product A" } option { "Product B" }
                    }
                }
                button type="submit" { "Send" }
            }
            p.muted { "Posts to " code { "/leads" } " with the local source key, like a form on your own site would." }
        },
    )
}

/// The thank-you page a form comes back to, with the lead's reference when the source key
/// opted in to carrying it.
pub fn thanks_page(reference: Option<&str>) -> Markup {
    view::public(
        "Thanks",
        html! {
            h1 { "Thanks! A rep will be in touch shortly." }
            @if let Some(id) = reference { p { "Your reference: " code { (id) } } }
            p { a href="/" { "Send another" } }
        },
    )
}

/// The dev inbox: `messages` newest first, each `{channel, signature, body}`.
pub fn inbox_page(messages: &[Value]) -> Markup {
    view::public(
        "Dev inbox",
        html! {
            h1 { "Dev inbox" }
            p.muted {
                "What Slack and the webhooks would have received, newest first (the last 100). "
                a href="/dev/inbox.json" { "Raw JSON" } "."
            }
            @if messages.is_empty() {
                p { "Nothing yet: send a lead from " a href="/" { "the form" } "." }
            }
            @for m in messages { (message(m)) }
        },
    )
}

fn message(m: &Value) -> Markup {
    let body = &m["body"];
    let channel = m["channel"].as_str().unwrap_or("?");
    let signature = m["signature"].as_str().unwrap_or("unsigned");
    html! {
        article.card {
            p.muted { "to " strong { (channel) } " · signature " (signature) }
            @if let Some(blocks) = body["blocks"].as_array() {
                @for block in blocks { (slack_block(block)) }
            } @else if let Some(card) = body["attachments"][0]["content"].as_object() {
                (adaptive_card(card))
            } @else if let Some(event) = body["type"].as_str() {
                (webhook(event, body))
            } @else {
                p { (body.as_str().map_or_else(|| body.to_string(), str::to_string)) }
            }
            details {
                summary { "Raw JSON" }
                pre { (serde_json::to_string_pretty(body).unwrap_or_default()) }
            }
        }
    }
}

/// One Slack block as Slack would show it: sections' text (mrkdwn) and actions' buttons.
fn slack_block(block: &Value) -> Markup {
    match block["type"].as_str() {
        Some("section") => html! { p { (mrkdwn(block["text"]["text"].as_str().unwrap_or(""))) } },
        Some("actions") => html! {
            p.actions {
                @for e in block["elements"].as_array().into_iter().flatten() {
                    @let text = e["text"]["text"].as_str().unwrap_or("open");
                    @if let Some(url) = e["url"].as_str() {
                        @if e["style"] == "primary" {
                            a.button href=(url) { (text) }
                        } @else {
                            a.button.secondary href=(url) { (text) }
                        }
                        " "
                    }
                }
            }
        },
        _ => html! {},
    }
}

/// A Teams Adaptive Card as Teams shows it: text blocks, fact sets and link buttons.
fn adaptive_card(card: &serde_json::Map<String, Value>) -> Markup {
    html! {
        @for block in card.get("body").and_then(Value::as_array).into_iter().flatten() {
            @match block["type"].as_str() {
                Some("TextBlock") => p { strong { (block["text"].as_str().unwrap_or("")) } },
                Some("FactSet") => dl.facts {
                    @for fact in block["facts"].as_array().into_iter().flatten() {
                        dt { (fact["title"].as_str().unwrap_or("")) }
                        dd { (fact["value"].as_str().unwrap_or("")) }
                    }
                },
                _ => {}
            }
        }
        p.actions {
            @for action in card.get("actions").and_then(Value::as_array).into_iter().flatten() {
                @if let Some(url) = action["url"].as_str() {
                    a.button.secondary href=(url) { (action["title"].as_str().unwrap_or("open")) } " "
                }
            }
        }
    }
}

/// A webhook event: its type, the lead and owner it names, and every link it carries.
fn webhook(event: &str, body: &Value) -> Markup {
    let lead = &body["lead"];
    let who = [lead["name"].as_str(), lead["company"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" at ");
    let mut links = Vec::new();
    collect_links("", body, &mut links);
    html! {
        p { strong { (event) } @if !who.is_empty() { ": " (who) } }
        @if let Some(reason) = body["reason"].as_str() { p { "Why: " (reason) } }
        @if !links.is_empty() {
            ul { @for (name, url) in &links { li { a href=(url) { (name) } } } }
        }
    }
}

fn collect_links(path: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) if s.starts_with("http://") || s.starts_with("https://") => {
            out.push((path.to_string(), s.clone()))
        }
        Value::Object(map) => {
            for (k, v) in map {
                let name = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                collect_links(&name, v, out);
            }
        }
        _ => {}
    }
}

/// Slack's mrkdwn as Slack shows it: `*bold*`, `<url|text>` links, line breaks, and its
/// `&amp;`/`&lt;`/`&gt;` escapes undone (maud escapes again on output).
fn mrkdwn(text: &str) -> Markup {
    html! {
        @for (i, line) in text.lines().enumerate() {
            @if i > 0 { br; }
            @for (j, part) in line.split('*').enumerate() {
                @if j % 2 == 1 && line.matches('*').count() % 2 == 0 {
                    strong { (links(part)) }
                } @else {
                    (links(part))
                }
            }
        }
    }
}

/// Slack text with its `<url|label>` and `<url>` links made clickable and its escapes undone.
fn links(text: &str) -> Markup {
    let unescape = |s: &str| {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>') else {
            break;
        };
        parts.push((unescape(&rest[..open]), None));
        let inner = &rest[open + 1..open + close];
        let (url, label) = inner.split_once('|').unwrap_or((inner, inner));
        parts.push((unescape(label), Some(unescape(url))));
        rest = &rest[open + close + 1..];
    }
    parts.push((unescape(rest), None));
    html! {
        @for (text, url) in parts {
            @if let Some(url) = url { a href=(url) { (text) } } @else { (text) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mrkdwn_bold_and_links_render_and_escape() {
        let html =
            mrkdwn("*Why:* rule <https://x/a?b=1&amp;c=2|us-east> &lt;b&gt;\nnext").into_string();
        assert_eq!(
            html,
            "<strong>Why:</strong> rule <a href=\"https://x/a?b=1&amp;c=2\">us-east</a> &lt;b&gt;<br>next"
        );
    }

    #[test]
    fn a_slack_message_shows_its_buttons_as_links() {
        let m = serde_json::json!({"channel": "team", "signature": "unsigned", "body": {
        "text": "t", "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*New lead*"}},
            {"type": "actions", "elements": [{"type": "button", "style": "primary",
                "text": {"type": "plain_text", "text": "Acknowledge"}, "url": "http://h/ack"}]}
        ]}});
        let html = message(&m).into_string();
        assert!(html.contains("<strong>New lead</strong>"), "{html}");
        assert!(
            html.contains("<a class=\"button\" href=\"http://h/ack\">Acknowledge</a>"),
            "{html}"
        );
        assert!(html.contains("Raw JSON"));
    }

    #[test]
    fn a_webhook_lists_its_links() {
        let body = serde_json::json!({"type": "lead.assigned", "reason": "r",
            "lead": {"name": "Jane", "company": "Acme"}, "links": {"ack": "http://h/ack"}});
        let html = webhook("lead.assigned", &body).into_string();
        assert!(html.contains("Jane at Acme"));
        assert!(html.contains("<a href=\"http://h/ack\">links.ack</a>"));
    }
}
