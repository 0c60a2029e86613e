//! The files of a HubSpot developer project (platform 2026.03) that declares the app an
//! integration needs: `hsproject.json`, `src/app/app-hsmeta.json` and
//! `src/app/webhooks/webhooks-hsmeta.json`.
//!
//! Since 2026 a HubSpot customer creates apps as projects with the HubSpot CLI (`hs project
//! create`, `hs project upload`); webhook subscriptions are declared in the project and there
//! is no API to change them afterwards. So the integration prints what the operator must
//! declare: the auth type (`oauth` for many accounts, `static` for one), the redirect URL, the
//! scopes, the webhook target and one subscription per event the mapping needs.
//!
//! ```
//! use turris_hubspot::project::{ProjectAuth, ProjectSpec, WebhookSubscription};
//!
//! let spec = ProjectSpec {
//!     name: "Turris sync".into(),
//!     auth: ProjectAuth::OAuth { redirect_url: "https://turris.example/cb".into() },
//!     required_scopes: vec!["oauth".into(), "crm.objects.companies.read".into()],
//!     optional_scopes: vec![],
//!     webhook_target: Some("https://turris.example/hooks/hubspot".into()),
//!     subscriptions: vec![WebhookSubscription::property_change("company", "name")],
//! };
//! let files = spec.files();
//! assert_eq!(files[1].0, "src/app/app-hsmeta.json");
//! assert_eq!(files[1].1["config"]["auth"]["type"], "oauth");
//! assert_eq!(files[2].1["config"]["subscriptions"]["crmObjects"][0]["propertyName"], "name");
//! ```

use serde_json::{Value, json};

/// The platform version the files are written for.
pub const PLATFORM_VERSION: &str = "2026.03";

/// How the app authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectAuth {
    /// OAuth: installable in many accounts; HubSpot sends users back to `redirect_url`.
    OAuth {
        /// The integration's OAuth callback.
        redirect_url: String,
    },
    /// A static token shown on the app's Auth tab, for the one account it is installed in.
    Static,
}

/// One webhook subscription of the project (`crmObjects`, the generic `object.*` form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    /// `object.creation`, `object.propertyChange`, `object.deletion`, `object.merge`,
    /// `object.associationChange`, `object.restore`.
    pub subscription_type: String,
    /// `contact`, `company`, ...
    pub object_type: String,
    /// The property of an `object.propertyChange`.
    pub property_name: Option<String>,
}

impl WebhookSubscription {
    /// `object.{action}` of `object_type` (`creation`, `deletion`, `merge`, ...).
    pub fn object(object_type: &str, action: &str) -> Self {
        WebhookSubscription {
            subscription_type: format!("object.{action}"),
            object_type: object_type.to_owned(),
            property_name: None,
        }
    }

    /// `object.propertyChange` of one property.
    pub fn property_change(object_type: &str, property: &str) -> Self {
        WebhookSubscription {
            property_name: Some(property.to_owned()),
            ..Self::object(object_type, "propertyChange")
        }
    }
}

/// What the project declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectSpec {
    /// The app's name, shown on HubSpot's consent screen.
    pub name: String,
    /// OAuth or static auth.
    pub auth: ProjectAuth,
    /// Scopes the app cannot work without.
    pub required_scopes: Vec<String>,
    /// Scopes used when granted (lists, ...).
    pub optional_scopes: Vec<String>,
    /// Where HubSpot posts webhooks; `None` for no webhooks (the journal or polling).
    pub webhook_target: Option<String>,
    /// The events to receive.
    pub subscriptions: Vec<WebhookSubscription>,
}

fn uid(name: &str) -> String {
    let uid: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    uid.trim_matches('_').to_owned()
}

impl ProjectSpec {
    /// The project's files: `(path inside the project, JSON)`.
    pub fn files(&self) -> Vec<(&'static str, Value)> {
        let mut files = vec![
            (
                "hsproject.json",
                json!({"name": self.name, "srcDir": "src", "platformVersion": PLATFORM_VERSION}),
            ),
            ("src/app/app-hsmeta.json", self.app()),
        ];
        if let Some(target) = &self.webhook_target {
            files.push((
                "src/app/webhooks/webhooks-hsmeta.json",
                self.webhooks(target),
            ));
        }
        files
    }

    fn app(&self) -> Value {
        let mut auth = json!({
            "requiredScopes": self.required_scopes,
            "optionalScopes": self.optional_scopes,
            "conditionallyRequiredScopes": [],
        });
        match &self.auth {
            ProjectAuth::OAuth { redirect_url } => {
                auth["type"] = json!("oauth");
                auth["redirectUrls"] = json!([redirect_url]);
            }
            ProjectAuth::Static => auth["type"] = json!("static"),
        }
        json!({
            "uid": uid(&self.name),
            "type": "app",
            "config": {
                "name": self.name,
                "description": "Keeps HubSpot companies and contacts in sync with Turris.",
                "distribution": "private",
                "auth": auth,
                "permittedUrls": {"fetch": ["https://api.hubapi.com"], "iframe": [], "img": []},
            },
        })
    }

    fn webhooks(&self, target: &str) -> Value {
        let subscriptions: Vec<Value> = self
            .subscriptions
            .iter()
            .map(|s| {
                let mut v = json!({
                    "subscriptionType": s.subscription_type,
                    "objectType": s.object_type,
                    "active": true,
                });
                if let Some(p) = &s.property_name {
                    v["propertyName"] = json!(p);
                }
                v
            })
            .collect();
        json!({
            "uid": "webhooks",
            "type": "webhooks",
            "config": {
                "settings": {"targetUrl": target, "maxConcurrentRequests": 10},
                "subscriptions": {"crmObjects": subscriptions},
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_static_app_without_webhooks_has_no_redirect_and_no_webhooks_file() {
        let spec = ProjectSpec {
            name: "Turris: Acme!".into(),
            auth: ProjectAuth::Static,
            required_scopes: vec!["crm.objects.contacts.read".into()],
            optional_scopes: vec![],
            webhook_target: None,
            subscriptions: vec![],
        };
        let files = spec.files();
        assert_eq!(files.len(), 2);
        let app = &files[1].1;
        assert_eq!(app["uid"], "turris__acme");
        assert_eq!(app["config"]["auth"]["type"], "static");
        assert!(app["config"]["auth"].get("redirectUrls").is_none());
        assert_eq!(files[0].1["platformVersion"], PLATFORM_VERSION);
    }

    #[test]
    fn subscriptions_name_their_object_and_property() {
        let spec = ProjectSpec {
            name: "t".into(),
            auth: ProjectAuth::OAuth {
                redirect_url: "https://x/cb".into(),
            },
            required_scopes: vec![],
            optional_scopes: vec!["crm.lists.read".into()],
            webhook_target: Some("https://x/hooks/hubspot".into()),
            subscriptions: vec![
                WebhookSubscription::object("company", "creation"),
                WebhookSubscription::property_change("contact", "email"),
            ],
        };
        let files = spec.files();
        let hooks = &files[2].1["config"];
        assert_eq!(hooks["settings"]["targetUrl"], "https://x/hooks/hubspot");
        let subs = hooks["subscriptions"]["crmObjects"].as_array().unwrap();
        assert_eq!(subs[0]["subscriptionType"], "object.creation");
        assert!(subs[0].get("propertyName").is_none());
        assert_eq!(subs[1]["objectType"], "contact");
        assert_eq!(subs[1]["propertyName"], "email");
        assert_eq!(
            files[1].1["config"]["auth"]["redirectUrls"][0],
            "https://x/cb"
        );
    }
}
