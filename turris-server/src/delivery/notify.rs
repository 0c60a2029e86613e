//! The operational webhook: a JSON `POST` to an operator's URL
//! (`TURRIS_OPERATIONAL_WEBHOOK_URL`) when an endpoint is disabled, signed like every Turris
//! webhook when `TURRIS_OPERATIONAL_WEBHOOK_SECRET` is set. Best effort: the notification row
//! written with the change is the durable record; a failed `POST` is logged, not retried.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::json;
use turris_webhooks::{SignedHeaders, WebhookSecret};

use super::DeliverySettings;
use crate::store::DisabledEndpoint;

/// Where disabled endpoints are reported.
#[derive(Clone)]
pub struct OperationalWebhook {
    client: reqwest::Client,
    url: String,
    secret: Option<WebhookSecret>,
}

impl std::fmt::Debug for OperationalWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationalWebhook").finish_non_exhaustive()
    }
}

impl OperationalWebhook {
    /// The configured operational webhook, if any.
    pub fn from_settings(settings: &DeliverySettings) -> Option<Self> {
        let url = settings.operational_webhook_url.clone()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .ok()?;
        Some(Self {
            client,
            url,
            secret: settings.operational_webhook_secret.clone(),
        })
    }

    /// Posts `{"type": "webhook.disabled", ...}`; logs a failure.
    pub async fn endpoint_disabled(&self, disabled: &DisabledEndpoint) {
        let body = json!({
            "type": "webhook.disabled",
            "organizationId": disabled.organization.as_str(),
            "webhookId": disabled.webhook_id,
            "url": disabled.url,
            "reason": disabled.reason.as_str(),
            "disabledAt": disabled.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
        .to_string();
        let mut request = self
            .client
            .post(&self.url)
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(secret) = &self.secret {
            let id = format!(
                "disabled-{}-{}",
                disabled.webhook_id,
                disabled.at.timestamp()
            );
            let signed = SignedHeaders::new(secret, &id, Utc::now().timestamp(), body.as_bytes());
            for (name, value) in signed.pairs() {
                request = request.header(name, value);
            }
        }
        match request.body(body).send().await {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => tracing::warn!(
                webhook_id = %disabled.webhook_id,
                status = answer.status().as_u16(),
                "the operational webhook refused a notification"
            ),
            Err(e) => tracing::warn!(
                webhook_id = %disabled.webhook_id,
                error = %e.without_url(),
                "the operational webhook could not be reached"
            ),
        }
    }
}

/// Logs each disabled endpoint and reports it to the operational webhook, in the background.
pub fn report_disabled(settings: &DeliverySettings, disabled: Vec<DisabledEndpoint>) {
    if disabled.is_empty() {
        return;
    }
    for d in &disabled {
        tracing::warn!(
            webhook_id = %d.webhook_id,
            organization = %d.organization.as_str(),
            reason = d.reason.as_str(),
            "webhook endpoint disabled"
        );
    }
    if let Some(hook) = OperationalWebhook::from_settings(settings) {
        tokio::spawn(async move {
            for d in &disabled {
                hook.endpoint_disabled(d).await;
            }
        });
    }
}
