//! Sends one notification over HTTP: resolves the channel's secret references, renders and
//! signs the body, POSTs it with a short timeout, and mints acknowledge and rep self-service
//! links. Knows nothing
//! of DynamoDB: recording attempts and retrying is the outbox's job ([`crate::outbox`]).
//! Never logs or returns a secret or a lead's contact details.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::model::Owner;
use crate::domain::notify::{
    self, Channel, Message, SecretRef, Setting, EVENT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

/// How long a resolved AWS secret is reused before it is read again (rotation takes effect).
const SECRET_CACHE: Duration = Duration::from_secs(300);
/// How long a rep's self-service links in a notification work.
pub const REP_LINK_SECONDS: i64 = 14 * 24 * 60 * 60;

/// A path segment, percent-encoded.
fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Settings for sending notifications.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// The API's public base URL, for acknowledge links (`PUBLIC_BASE_URL`); no links if unset.
    pub public_url: Option<String>,
    /// The key acknowledge links are signed with.
    pub ack_key: Setting,
    /// Longest wait for a receiver to answer one attempt.
    pub timeout: Duration,
}

/// Resolves secret references: environment variables, or AWS Secrets Manager (cached).
#[derive(Default)]
pub struct Secrets {
    aws: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client>,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl Secrets {
    /// The value of a setting.
    pub async fn value(&self, setting: &Setting) -> Result<String, String> {
        match setting {
            Setting::Plain(value) => Ok(value.clone()),
            Setting::Secret(reference) => self.resolve(reference).await,
        }
    }

    /// The value a reference points to. Errors name the reference, never a value.
    pub async fn resolve(&self, reference: &SecretRef) -> Result<String, String> {
        match reference {
            SecretRef::Env(name) => std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretRef::AwsSecret(id) => {
                if let Some((value, at)) = self.cache.lock().expect("secret cache").get(id) {
                    if at.elapsed() < SECRET_CACHE {
                        return Ok(value.clone());
                    }
                }
                let client = self
                    .aws
                    .get_or_init(|| async {
                        aws_sdk_secretsmanager::Client::new(&crate::aws::config().await)
                    })
                    .await;
                let out = client
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| format!("AWS secret {id}: {}", e.into_service_error()))?;
                let value = out
                    .secret_string
                    .ok_or_else(|| format!("AWS secret {id} has no string value"))?;
                self.cache
                    .lock()
                    .expect("secret cache")
                    .insert(id.clone(), (value.clone(), Instant::now()));
                Ok(value)
            }
        }
    }
}

/// Sends notifications and mints acknowledge links.
pub struct Notifier {
    http: reqwest::Client,
    secrets: Secrets,
    settings: NotifySettings,
    email: Option<EmailSettings>,
    ses: tokio::sync::OnceCell<aws_sdk_sesv2::Client>,
}

/// Sending email through Amazon SES (API v2).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// The verified SES identity mail is sent from (`EMAIL_FROM`).
    pub from: String,
    /// A local SES endpoint (`SES_ENDPOINT`, e.g. the `aws-ses-v2-local` emulator); unset in AWS.
    pub endpoint: Option<String>,
}

