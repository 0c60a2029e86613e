//! What each subcommand does: `serve` (default), `migrate`, `token create`, `rotate-key`,
//! `hubspot-project`, `demo`.

use chrono::Utc;
use turris_core::ids::OrganizationId;
use turris_core::permissions::{Role, SubscriptionState};

use crate::app::{Application, StartupError, check_keys, open_database, server_store};
use crate::config::{Cli, Command, Config, ConfigError, ProjectArgs, TokenCommand, TokenCreate};
use crate::crypto::ApiToken;
use crate::store::{NewApiToken, NewUser, ResealReport, SqlStore};

/// Logs to stderr with `filter` (tracing's `EnvFilter` syntax).
pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only for a person at a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

/// Runs the command line.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    match cli.command {
        None | Some(Command::Serve) => {
            let app = Application::build(cli.config).await?;
            app.run().await.map_err(StartupError::Serve)
        }
        Some(Command::Migrate) => {
            open_database(&cli.config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Some(Command::RotateKey) => {
            let report = rotate_key(&cli.config).await?;
            eprintln!(
                "{} value(s) re-sealed, {} already under the current key, {} changed by a running server meanwhile; every sealed value now uses the current key, so previous keys can leave the key file",
                report.resealed, report.current, report.raced
            );
            Ok(())
        }
        Some(Command::HubspotProject(args)) => hubspot_project(&cli.config, &args).await,
        #[cfg(feature = "demo")]
        Some(Command::Demo(args)) => Ok(crate::demo::run(cli.config, args).await?),
        Some(Command::Token(TokenCommand::Create(args))) => {
            let token = create_token(&cli.config, &args).await?;
            println!("{}", token.expose());
            if args.login_link {
                println!("{}", console_link(&cli.config, &token).await?);
                eprintln!("the sign-in link works once, within 15 minutes");
            }
            eprintln!(
                "token for user {} ({}) in organization {}; it is shown only once",
                args.user, args.role, args.organization
            );
            Ok(())
        }
    }
}

/// `hubspot-project`: the developer-project files of the app this server needs, printed or
/// written into `--out`.
pub async fn hubspot_project(config: &Config, args: &ProjectArgs) -> Result<(), StartupError> {
    use turris_hubspot::project::{ProjectAuth, ProjectSpec};
    let settings = match &args.organization {
        Some(org) => {
            let keys = config.keys()?;
            let db = open_database(config).await?;
            let org = OrganizationId::parse(org)
                .map_err(|e| ConfigError::Invalid(format!("--organization: {e}")))?;
            server_store(db, &keys)
                .load_settings(&org)
                .await
                .map_err(crate::store::DbError::from)?
                .ok_or_else(|| {
                    ConfigError::Invalid(format!("organization {org} has no HubSpot settings yet"))
                })?
        }
        None => {
            // Every toggle the default mapping allows, in the order they depend on each other.
            let mut settings = turris_core::integration::IntegrationSettings::default();
            for (object, direction) in turris_core::matrix::SyncMatrix::toggles() {
                let mapping = settings.mapping.clone();
                let _ = settings.matrix.enable(object, direction, &mapping);
            }
            settings
        }
    };
    let base = config.public_base_url.trim_end_matches('/');
    let spec = ProjectSpec {
        name: args.name.clone(),
        auth: if args.static_auth {
            ProjectAuth::Static
        } else {
            ProjectAuth::OAuth {
                redirect_url: config.redirect_url(),
            }
        },
        required_scopes: turris_hubspot::auth::oauth::SYNC_SCOPES
            .iter()
            .filter(|s| !(args.static_auth && **s == "oauth"))
            .map(|s| (*s).to_owned())
            .collect(),
        optional_scopes: turris_hubspot::auth::oauth::OPTIONAL_SYNC_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        webhook_target: (!args.no_webhooks).then(|| format!("{base}/hooks/hubspot")),
        subscriptions: crate::sync::subscriptions::project_subscriptions(
            &settings.required_subscriptions(),
        ),
    };
    for (path, json) in spec.files() {
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        match &args.out {
            Some(dir) => {
                let file = dir.join(path);
                if let Some(parent) = file.parent() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| ConfigError::Invalid(format!("{}: {e}", parent.display())))?;
                }
                std::fs::write(&file, text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {e}", file.display())))?;
                eprintln!("wrote {}", file.display());
            }
            None => println!("// {path}\n{text}"),
        }
    }
    Ok(())
}

/// `rotate-key`: checks the configured keys against the database, then re-seals every value
/// not under the current key (see [`SqlStore::reseal_all`]).
pub async fn rotate_key(config: &Config) -> Result<ResealReport, StartupError> {
    let keys = config.keys()?;
    let db = open_database(config).await?;
    check_keys(&db, &keys).await?;
    let report = SqlStore::with_keys(db.clone(), &keys).reseal_all().await;
    db.close().await;
    Ok(report?)
}

/// Mints a token, creating the organization (active subscription), the user (by email) and
/// the `admin` role when they do not exist yet.
pub async fn create_token(config: &Config, args: &TokenCreate) -> Result<ApiToken, StartupError> {
    let keys = config.keys()?;
    let db = open_database(config).await?;
    let store = server_store(db, &keys);
    let org = OrganizationId::parse(&args.organization)
        .map_err(|e| ConfigError::Invalid(format!("--organization: {e}")))?;
    let now = Utc::now();
    if store.organization(&org).await?.is_none() {
        store
            .create_organization(&org, &args.organization, SubscriptionState::Active, now)
            .await?;
    }
    let roles = store.list_roles(&org).await?;
    let role = match roles.into_iter().find(|r| r.role.name == args.role) {
        Some(role) => role,
        None if args.role == "admin" => store.create_role(&org, &Role::admin(), now).await?,
        None => {
            return Err(ConfigError::Invalid(format!(
                "organization {org} has no role {:?}; create it with the admin API",
                args.role
            ))
            .into());
        }
    };
    let users = store.list_users(&org).await?;
    let user = match users.into_iter().find(|u| u.email == args.user) {
        Some(user) => user,
        None => {
            store
                .create_user(
                    &org,
                    &NewUser {
                        email: args.user.clone(),
                        name: args.user.clone(),
                    },
                    now,
                )
                .await?
        }
    };
    let token = ApiToken::generate().map_err(StartupError::Random)?;
    store
        .create_api_token(
            &org,
            &NewApiToken {
                hash: token.hash(),
                user: user.id,
                role: role.id,
                label: args.name.clone(),
                expires_at: args
                    .expires_in
                    .map(|d| now + chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX)),
            },
            now,
        )
        .await?;
    Ok(token)
}

/// A one-time browser console sign-in link for `token`, at the config's public base URL.
pub async fn console_link(config: &Config, token: &ApiToken) -> Result<String, StartupError> {
    let db = open_database(config).await?;
    let link = crate::console::login::login_link_for(&db, &config.public_base_url, token)
        .await
        .map_err(StartupError::Database);
    db.close().await;
    link
}
