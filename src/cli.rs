//! The `leadrouter` command-line tool for local work and operations: serve the API, create the
//! tables, publish or check a routing config, simulate a lead, manage keys.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::response::Html;
use axum::routing::get;
use clap::{Parser, Subcommand, ValueEnum};

use crate::app::auth::{KeyRef, NewKey};
use crate::app::config::PublishError;
use crate::domain::access::{Actor, Role};
use crate::domain::config::RoutingConfig;
use crate::domain::lead::Lead;
use crate::domain::routing;
use crate::runtime::Settings;
use crate::store::dynamo::tables;
use crate::store::ConfigStore;

/// Source key the `dev` command installs for local experiments.
pub const DEV_SOURCE_KEY: &str = "lrs_local_dev_source_key";
/// Admin key the `dev` command installs for local experiments.
pub const DEV_ADMIN_KEY: &str = "lra_local_dev_admin_key";

/// leadrouter: route inbound leads to the right rep. Reads TABLE_NAME and DYNAMODB_ENDPOINT.
#[derive(Debug, Parser)]
#[command(name = "leadrouter", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API on a local address (the same router the Lambda runs).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
    },
    /// Local set-up in one go: tables, example config (if none is active), dev keys, then serve
    /// the API and run the SLA sweeper on an interval.
    Dev {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        /// Routing config to load when none is active.
        #[arg(long, default_value = "config/example.yaml")]
        config: PathBuf,
        /// Seconds between sweeps (0 turns the sweeper off).
        #[arg(long, env = "SWEEP_INTERVAL_SECONDS", default_value_t = 10)]
        sweep_every: u64,
    },
    /// Run the SLA sweeper once: escalate leads past their deadline, retry due notifications.
    Sweep {
        /// Stop starting new pages after this many seconds.
        #[arg(long, default_value_t = 50)]
        budget: u64,
    },
    /// Create the DynamoDB table(s) from their definitions in template.yaml.
    CreateTables,
    /// Validate a routing config and publish it as the next active version.
    LoadConfig {
        /// YAML or JSON file.
        file: PathBuf,
    },
    /// Validate a routing config without storing it.
    ValidateConfig {
        /// YAML or JSON file.
        file: PathBuf,
    },
    /// Route a lead against a config file without storing anything.
    Simulate {
        /// YAML or JSON routing config.
        #[arg(long)]
        config: PathBuf,
        /// Rotation turn to assume for pools.
        #[arg(long, default_value_t = 1)]
        turn: u64,
        /// The moment to check availability at (RFC 3339); now if omitted.
        #[arg(long)]
        at: Option<jiff::Timestamp>,
        /// Lead fields as name=value.
        #[arg(required = true)]
        fields: Vec<String>,
    },
    /// Manage source and admin keys (only their hashes are stored).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage accounts (companies with owners that rules can route to).
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// List the stored config versions (number, author, time, message, what changed).
    Versions,
    /// What changed between two config versions (`--from N --to M`; default the active one
    /// and the one before it), or between two config files.
    Diff {
        /// The older version.
        #[arg(long)]
        from: Option<u64>,
        /// The newer version.
        #[arg(long)]
        to: Option<u64>,
        /// Two config files to compare instead of stored versions.
        #[arg(num_args = 0..=2)]
        files: Vec<PathBuf>,
    },
    /// Publish an old config version again as a new one (roster-safe, audited).
    Rollback {
        /// The version to bring back.
        version: u64,
        /// Why.
        #[arg(long)]
        message: Option<String>,
    },
    /// Replay the stored leads of a period through a draft config and report what would move.
    Replay {
        /// The draft config.
        #[arg(long)]
        config: PathBuf,
        /// Start of the period: a date or an RFC 3339 time.
        #[arg(long)]
        from: String,
        /// End of the period (a date means its end).
        #[arg(long)]
        to: String,
        /// The zone dates are read in.
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Load accounts from a CSV (header: id,name,domains,owner,tier,list) or JSON file;
    /// idempotent by id.
    Load {
        /// The file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// What the key may do: source (intake only), viewer (read), integration (a CRM: read
        /// and work leads), editor (change routing), admin (everything).
        #[arg(long, visible_alias = "kind", value_enum)]
        role: CliRole,
        /// Integration or person it belongs to.
        #[arg(long)]
        name: String,
        /// URL prefix a form may redirect to after posting (repeatable; source keys).
        #[arg(long = "redirect")]
        redirects: Vec<String>,
        /// Origin whose pages may post leads with the key from JavaScript or a form
        /// (`https://www.example.com`; repeatable; source keys; none: any origin).
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Add the new lead's id to a form's redirect (`?lead_id=...`; source keys).
        #[arg(long)]
        redirect_lead_id: bool,
        /// Use this key instead of a random one (for local set-ups).
        #[arg(long)]
        key: Option<String>,
    },
    /// Revoke a key, by the key itself or by its id (from `keys list`).
    Revoke {
        /// The key to revoke.
        #[arg(long, conflicts_with = "id")]
        key: Option<String>,
        /// Its id.
        #[arg(long)]
        id: Option<String>,
    },
    /// List every key (id, role, name, when made and by whom, revoked).
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum CliRole {
    Source,
    Viewer,
    Integration,
    Editor,
    Admin,
}

impl From<CliRole> for Role {
    fn from(role: CliRole) -> Self {
        match role {
            CliRole::Source => Role::Source,
            CliRole::Viewer => Role::Viewer,
            CliRole::Integration => Role::Integration,
            CliRole::Editor => Role::Editor,
            CliRole::Admin => Role::Admin,
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs the tool.
pub async fn run(cli: Cli) -> CliResult {
    // A person at a terminal may have a profile, SSO session or role: the full chain.
    crate::aws::use_default_chain();
    let settings = Settings::from_env();
    match cli.command {
        Command::Serve { addr } => serve(&settings, addr, 0).await,
        Command::Dev {
            addr,
            config,
            sweep_every,
        } => {
            create_tables(&settings).await?;
            let store = settings.store().await;
            if store.active_config_version().await?.is_none() {
                let version = load_config(&settings, &config).await?;
                println!("loaded {} as config version {version}", config.display());
            }
            let form = NewKey {
                role: Role::Source,
                name: "local-dev-form".into(),
                allowed_redirects: vec![format!("http://{addr}/")],
                allowed_origins: vec![],
                redirect_lead_id: true,
            };
            create_key(&settings, form, Some(DEV_SOURCE_KEY.into())).await?;
            let admin = NewKey {
                role: Role::Admin,
                name: "local-dev-admin".into(),
                allowed_redirects: vec![],
                allowed_origins: vec![],
                redirect_lead_id: false,
            };
            create_key(&settings, admin, Some(DEV_ADMIN_KEY.into())).await?;
            print_try_it(addr);
            let mut settings = settings;
            if settings.notify.public_url.is_none() {
                settings.notify.public_url = Some(format!("http://{addr}"));
            }
            serve_with(&settings, addr, sweep_every, true).await
        }
        Command::Sweep { budget } => {
            let app = settings.app().await;
            let stop_at = std::time::Instant::now() + std::time::Duration::from_secs(budget);
            let report = app.sweep(stop_at).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::CreateTables => create_tables(&settings).await,
        Command::LoadConfig { file } => {
            let version = load_config(&settings, &file).await?;
            println!(
                "published {} as active config version {version}",
                file.display()
            );
            Ok(())
        }
        Command::ValidateConfig { file } => {
            let text = std::fs::read_to_string(&file)?;
            parse_config(&text, &file)?;
            println!("{}: valid", file.display());
            Ok(())
        }
        Command::Simulate {
            config,
            turn,
            at,
            fields,
        } => {
            let text = std::fs::read_to_string(&config)?;
            let config = parse_config(&text, &config)?;
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|f| f.split_once('=').unwrap_or((f.as_str(), "")))
                .collect();
            let mut lead = Lead::parse(pairs).map_err(|errors| {
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
            // Qualified as intake does (accounts and contacts need the table, so not here).
            lead.qualification = Some(crate::domain::qualify::qualify(
                &config.qualification,
                &lead,
                "simulate",
            ));
            let assignment = routing::simulate(
                &config,
                &lead,
                turn,
                at.unwrap_or_else(jiff::Timestamp::now),
            );
            println!("{}", serde_json::to_string_pretty(&assignment)?);
            Ok(())
        }
        Command::Keys(KeysCommand::Create {
            role,
            name,
            redirects,
            origins,
            redirect_lead_id,
            key,
        }) => {
            let mut allowed_origins = Vec::new();
            for origin in &origins {
                let normal = crate::http::cors::normalize(origin)
                    .or_else(|| (origin.trim() == "*").then(|| "*".to_string()))
                    .ok_or_else(|| format!("--origin {origin}: scheme://host[:port], no path"))?;
                allowed_origins.push(normal);
            }
            let new = NewKey {
                role: role.into(),
                name,
                allowed_redirects: redirects,
                allowed_origins,
                redirect_lead_id,
            };
            let key = create_key(&settings, new, key).await?;
            println!("{key}");
            eprintln!("store this key now: only its hash is kept");
            Ok(())
        }
        Command::Versions => {
            let app = settings.app().await;
            let active = app.store().active_config_version().await?;
            for v in app.store().config_versions().await?.iter().rev() {
                println!(
                    "{}{:>4}  {}  {:<20} {}{}",
                    if Some(v.version) == active { "*" } else { " " },
                    v.version,
                    v.created_at,
                    v.author.as_deref().unwrap_or("-"),
                    v.summary.as_deref().unwrap_or("-"),
                    v.message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Diff { from, to, files } => {
            let changes = match files.as_slice() {
                [a, b] => {
                    let old = parse_config(&std::fs::read_to_string(a)?, a)?;
                    let new = parse_config(&std::fs::read_to_string(b)?, b)?;
                    crate::domain::config_diff::diff(&old, &new)
                }
                [] => {
                    let app = settings.app().await;
                    let to = match to {
                        Some(to) => to,
                        None => app
                            .store()
                            .active_config_version()
                            .await?
                            .ok_or("no config has been published")?,
                    };
                    let from = from.unwrap_or(to.saturating_sub(1));
                    app.version_diff(from, to)
                        .await?
                        .ok_or("one of the versions is missing or no longer parses")?
                }
                _ => return Err("give two files, or --from/--to versions".into()),
            };
            print!("{}", crate::domain::config_diff::text(&changes));
            Ok(())
        }
        Command::Rollback { version, message } => {
            let app = settings.app().await;
            let message = message.or_else(|| Some(format!("rollback to version {version}")));
            match app.rollback(version, None, message, &Actor::cli()).await {
                Ok(new) => {
                    println!("published version {version}'s document as version {new}");
                    Ok(())
                }
                Err(e) => Err(e.to_string().into()),
            }
        }
        Command::Replay {
            config,
            from,
            to,
            tz,
            json,
        } => {
            let draft = parse_config(&std::fs::read_to_string(&config)?, &config)?;
            let zone = jiff::tz::TimeZone::get(&tz)?;
            let moment = crate::http::params::moment;
            let (from, to) = (moment(&from, &zone, false)?, moment(&to, &zone, true)?);
            let report = settings.app().await.replay_all(&draft, from, to).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.text());
            }
            Ok(())
        }
        Command::Accounts(AccountsCommand::Load { file }) => {
            let text = std::fs::read_to_string(&file)?;
            let accounts = crate::domain::account::parse_accounts(&text).map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
                format!(
                    "{} is invalid; nothing was stored:\n{}",
                    file.display(),
                    lines.join("\n")
                )
            })?;
            let report = settings
                .app()
                .await
                .load_accounts(&accounts, &Actor::cli())
                .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Keys(KeysCommand::Revoke { key, id }) => {
            let which = match (&key, &id) {
                (Some(key), _) => KeyRef::Secret(key),
                (None, Some(id)) => KeyRef::Id(id),
                (None, None) => return Err("name the key with --key or --id".into()),
            };
            match settings
                .app()
                .await
                .revoke_key(which, &Actor::cli())
                .await?
            {
                Some(record) => {
                    println!("revoked {} ({}, {})", record.id(), record.name, record.role);
                    Ok(())
                }
                None => Err("no such key".into()),
            }
        }
        Command::Keys(KeysCommand::List) => {
            for k in settings.app().await.keys().await? {
                println!(
                    "{}  {:<11} {:<24} created {} by {}{}",
                    k.id(),
                    k.role,
                    k.name,
                    k.created_at,
                    k.created_by.as_deref().unwrap_or("-"),
                    k.revoked_at
                        .map(|at| format!(", revoked {at}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

fn parse_config(text: &str, file: &std::path::Path) -> Result<RoutingConfig, String> {
    RoutingConfig::parse(text).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        format!("{} is invalid:\n{}", file.display(), lines.join("\n"))
    })
}

async fn create_tables(settings: &Settings) -> CliResult {
    let store = settings.store().await;
    let created =
        tables::ensure_table(store.client(), &tables::leads_table(), &settings.table).await?;
    println!(
        "table {} {}",
        settings.table,
        if created { "created" } else { "already exists" }
    );
    Ok(())
}

async fn load_config(
    settings: &Settings,
    file: &std::path::Path,
) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    let text = std::fs::read_to_string(file)?;
    parse_config(&text, file)?;
    match settings.app().await.publish_config(&text).await {
        Ok(version) => Ok(version),
        Err(PublishError::Invalid(errors)) => Err(errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
            .into()),
        Err(other) => Err(other.into()),
    }
}

async fn create_key(
    settings: &Settings,
    new: NewKey,
    key: Option<String>,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let (key, _) = settings
        .app()
        .await
        .create_key(new, key, &Actor::cli())
        .await?;
    Ok(key)
}

/// The local form's thank-you page; names the lead (its id, from the redirect) when it can.
async fn thanks_page(
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Html<String> {
    let reference = query
        .iter()
        .find(|(k, _)| k == "lead_id")
        .and_then(|(_, v)| uuid::Uuid::parse_str(v).ok())
        .map(|id| id.to_string());
    Html(crate::console::public::thanks_page(reference.as_deref()).into_string())
}

async fn serve(settings: &Settings, addr: SocketAddr, sweep_every: u64) -> CliResult {
    serve_with(settings, addr, sweep_every, false).await
}

async fn serve_with(
    settings: &Settings,
    addr: SocketAddr,
    sweep_every: u64,
    inbox: bool,
) -> CliResult {
    if matches!(
        settings.notify.ack_key,
        crate::domain::notify::Setting::Plain(_)
    ) {
        tracing::warn!("neither ACK_LINK_SECRET nor ACK_LINK_SECRET_ARN is set: acknowledge links use a key that lasts only as long as this process");
    }
    let app = settings.app().await;
    if sweep_every > 0 {
        tokio::spawn(sweep_forever(app.clone(), sweep_every));
    }
    let mut router = crate::http::router(app);
    if inbox {
        router = router.merge(dev_inbox::router());
    }
    let router = router
        .route(
            "/",
            get(move || async move {
                let thanks = format!("http://{addr}/thanks");
                Html(crate::console::public::form_page(DEV_SOURCE_KEY, &thanks).into_string())
            }),
        )
        .route("/thanks", get(thanks_page));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, table = %settings.table, "leadrouter API listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// A local stand-in for Slack and a CRM: `POST /dev/inbox/{channel}` keeps the last
/// notifications (checking the webhook signature when `CRM_WEBHOOK_SECRET` is set) and
/// `GET /dev/inbox` shows them, newest first: a readable page to a browser (each message as
/// its channel would show it, links clickable), JSON to anything else and at
/// `/dev/inbox.json`. Only `leadrouter dev` serves it.
mod dev_inbox {
    use std::sync::{Arc, Mutex};

    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::{header, HeaderMap};
    use axum::response::{Html, IntoResponse, Response};
    use axum::routing::{get, post};
    use axum::{Json, Router};
    use serde_json::{json, Value};

    use crate::domain::notify::{verify_signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

    type Inbox = Arc<Mutex<Vec<Value>>>;
    const KEEP: usize = 100;

    pub fn router() -> Router {
        let inbox: Inbox = Arc::default();
        Router::new()
            .route("/dev/inbox", get(list))
            .route("/dev/inbox.json", get(list_json))
            .route("/dev/inbox/{channel}", post(receive))
            .with_state(inbox)
    }

    /// A browser gets the readable page; anything else (curl, scripts) the JSON.
    async fn list(State(inbox): State<Inbox>, headers: HeaderMap) -> Response {
        let html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        let newest_first: Vec<Value> = inbox.lock().expect("inbox").iter().rev().cloned().collect();
        if html {
            Html(crate::console::public::inbox_page(&newest_first).into_string()).into_response()
        } else {
            Json(Value::Array(newest_first)).into_response()
        }
    }

    async fn list_json(State(inbox): State<Inbox>) -> Json<Value> {
        let got = inbox.lock().expect("inbox");
        Json(Value::Array(got.iter().rev().cloned().collect()))
    }

    async fn receive(
        State(inbox): State<Inbox>,
        Path(channel): Path<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let text = String::from_utf8_lossy(&body).to_string();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let signature = match (
            std::env::var("CRM_WEBHOOK_SECRET").ok(),
            header(SIGNATURE_HEADER),
            header(TIMESTAMP_HEADER).and_then(|t| t.parse().ok()),
        ) {
            (Some(secret), Some(sig), Some(at)) => {
                if verify_signature(&secret, at, &text, sig) {
                    "valid"
                } else {
                    "INVALID"
                }
            }
            (_, None, _) => "unsigned",
            _ => "not checked",
        };
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        let summary = body["text"]
            .as_str()
            .or(body["type"].as_str())
            .unwrap_or("")
            .to_string();
        tracing::info!(%channel, signature, "{summary}");
        let mut got = inbox.lock().expect("inbox");
        got.push(json!({ "channel": channel, "signature": signature, "body": body }));
        if got.len() > KEEP {
            got.remove(0);
        }
        "ok"
    }
}

/// The local stand-in for the scheduled sweeper Lambda.
async fn sweep_forever(app: std::sync::Arc<crate::app::App>, every: u64) {
    let period = std::time::Duration::from_secs(every);
    tracing::info!(every_seconds = every, "SLA sweeper running");
    loop {
        tokio::time::sleep(period).await;
        match app.sweep(std::time::Instant::now() + period).await {
            Ok(report)
                if report.reassigned
                    + report.queued
                    + report.notifications.delivered
                    + report.notifications.retrying
                    + report.notifications.dead
                    > 0 =>
            {
                tracing::info!(?report, "sweep")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}

fn print_try_it(addr: SocketAddr) {
    println!(
        r#"
leadrouter is running on http://{addr}

Try it:
  curl -s -X POST http://{addr}/leads \
    -H 'Content-Type: application/json' -H 'X-Source-Key: {DEV_SOURCE_KEY}' \
    -d '{{"email":"jane@acme-robotics.com","company":"Acme Robotics","employees":"51-200","country":"USA"}}'

  Look at a lead (admin key):
  curl -s http://{addr}/leads/<lead_id> -H 'Authorization: Bearer {DEV_ADMIN_KEY}'

  A plain HTML form (no JavaScript): open http://{addr}/ in a browser, or post one yourself:
  <form method="post" action="http://{addr}/leads">
    <input type="hidden" name="source_key" value="{DEV_SOURCE_KEY}">
    <input name="email" type="email"> <input name="company"> <button>Send</button>
  </form>
"#
    );
}
