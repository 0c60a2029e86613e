//! Command line and configuration: every setting is a flag and a `TURRIS_*` environment
//! variable; doc comments are the `--help` text.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::crypto::{EncryptionKey, KeyRing};

mod hubspot;
mod private_app;
pub use hubspot::HubSpotConfig;
pub use private_app::{EnvPrivateApp, PrivateAppEnv};

/// The Turris integrations reference server: the settings API, HubSpot sync and webhook
/// delivery on SQLite or PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "turris-server", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Re-seal every sealed value (webhook secrets, HubSpot tokens) under the current key of
    /// the key file, online. Put the new key first in TURRIS_ENCRYPTION_KEY_FILE and the old
    /// one after it on every server, restart them, then run this; it is idempotent and can be
    /// run again after an interruption. Afterwards the old key can leave the file.
    RotateKey,
    /// Print (or write to --out) the HubSpot developer-project files of the app this server
    /// needs: `hsproject.json`, `app-hsmeta.json` (OAuth, or static auth for one account) and
    /// `webhooks-hsmeta.json` with the `/hooks/hubspot` target and the subscriptions the
    /// organization's mapping needs. Upload them with `hs project upload`.
    HubspotProject(ProjectArgs),
    /// Run a guided demo: the server on SQLite, the built-in HubSpot sandbox and a receiver
    /// that verifies `X-Turris-Signature`, with sample data flowing both ways.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
}

/// `demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// The folder of the demo's SQLite database and encryption key (replaced on each run).
    #[arg(long, default_value = "data/demo")]
    pub data_dir: PathBuf,
    /// Exit once every step is done instead of serving until Ctrl-C (for CI).
    #[arg(long)]
    pub exit_when_done: bool,
}

/// `hubspot-project`.
#[derive(Debug, Clone, Args)]
pub struct ProjectArgs {
    /// The organization whose mapping decides the webhook subscriptions (without it, the
    /// default mapping's).
    #[arg(long)]
    pub organization: Option<String>,
    /// A static-auth app for one HubSpot account instead of an OAuth app for many.
    #[arg(long)]
    pub static_auth: bool,
    /// No webhooks: the server reads the webhooks journal (or polls) instead.
    #[arg(long)]
    pub no_webhooks: bool,
    /// The app's name on HubSpot's consent screen.
    #[arg(long, default_value = "Turris sync")]
    pub name: String,
    /// Write the files into this project folder instead of printing them.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint an API token for a user of an organization with a role; prints it once.
    Create(TokenCreate),
}

/// `token create`.
#[derive(Debug, Clone, Args)]
pub struct TokenCreate {
    /// The organization id (created, with an active subscription, when it does not exist).
    #[arg(long)]
    pub organization: String,
    /// The user's email (the user is created when it does not exist).
    #[arg(long)]
    pub user: String,
    /// The role name; `admin` (every permission) is created on demand.
    #[arg(long, default_value = "admin")]
    pub role: String,
    /// A label for the token.
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// The token stops working this long after it is minted (`90d`, `12h`); never without it.
    #[arg(long, value_parser = crate::delivery::settings::parse_duration)]
    pub expires_in: Option<Duration>,
    /// Also print a one-time link that signs in to the browser console as this token
    /// (valid 15 minutes, uses `--public-base-url`).
    #[arg(long)]
    pub login_link: bool,
}

