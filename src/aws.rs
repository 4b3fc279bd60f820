//! The settings every AWS SDK client of the process shares: region and credentials.
//!
//! A Lambda function gets both from its environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), so the functions read exactly those and
//! nothing else: no profile files, SSO, STS web identity or instance metadata, whose clients
//! would only make the binary larger and its cold start slower. The CLI, run by a person
//! with a profile, opts into the SDK's full default chain with [`use_default_chain`], which
//! only the CLI's binary references (so only it links the chain's clients).
//!
//! Every configuration carries the process's HTTPS client, built here rather than taken from
//! the SDK's default: hyper 1 with rustls on ring, the one crypto provider the process links
//! (reqwest's rustls uses it too), where the SDK's default would bring aws-lc, whose C build
//! is a minute of a fresh debug build.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use aws_config::environment::credentials::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

/// The fixed key pair every local emulator (DynamoDB Local, the SES emulator) is reached
/// with: DynamoDB Local keeps one database per key pair and region.
pub const LOCAL_KEY: &str = "leadrouterlocal";

type Loader = fn() -> Pin<Box<dyn Future<Output = SdkConfig> + Send>>;

static LOADER: OnceLock<Loader> = OnceLock::new();

/// Makes every client of this process use the SDK's full default chain (profiles,
/// credential processes, web identity, instance metadata). For the CLI; call before the
/// first client is built.
pub fn use_default_chain() {
    let _ = LOADER.set(|| {
        Box::pin(
            aws_config::defaults(BehaviorVersion::latest())
                .http_client(https_client())
                .load(),
        )
    });
}

/// A new HTTPS client for the SDK: hyper 1, rustls on ring, the system's root certificates.
/// One per configuration (not one per process): its pooled connections belong to the Tokio
/// runtime that opened them.
fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shared settings: from the environment alone unless [`use_default_chain`] was called.
pub async fn config() -> SdkConfig {
    match LOADER.get() {
        Some(load) => load().await,
        None => from_environment(),
    }
}

/// Region and credentials from the environment, as Lambda provides them.
fn from_environment() -> SdkConfig {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into());
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .http_client(https_client())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .build()
}

/// Settings for a local emulator at `endpoint`: its fixed key pair, us-east-1.
pub fn local(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .http_client(https_client())
        .credentials_provider(SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new(LOCAL_KEY, LOCAL_KEY, None, None, "local"),
        ))
        .build()
}
