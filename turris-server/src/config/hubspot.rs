//! The HubSpot app this server acts as: OAuth client, webhooks, API base and version, the
//! journal and polling intervals, and a single-tenant deployment's private app.

use std::fmt;
use std::time::Duration;

use clap::Args;

use super::PrivateAppEnv;

/// The HubSpot app this server acts as.
#[derive(Clone, Args)]
pub struct HubSpotConfig {
    /// The public app's client id (OAuth connect is off without it).
    #[arg(
        long = "hubspot-client-id",
        env = "TURRIS_HUBSPOT_CLIENT_ID",
        global = true
    )]
    pub client_id: Option<String>,

    /// The public app's client secret (also verifies HubSpot's webhook signatures).
    #[arg(
        long = "hubspot-client-secret",
        env = "TURRIS_HUBSPOT_CLIENT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub client_secret: Option<String>,

    /// The public app's id.
    #[arg(long = "hubspot-app-id", env = "TURRIS_HUBSPOT_APP_ID", global = true)]
    pub app_id: Option<u64>,

    /// The app's developer API key: the server manages the app's webhook subscriptions with it
    /// (without it, subscribe in HubSpot's developer account and the status stays pending).
    #[arg(
        long = "hubspot-developer-api-key",
        env = "TURRIS_HUBSPOT_DEVELOPER_API_KEY",
        hide_env_values = true,
        global = true
    )]
    pub developer_api_key: Option<String>,

    /// OAuth redirect URL registered with the app (default: the public base URL +
    /// `/api/v1/integrations/hubspot/callback`).
    #[arg(
        long = "hubspot-redirect-url",
        env = "TURRIS_HUBSPOT_REDIRECT_URL",
        global = true
    )]
    pub redirect_url: Option<String>,

    /// HubSpot API base URL (point it at the sandbox for tests and the demo).
    #[arg(
        long = "hubspot-api-base",
        env = "TURRIS_HUBSPOT_API_BASE",
        default_value = "https://api.hubapi.com",
        global = true
    )]
    pub api_base: String,

    /// HubSpot API version: a date-based release (`2026-03`, `2026-09`) or `v3` for the
    /// numbered APIs existing installations used (unsupported by HubSpot from September 2027).
    /// 2026-09 enforces the portal's own property rules on every write.
    #[arg(
        long = "hubspot-api-version",
        env = "TURRIS_HUBSPOT_API_VERSION",
        default_value = "2026-03",
        global = true
    )]
    pub api_version: turris_hubspot::ApiVersion,

    /// How often organizations in the `journal` or `both` inbound mode read HubSpot's webhooks
    /// journal (an organization switching mode is read at once).
    #[arg(
        id = "hubspot_journal_poll",
        long = "hubspot-journal-poll",
        env = "TURRIS_HUBSPOT_JOURNAL_POLL",
        default_value = "5s",
        value_parser = crate::delivery::settings::parse_duration,
        global = true
    )]
    pub journal_poll: Duration,

    /// How often organizations in the `polling` inbound mode search HubSpot for records
    /// modified since the last look.
    #[arg(
        id = "hubspot_poll_interval",
        long = "hubspot-poll-interval",
        env = "TURRIS_HUBSPOT_POLL_INTERVAL",
        default_value = "30s",
        value_parser = crate::delivery::settings::parse_duration,
        global = true
    )]
    pub poll_interval: Duration,

    /// How long the CRM sync record (every write to HubSpot) is kept.
    #[arg(
        long = "crm-sync-record-retention",
        env = "TURRIS_CRM_SYNC_RECORD_RETENTION",
        default_value = "400d",
        value_parser = crate::delivery::settings::parse_duration,
        global = true
    )]
    pub sync_record_retention: Duration,

    /// HubSpot authorize page base URL.
    #[arg(
        long = "hubspot-authorize-base",
        env = "TURRIS_HUBSPOT_AUTHORIZE_BASE",
        default_value = "https://app.hubspot.com",
        global = true
    )]
    pub authorize_base: String,

    /// A single-tenant deployment's private app, connected at start-up.
    #[command(flatten)]
    pub private_app: PrivateAppEnv,
}

impl fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("app_id", &self.app_id)
            .field(
                "developer_api_key",
                &self.developer_api_key.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_url", &self.redirect_url)
            .field("private_app", &self.private_app)
            .field("api_base", &self.api_base)
            .field("api_version", &self.api_version)
            .field("journal_poll", &self.journal_poll)
            .field("poll_interval", &self.poll_interval)
            .field("authorize_base", &self.authorize_base)
            .finish()
    }
}