/// Server settings.
#[derive(Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "TURRIS_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Database URL: `sqlite://path/to/file.db?mode=rwc` (created when missing) or
    /// `postgres://user@host/db`.
    #[arg(
        long,
        env = "TURRIS_DATABASE_URL",
        default_value = "sqlite://data/turris.db?mode=rwc",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,

    /// Key that encrypts OAuth tokens and webhook secrets at rest (AES-256-GCM): 32 random
    /// bytes as 64 hex characters (or base64). `serve` needs it or `--encryption-key-file`.
    #[arg(
        long,
        env = "TURRIS_ENCRYPTION_KEY",
        hide_env_values = true,
        global = true
    )]
    pub encryption_key: Option<String>,

    /// A file of encryption keys, one per line (64 hex characters or base64 of 32 bytes): the
    /// first seals, later ones are previous keys accepted for decryption only; blank lines and
    /// `#` comments are ignored. Keeps the key out of the environment and `ps`.
    #[arg(long, env = "TURRIS_ENCRYPTION_KEY_FILE", global = true)]
    pub encryption_key_file: Option<PathBuf>,

    /// Bootstrap admin token guarding `/api/v1/admin/...` (admin endpoints are off without it).
    #[arg(
        long,
        env = "TURRIS_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,

    /// Bearer token a Prometheus scraper sends to `GET /metrics` (403 there without one).
    #[arg(
        long,
        env = "TURRIS_METRICS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub metrics_token: Option<String>,

    /// A second address serving only `GET /metrics`, without a token (a private network or
    /// loopback).
    #[arg(long, env = "TURRIS_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<SocketAddr>,

    /// Public base URL of this server, as browsers and HubSpot reach it.
    #[arg(
        long,
        env = "TURRIS_PUBLIC_BASE_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub public_base_url: String,

    /// HubSpot settings.
    #[command(flatten)]
    pub hubspot: HubSpotConfig,

    /// Outbound webhook delivery, debounce and retention.
    #[command(flatten)]
    pub delivery: crate::delivery::DeliverySettings,

    /// Bulk reconciliation jobs: leases, polling and HubSpot retries.
    #[command(flatten)]
    pub reconcile: crate::sync::reconcile::ReconcileSettings,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "TURRIS_BODY_LIMIT", default_value_t = 1024 * 1024, global = true)]
    pub body_limit: usize,

    /// Requests a second one API token may make, sustained (0: no limit); beyond it and its
    /// burst, 429 with `Retry-After`.
    #[arg(
        long,
        env = "TURRIS_RATE_LIMIT_PER_SECOND",
        default_value_t = 50,
        global = true
    )]
    pub rate_limit_per_second: u32,

    /// Requests one API token may make at once above the sustained rate.
    #[arg(
        long,
        env = "TURRIS_RATE_LIMIT_BURST",
        default_value_t = 200,
        global = true
    )]
    pub rate_limit_burst: u32,

    /// API requests the server works on at once, all tokens together (0: no bound); beyond it
    /// a request is answered 429 `overloaded` with `Retry-After` at once, so an overload
    /// pushes back instead of queueing in memory.
    #[arg(
        long = "api-max-in-flight",
        env = "TURRIS_API_MAX_IN_FLIGHT",
        default_value_t = 256,
        global = true
    )]
    pub api_max_in_flight: usize,

    /// Time limit of one request, in seconds.
    #[arg(
        long,
        env = "TURRIS_REQUEST_TIMEOUT",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,

    /// Accept webhook URLs on loopback over plain http (demos and tests only): `true` or
    /// `false`; a server listening on a non-loopback address refuses to start with `true`
    /// unless it is `force`.
    #[arg(
        long,
        env = "TURRIS_WEBHOOK_ALLOW_LOOPBACK",
        global = true,
        value_parser = parse_allow_loopback,
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub webhook_allow_loopback: AllowLoopback,

    /// Log filter (tracing's `EnvFilter` syntax).
    #[arg(
        long,
        env = "TURRIS_LOG",
        default_value = "info,turris_server=info,sqlx=warn",
        global = true
    )]
    pub log: String,
}

impl Config {
    /// Settings for a local server on `listen` with the given database, every other value at
    /// its default (tests and the demo start from here).
    pub fn local(listen: SocketAddr, database_url: impl Into<String>) -> Self {
        let cli = Cli::parse_from(["turris-server"]);
        Self {
            listen,
            database_url: database_url.into(),
            ..cli.config
        }
    }

    /// The request time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The OAuth redirect URL.
    pub fn redirect_url(&self) -> String {
        self.hubspot.redirect_url.clone().unwrap_or_else(|| {
            format!(
                "{}/api/v1/integrations/hubspot/callback",
                self.public_base_url.trim_end_matches('/')
            )
        })
    }

    /// The encryption key, or the error `serve` reports when it is missing.
    pub fn require_encryption_key(&self) -> Result<&str, ConfigError> {
        self.encryption_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .ok_or(ConfigError::MissingEncryptionKey)
    }

