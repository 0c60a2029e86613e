//! A single-tenant deployment's HubSpot private app, from the environment (seed 002's
//! `HUBSPOT_PORTAL_ID` and `HUBSPOT_API_KEY` are read too, when the `TURRIS_` names are unset).

use std::fmt;

use clap::Args;
use turris_core::ids::OrganizationId;

use super::ConfigError;
use crate::crypto::SecretString;

/// The private app one organization connects with at start-up.
#[derive(Clone, Default, Args)]
pub struct PrivateAppEnv {
    /// Portal (hub) id of the private app a single-tenant deployment connects at start-up
    /// (also read from `HUBSPOT_PORTAL_ID`).
    #[arg(
        long = "hubspot-portal-id",
        env = "TURRIS_HUBSPOT_PORTAL_ID",
        global = true
    )]
    pub portal_id: Option<String>,

    /// That private app's access token (also read from `HUBSPOT_API_KEY`).
    #[arg(
        long = "hubspot-private-app-token",
        env = "TURRIS_HUBSPOT_PRIVATE_APP_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,

    /// That private app's client secret, which signs its webhooks (optional).
    #[arg(
        long = "hubspot-private-app-secret",
        env = "TURRIS_HUBSPOT_PRIVATE_APP_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub webhook_secret: Option<String>,

    /// The organization it connects; may be left out when exactly one organization exists, and
    /// is created when it does not exist yet.
    #[arg(
        long = "hubspot-organization",
        env = "TURRIS_HUBSPOT_ORGANIZATION",
        global = true
    )]
    pub organization: Option<String>,
}

/// [`PrivateAppEnv`] checked: what to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPrivateApp {
    /// The portal.
    pub portal_id: u64,
    /// The access token.
    pub token: SecretString,
    /// The client secret of its webhooks.
    pub webhook_secret: Option<SecretString>,
    /// The organization; `None`: the only one there is.
    pub organization: Option<OrganizationId>,
}

impl PrivateAppEnv {
    /// The private app to connect, or `None` when none is configured. `fallback` reads the
    /// seed's variable names (`HUBSPOT_PORTAL_ID`, `HUBSPOT_API_KEY`) for values left unset.
    pub fn resolve(
        &self,
        fallback: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<EnvPrivateApp>, ConfigError> {
        let set = |v: &Option<String>, name: &str| {
            v.clone()
                .or_else(|| fallback(name))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let portal = set(&self.portal_id, "HUBSPOT_PORTAL_ID");
        let token = set(&self.token, "HUBSPOT_API_KEY");
        let (portal, token) = match (portal, token) {
            (None, None) => return Ok(None),
            (Some(portal), Some(token)) => (portal, token),
            (Some(_), None) => {
                return Err(ConfigError::Invalid(
                    "TURRIS_HUBSPOT_PORTAL_ID is set without a token: set TURRIS_HUBSPOT_PRIVATE_APP_TOKEN (or HUBSPOT_API_KEY) too".to_owned(),
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "a private-app token is set without its portal: set TURRIS_HUBSPOT_PORTAL_ID (or HUBSPOT_PORTAL_ID) too".to_owned(),
                ));
            }
        };
        let portal_id = portal.parse::<u64>().map_err(|_| {
            ConfigError::Invalid(format!(
                "TURRIS_HUBSPOT_PORTAL_ID must be the portal's number, not {portal:?}"
            ))
        })?;
        let own = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let organization =
            match own(&self.organization) {
                Some(id) => Some(OrganizationId::parse(&id).map_err(|e| {
                    ConfigError::Invalid(format!("TURRIS_HUBSPOT_ORGANIZATION: {e}"))
                })?),
                None => None,
            };
        Ok(Some(EnvPrivateApp {
            portal_id,
            token: SecretString::new(token),
            webhook_secret: own(&self.webhook_secret).map(SecretString::new),
            organization,
        }))
    }
}

impl fmt::Debug for PrivateAppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateAppEnv")
            .field("portal_id", &self.portal_id)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("organization", &self.organization)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn nothing_set_is_no_private_app_and_half_a_pair_is_a_clear_error() {
        assert_eq!(PrivateAppEnv::default().resolve(none).unwrap(), None);
        let portal_only = PrivateAppEnv {
            portal_id: Some("123".into()),
            ..PrivateAppEnv::default()
        };
        let e = portal_only.resolve(none).unwrap_err().to_string();
        assert!(e.contains("TURRIS_HUBSPOT_PRIVATE_APP_TOKEN"), "{e}");
        let wrong = PrivateAppEnv {
            portal_id: Some("hub-1".into()),
            token: Some("pat".into()),
            ..PrivateAppEnv::default()
        };
        assert!(
            wrong
                .resolve(none)
                .unwrap_err()
                .to_string()
                .contains("number")
        );
    }

    #[test]
    fn the_seeds_variable_names_fill_in_what_the_turris_names_leave_unset() {
        let seed = |name: &str| match name {
            "HUBSPOT_PORTAL_ID" => Some("4242".to_owned()),
            "HUBSPOT_API_KEY" => Some("pat-from-seed".to_owned()),
            _ => None,
        };
        let app = PrivateAppEnv::default().resolve(seed).unwrap().unwrap();
        assert_eq!(app.portal_id, 4242);
        assert_eq!(app.token.expose(), "pat-from-seed");
        let own = PrivateAppEnv {
            token: Some("pat-own".into()),
            ..PrivateAppEnv::default()
        };
        let app = own.resolve(seed).unwrap().unwrap();
        assert_eq!(app.token.expose(), "pat-own", "the TURRIS_ name wins");
    }

    #[test]
    fn its_debug_output_redacts_the_token_and_the_secret() {
        let env = PrivateAppEnv {
            portal_id: Some("1".into()),
            token: Some("pat-secret-token".into()),
            webhook_secret: Some("client-secret".into()),
            organization: None,
        };
        let debug = format!("{env:?}");
        assert!(!debug.contains("pat-secret-token") && !debug.contains("client-secret"));
    }
}
