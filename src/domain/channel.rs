//! Where notifications go: a channel's kind, URL and signing secret, each secret given only as
//! a reference (an environment variable or an AWS secret), never as its value. Plain data: the
//! config names channels, delivery resolves the references and sends.

use serde::{Deserialize, Serialize};

/// Where a secret comes from. The config document holds only the reference, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SecretRef {
    /// An environment variable of the function.
    Env(String),
    /// An AWS Secrets Manager secret (name or ARN); its string value is used.
    AwsSecret(String),
}

/// A setting given either in the config (not secret) or by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Setting {
    /// The value itself.
    Plain(String),
    /// A reference to a secret holding the value.
    Secret(SecretRef),
}

/// The kind of receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// A Slack incoming webhook: a readable message.
    Slack,
    /// Any HTTPS endpoint: the event as JSON, signed.
    Webhook,
    /// A Microsoft Teams incoming webhook or Workflows URL: an Adaptive Card.
    Teams,
    /// Email through Amazon SES: HTML and plain-text bodies, to `to`.
    Email,
}

/// A place notifications are sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Stable id, named by reps, pools and SLA alerts.
    pub id: String,
    /// What kind of receiver it is.
    pub kind: ChannelKind,
    /// Where to POST. A Slack webhook URL is itself a secret, so it must be a reference.
    /// Unused (empty) for email.
    pub url: Setting,
    /// Email: the recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// The signing secret (required for webhooks, optional for Slack).
    pub secret: Option<SecretRef>,
}