    /// Refuses a bootstrap admin token shorter than [`MIN_ADMIN_TOKEN_LEN`] characters: it
    /// guards every organization, and a short one can be guessed.
    pub fn check_admin_token(&self) -> Result<(), ConfigError> {
        match self.admin_token.as_deref() {
            Some(token) if token.chars().count() < MIN_ADMIN_TOKEN_LEN => {
                Err(ConfigError::Invalid(format!(
                    "TURRIS_ADMIN_TOKEN is too short: use at least {MIN_ADMIN_TOKEN_LEN} random characters, e.g. the output of `openssl rand -hex 32`"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The keys: from `--encryption-key-file` (current and previous keys) or
    /// `--encryption-key` (one key), never both. Errors name the source, never a key.
    pub fn keys(&self) -> Result<KeyRing, ConfigError> {
        let inline = self.encryption_key.as_deref().filter(|k| !k.is_empty());
        match (inline, &self.encryption_key_file) {
            (Some(_), Some(_)) => Err(ConfigError::Invalid(
                "set TURRIS_ENCRYPTION_KEY or TURRIS_ENCRYPTION_KEY_FILE, not both".to_owned(),
            )),
            (Some(key), None) => EncryptionKey::parse(key)
                .map(KeyRing::new)
                .map_err(|e| ConfigError::InvalidEncryptionKey(e.to_string())),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::InvalidEncryptionKey(format!(
                        "cannot read the key file {}: {e}",
                        path.display()
                    ))
                })?;
                warn_if_readable_by_others(path);
                KeyRing::parse_file(&text).map_err(|e| {
                    ConfigError::InvalidEncryptionKey(format!("{}: {e}", path.display()))
                })
            }
            (None, None) => Err(ConfigError::MissingEncryptionKey),
        }
    }

    /// For SQLite URLs naming a file, the file.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let path = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
            return None;
        }
        Some(PathBuf::from(path))
    }

    /// For SQLite URLs, the folder that must exist before the database file is created.
    pub fn sqlite_parent_dir(&self) -> Option<PathBuf> {
        self.sqlite_file()?
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
    }
}

/// Whether webhook URLs may point at loopback over plain http (`TURRIS_WEBHOOK_ALLOW_LOOPBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllowLoopback {
    /// No (production).
    #[default]
    Off,
    /// Yes, on a server that listens on loopback only (demos, tests).
    On,
    /// Yes, even on a server reachable from elsewhere (`force`).
    Force,
}

impl AllowLoopback {
    /// Whether loopback URLs are accepted.
    pub fn enabled(self) -> bool {
        self != AllowLoopback::Off
    }

    /// Refuses `On` on a server listening on a non-loopback address, and warns whenever the
    /// escape hatch is open.
    pub fn check(self, listen: SocketAddr) -> Result<(), ConfigError> {
        match self {
            AllowLoopback::Off => Ok(()),
            AllowLoopback::On if !listen.ip().is_loopback() => Err(ConfigError::Invalid(format!(
                "TURRIS_WEBHOOK_ALLOW_LOOPBACK is for demos and tests: this server listens on {listen}, so webhooks could be pointed at its own loopback services; unset it, or set it to `force` to accept that"
            ))),
            AllowLoopback::On | AllowLoopback::Force => {
                tracing::warn!(
                    %listen,
                    forced = self == AllowLoopback::Force,
                    "TURRIS_WEBHOOK_ALLOW_LOOPBACK: webhook URLs on loopback over plain http are accepted (demos and tests only)"
                );
                Ok(())
            }
        }
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) or `force`.
pub fn parse_allow_loopback(text: &str) -> Result<AllowLoopback, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "off" => Ok(AllowLoopback::Off),
        "true" | "1" | "yes" | "on" => Ok(AllowLoopback::On),
        "force" => Ok(AllowLoopback::Force),
        other => Err(format!("expected true, false or force, not {other:?}")),
    }
}

/// The shortest accepted bootstrap admin token.
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// A configuration problem, reported before anything starts.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `serve` needs the encryption key.
    #[error(
        "missing encryption key: set TURRIS_ENCRYPTION_KEY_FILE to a file holding the key, or TURRIS_ENCRYPTION_KEY (or --encryption-key) to 64 hex characters (32 random bytes), e.g. the output of `openssl rand -hex 32`"
    )]
    MissingEncryptionKey,
    /// The encryption key does not parse.
    #[error("invalid encryption key: {0}")]
    InvalidEncryptionKey(String),
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field(
                "encryption_key",
                &self.encryption_key.as_ref().map(|_| "[redacted]"),
            )
            .field("encryption_key_file", &self.encryption_key_file)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "[redacted]"),
            )
            .field("metrics_listen", &self.metrics_listen)
            .field("public_base_url", &self.public_base_url)
            .field("hubspot", &self.hubspot)
            .field("body_limit", &self.body_limit)
            .field("request_timeout_secs", &self.request_timeout_secs)
            .field("rate_limit_per_second", &self.rate_limit_per_second)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("api_max_in_flight", &self.api_max_in_flight)
            .field("webhook_allow_loopback", &self.webhook_allow_loopback)
            .field("delivery", &self.delivery)
            .field("reconcile", &self.reconcile)
            .finish()
    }
}