impl Notifier {
    /// A notifier with these settings.
    pub fn new(settings: NotifySettings) -> Self {
        // The process's one TLS crypto provider: ring, as the AWS SDK's client (src/aws.rs) uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            // A receiver that redirects is misconfigured; following could leak the body.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("leadrouter/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Self {
            http,
            secrets: Secrets::default(),
            settings,
            email: None,
            ses: tokio::sync::OnceCell::new(),
        }
    }

    /// Sends email channels' notifications through SES with these settings.
    pub fn with_email(mut self, email: EmailSettings) -> Self {
        self.email = Some(email);
        self
    }

    /// One email attempt: both bodies, through SES. Errors name what failed, never an address.
    async fn send_email(
        &self,
        channel: &Channel,
        message: &Message,
        links: &notify::Links,
    ) -> Result<(), String> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as Mail};
        let Some(settings) = &self.email else {
            return Err("email is not set up here (EMAIL_FROM is not set)".into());
        };
        let client = self
            .ses
            .get_or_init(|| async {
                let shared = match &settings.endpoint {
                    Some(url) => crate::aws::local(url),
                    None => crate::aws::config().await,
                };
                let config = aws_sdk_sesv2::config::Builder::from(&shared)
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_attempt_timeout(self.settings.timeout)
                            .build(),
                    )
                    .build();
                aws_sdk_sesv2::Client::from_conf(config)
            })
            .await;
        let body = notify::email(message, links);
        let text = |data: String| Content::builder().data(data).charset("UTF-8").build();
        let mail = Mail::builder()
            .subject(text(body.subject).map_err(|e| e.to_string())?)
            .body(
                Body::builder()
                    .text(text(body.text).map_err(|e| e.to_string())?)
                    .html(text(body.html).map_err(|e| e.to_string())?)
                    .build(),
            )
            .build();
        client
            .send_email()
            .from_email_address(&settings.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(channel.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(mail).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| match e.as_service_error() {
                Some(service) => format!(
                    "SES refused the email: {}",
                    service.meta().code().unwrap_or("error")
                ),
                None => "could not reach SES".to_string(),
            })
    }

    /// The value of a setting (a secret it names is read through the cache).
    pub async fn secret(&self, setting: &Setting) -> Result<String, String> {
        self.secrets.value(setting).await
    }

    /// The key acknowledge links are signed with.
    pub async fn ack_key(&self) -> Result<String, String> {
        self.secrets.value(&self.settings.ack_key).await
    }

    /// The acknowledge link for an assignment of a lead: on the configured public URL, else
    /// on `seen_base` (the URL the request came in on), else none.
    pub async fn ack_url(
        &self,
        lead_id: &str,
        assignment: u64,
        seen_base: Option<&str>,
    ) -> Option<String> {
        let base = self
            .settings
            .public_url
            .as_deref()
            .or(seen_base)?
            .trim_end_matches('/');
        let key = match self.ack_key().await {
            Ok(key) => key,
            Err(problem) => {
                tracing::error!(%problem, "no acknowledge-link key; sending without a link");
                return None;
            }
        };
        let token = notify::ack_token(&key, lead_id, assignment);
        Some(format!("{base}/leads/{lead_id}/ack?token={token}"))
    }

    /// The links of a notification asking its rep to act: acknowledge, and the rep's own
    /// self-service links (their open leads, away, back), valid for [`REP_LINK_SECONDS`].
    pub async fn links(
        &self,
        message: &Message,
        now_epoch: i64,
        seen_base: Option<&str>,
    ) -> notify::Links {
        let ack = self
            .ack_url(&message.lead_id, message.assignment, seen_base)
            .await;
        let Owner::Rep { id, .. } = &message.owner else {
            return notify::Links {
                ack,
                ..Default::default()
            };
        };
        // The owner may hand a lead they were just given back (same token as acknowledging).
        let hand_back = match message.event {
            notify::EventType::Assigned => ack
                .as_deref()
                .map(|url| url.replacen("/ack?", "/hand-back?", 1)),
            _ => None,
        };
        match self.rep_urls(id, now_epoch, seen_base).await {
            Some((my_leads, away, back)) => notify::Links {
                ack,
                my_leads: Some(my_leads),
                away: Some(away),
                back: Some(back),
                hand_back,
            },
            None => notify::Links {
                ack,
                hand_back,
                ..Default::default()
            },
        }
    }

    /// A rep's own page, away and back links, signed until [`REP_LINK_SECONDS`] from now.
    pub async fn rep_urls(
        &self,
        rep: &str,
        now_epoch: i64,
        seen_base: Option<&str>,
    ) -> Option<(String, String, String)> {
        let base = self
            .settings
            .public_url
            .as_deref()
            .or(seen_base)?
            .trim_end_matches('/');
        let key = self.ack_key().await.ok()?;
        let token = notify::rep_token(&key, rep, now_epoch + REP_LINK_SECONDS);
        let rep = urlencode(rep);
        Some((
            format!("{base}/me/{rep}?t={token}"),
            format!("{base}/me/{rep}/away?t={token}"),
            format!("{base}/me/{rep}/back?t={token}"),
        ))
    }

    /// One delivery attempt at `now_epoch`. The error says what failed, without the URL (a
    /// Slack URL is a secret) or any lead data.
    pub async fn send(
        &self,
        channel: &Channel,
        message: &Message,
        now_epoch: i64,
        seen_base: Option<&str>,
    ) -> Result<(), String> {
        let links = match message.wants_ack() {
            true => self.links(message, now_epoch, seen_base).await,
            false => notify::Links::default(),
        };
        if channel.kind == notify::ChannelKind::Email {
            return self.send_email(channel, message, &links).await;
        }
        let url = self.secrets.value(&channel.url).await?;
        let body = notify::render(channel.kind, message, &links);
        let mut request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, &message.event_id)
            .header(TIMESTAMP_HEADER, now_epoch.to_string());
        if let Some(secret) = &channel.secret {
            let secret = self.secrets.resolve(secret).await?;
            request = request.header(
                SIGNATURE_HEADER,
                notify::signature(&secret, now_epoch, &body),
            );
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e.without_url()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered HTTP {}", status.as_u16()))
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "the receiver did not answer in time".into()
    } else if error.is_connect() {
        "could not connect to the receiver".into()
    } else {
        format!("sending failed: {error}")
    }
}
