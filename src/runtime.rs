//! Process wiring shared by the binaries: settings from the environment, the DynamoDB client
//! (built once per process), logging.

use std::sync::Arc;
use std::time::Duration;

use crate::app::{App, SystemClock};
use crate::delivery::{EmailSettings, Notifier, NotifySettings};
use crate::domain::notify::{SecretRef, Setting};
use crate::store::dynamo::{self, DynamoStore};

/// Settings read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// DynamoDB table (`TABLE_NAME`, default `leadrouter`).
    pub table: String,
    /// A local DynamoDB endpoint (`DYNAMODB_ENDPOINT`); unset in AWS.
    pub endpoint: Option<String>,
    /// How long the routing config is cached (`CONFIG_CACHE_SECONDS`, default 15).
    pub config_ttl: Duration,
    /// How long an accepted source key is trusted without reading it again
    /// (`KEY_CACHE_SECONDS`, default 60; 0 reads it for every lead).
    pub key_ttl: Duration,
    /// Notifications: `PUBLIC_BASE_URL` for acknowledge links, their signing key from
    /// `ACK_LINK_SECRET` (an environment variable) or `ACK_LINK_SECRET_ARN` (AWS Secrets
    /// Manager), and `NOTIFY_TIMEOUT_MS` (default 3000) per delivery attempt.
    pub notify: NotifySettings,
    /// A fresh deployment's first admin key: `FIRST_ADMIN_KEY_ARN` (the Secrets Manager
    /// secret the stack generates) or `FIRST_ADMIN_KEY` (an environment variable).
    pub first_admin_key: Option<Setting>,
    /// The secret signed activity webhooks are checked with: `ACTIVITY_WEBHOOK_SECRET` (an
    /// environment variable) or `ACTIVITY_WEBHOOK_SECRET_ARN` (Secrets Manager); unset: keys only.
    pub activity_secret: Option<Setting>,
    /// Email channels: `EMAIL_FROM` (the verified SES sender) and, locally, `SES_ENDPOINT`.
    pub email: Option<EmailSettings>,
}

impl Settings {
    /// Reads the settings.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            table: var("TABLE_NAME").unwrap_or_else(|| "leadrouter".into()),
            endpoint: var("DYNAMODB_ENDPOINT"),
            config_ttl: Duration::from_secs(
                var("CONFIG_CACHE_SECONDS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(15),
            ),
            key_ttl: Duration::from_secs(
                var("KEY_CACHE_SECONDS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60),
            ),
            notify: NotifySettings {
                public_url: var("PUBLIC_BASE_URL"),
                ack_key: ack_key(var("ACK_LINK_SECRET").is_some(), var("ACK_LINK_SECRET_ARN")),
                timeout: Duration::from_millis(
                    var("NOTIFY_TIMEOUT_MS")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(3000),
                ),
            },
            first_admin_key: match (var("FIRST_ADMIN_KEY"), var("FIRST_ADMIN_KEY_ARN")) {
                (Some(_), _) => Some(Setting::Secret(SecretRef::Env("FIRST_ADMIN_KEY".into()))),
                (None, Some(arn)) => Some(Setting::Secret(SecretRef::AwsSecret(arn))),
                (None, None) => None,
            },
            email: var("EMAIL_FROM").map(|from| EmailSettings {
                from,
                endpoint: var("SES_ENDPOINT"),
            }),
            activity_secret: match (
                var("ACTIVITY_WEBHOOK_SECRET"),
                var("ACTIVITY_WEBHOOK_SECRET_ARN"),
            ) {
                (Some(_), _) => Some(Setting::Secret(SecretRef::Env(
                    "ACTIVITY_WEBHOOK_SECRET".into(),
                ))),
                (None, Some(arn)) => Some(Setting::Secret(SecretRef::AwsSecret(arn))),
                (None, None) => None,
            },
        }
    }

    /// The DynamoDB store these settings name.
    pub async fn store(&self) -> DynamoStore {
        DynamoStore::new(dynamo::client(self.endpoint.as_deref()).await, &self.table)
    }

    /// The app on that store with the system clock.
    pub async fn app(&self) -> Arc<App> {
        let mut notifier = Notifier::new(self.notify.clone());
        if let Some(email) = &self.email {
            notifier = notifier.with_email(email.clone());
        }
        let app = App::new(
            Arc::new(self.store().await),
            Arc::new(SystemClock),
            self.config_ttl,
            notifier,
        )
        .with_key_cache(self.key_ttl);
        let app = match &self.first_admin_key {
            Some(setting) => app.with_first_admin_key(setting.clone()),
            None => app,
        };
        Arc::new(match &self.activity_secret {
            Some(setting) => app.with_activity_secret(setting.clone()),
            None => app,
        })
    }
}

/// Where the acknowledge-link key comes from. Without one (a laptop), a random key lives as
/// long as the process: links from before a restart stop working, which is fine locally.
fn ack_key(in_env: bool, arn: Option<String>) -> Setting {
    match (in_env, arn) {
        (true, _) => Setting::Secret(SecretRef::Env("ACK_LINK_SECRET".into())),
        (false, Some(arn)) => Setting::Secret(SecretRef::AwsSecret(arn)),
        (false, None) => Setting::Plain(hex::encode(rand::random::<[u8; 32]>())),
    }
}

/// Logs as JSON in Lambda (plain text locally), filtered by `RUST_LOG` (default `info`).
/// Lead emails and phones are never logged at info level.
pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // Locally, logs go to stderr so a command's output (a new key, a report) stays clean.
    let builder = builder.with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .without_time()
            .with_current_span(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