/// A key file others can read is worth a warning (it still works).
fn warn_if_readable_by_others(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %path.display(),
                    mode = format!("{:o}", mode & 0o777),
                    "the encryption key file is readable by group or others: chmod 600 it"
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_flags_parse_anywhere() {
        let cli = Cli::parse_from(["turris-server", "--listen", "0.0.0.0:9000"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.config.listen.port(), 9000);
        let cli = Cli::parse_from(["turris-server", "serve", "--database-url", "postgres://x/y"]);
        assert!(matches!(cli.command, Some(Command::Serve)));
        assert_eq!(cli.config.database_url, "postgres://x/y");
        let cli = Cli::parse_from([
            "turris-server",
            "token",
            "create",
            "--organization",
            "acme",
            "--user",
            "ada",
        ]);
        match cli.command {
            Some(Command::Token(TokenCommand::Create(t))) => {
                assert_eq!(
                    (t.organization.as_str(), t.role.as_str()),
                    ("acme", "admin")
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let mut config = Config::local("127.0.0.1:0".parse().unwrap(), "postgres://u:pw1@h/db");
        config.encryption_key = Some("k3y".repeat(10));
        config.admin_token = Some("adm1n-t0ken".into());
        config.hubspot.client_secret = Some("cl1ent-s3cret".into());
        let debug = format!("{config:?}");
        for secret in ["k3yk3y", "adm1n-t0ken", "cl1ent-s3cret", "pw1"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
    }

    #[test]
    fn a_missing_encryption_key_is_a_clear_error() {
        let config = Config::local("127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        let error = config.require_encryption_key().unwrap_err().to_string();
        assert!(error.contains("TURRIS_ENCRYPTION_KEY"), "{error}");
    }

    #[test]
    fn keys_come_from_the_variable_or_the_file_never_both_and_errors_show_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        let current = "1c".repeat(32);
        let previous = "2d".repeat(32);
        std::fs::write(&file, format!("# current first\n{current}\n{previous}\n")).unwrap();
        let mut config = Config::local("127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        config.encryption_key_file = Some(file.clone());
        let ring = config.keys().unwrap();
        assert_eq!(ring.current().to_hex(), current);
        assert_eq!(ring.previous()[0].to_hex(), previous);
        config.encryption_key = Some(current.clone());
        assert!(config.keys().unwrap_err().to_string().contains("not both"));
        config.encryption_key_file = None;
        assert_eq!(config.keys().unwrap().previous().len(), 0);
        std::fs::write(&file, format!("{current}\nnot-a-key-{previous}\n")).unwrap();
        config.encryption_key = None;
        config.encryption_key_file = Some(file);
        let error = config.keys().unwrap_err().to_string();
        assert!(error.contains("line 2"), "{error}");
        assert!(
            !error.contains(&previous) && !error.contains(&current),
            "{error}"
        );
    }

    #[test]
    fn the_loopback_escape_hatch_is_refused_off_loopback_unless_forced() {
        fn check(text: &str, expected: Result<AllowLoopback, ()>) {
            assert_eq!(
                parse_allow_loopback(text).map_err(|_| ()),
                expected,
                "{text:?}"
            );
        }
        check("true", Ok(AllowLoopback::On));
        check("1", Ok(AllowLoopback::On));
        check("false", Ok(AllowLoopback::Off));
        check("FORCE", Ok(AllowLoopback::Force));
        check("maybe", Err(()));
        let cli = Cli::parse_from(["turris-server", "--webhook-allow-loopback"]);
        assert_eq!(cli.config.webhook_allow_loopback, AllowLoopback::On);
        let cli = Cli::parse_from(["turris-server", "--webhook-allow-loopback=force"]);
        assert_eq!(cli.config.webhook_allow_loopback, AllowLoopback::Force);
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(AllowLoopback::On.check(local).is_ok());
        let refused = AllowLoopback::On.check(public).unwrap_err().to_string();
        assert!(
            refused.contains("force") && refused.contains("0.0.0.0:8080"),
            "{refused}"
        );
        assert!(AllowLoopback::Force.check(public).is_ok());
        assert!(AllowLoopback::Off.check(public).is_ok());
        assert!(
            AllowLoopback::On
                .check("[::1]:8080".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn a_short_admin_token_is_refused_without_being_printed() {
        let mut config = Config::local("127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        assert!(config.check_admin_token().is_ok(), "no admin token is fine");
        config.admin_token = Some("hunter2-hunter2".into());
        let error = config.check_admin_token().unwrap_err().to_string();
        assert!(
            error.contains("at least 32") && !error.contains("hunter2"),
            "{error}"
        );
        config.admin_token = Some("a".repeat(MIN_ADMIN_TOKEN_LEN));
        assert!(config.check_admin_token().is_ok());
    }

    #[test]
    fn sqlite_files_get_their_folder_created() {
        let config = Config::local(
            "127.0.0.1:0".parse().unwrap(),
            "sqlite://data/turris.db?mode=rwc",
        );
        assert_eq!(config.sqlite_parent_dir(), Some(PathBuf::from("data")));
        let config = Config::local("127.0.0.1:0".parse().unwrap(), "postgres://h/db");
        assert_eq!(config.sqlite_parent_dir(), None);
    }
}
