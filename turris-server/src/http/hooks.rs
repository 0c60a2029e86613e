//! `POST /hooks/hubspot`: HubSpot's inbound webhooks.
//!
//! The batch is checked (signature v3 with the app's client secret, or for a private app's
//! batch with that app's own client secret stored on its connection; at most five minutes old),
//! parsed, routed to organizations by `portalId` and persisted with deduplication before the
//! answer: HubSpot retries anything that is not a 2xx within 5 s, so the handler does no HubSpot
//! call and no sync work; the inbound worker ([`crate::sync`]) does that afterwards. Events of
//! portals no organization is connected to are logged and dropped.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use chrono::Utc;
use turris_hubspot::webhooks::WebhookEvent;
use turris_hubspot::webhooks::events::parse_events;
use turris_hubspot::webhooks::signature::{
    SIGNATURE_V3_HEADER, SignedRequest, TIMESTAMP_HEADER, verify_v3,
};

use super::Routes;
use crate::app::AppState;
use crate::crypto::SecretString;
use crate::error::{ApiError, ApiResult};

/// The path HubSpot posts to.
pub const HUBSPOT_HOOK_PATH: &str = "/hooks/hubspot";

/// The inbound webhook routes.
pub fn routes() -> Routes {
    Routes::new().post(HUBSPOT_HOOK_PATH, hubspot)
}

/// Receives a batch of HubSpot webhook events.
#[utoipa::path(post, path = "/hooks/hubspot", tag = "hooks",
    request_body(content = Vec<Object>, description = "HubSpot's event batch (at most 100 events), signed with `X-HubSpot-Signature-v3`"),
    responses(
        (status = 204, description = "Persisted (or dropped: unknown portal); processed in the background"),
        (status = 400, description = "Not a batch of HubSpot events", body = crate::error::ErrorBody),
        (status = 401, description = "Missing, stale or wrong signature; nothing stored", body = crate::error::ErrorBody)))]
pub async fn hubspot(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    verify(&state, &method, &uri, &headers, &body).await?;
    let events = parse_events(&body).map_err(|e| {
        tracing::warn!(error = %e, "hubspot webhook body refused");
        ApiError::bad_request("the body is not a batch of HubSpot webhook events")
    })?;
    let received_at = Utc::now();
    let mut by_portal: BTreeMap<u64, Vec<WebhookEvent>> = BTreeMap::new();
    for event in events {
        by_portal.entry(event.portal_id).or_default().push(event);
    }
    for (portal_id, events) in by_portal {
        let Some(org) = state.db().organization_by_portal(portal_id).await? else {
            tracing::warn!(
                portal_id,
                events = events.len(),
                "hubspot webhook events of an unknown portal dropped"
            );
            continue;
        };
        let batch = state
            .db()
            .persist_inbound_events(&org, &events, received_at)
            .await?;
        // Accepted either way: a failed status update only delays `live` to the next event.
        if let Err(e) = crate::sync::subscriptions::note_events_seen(&state, &org, &events).await {
            tracing::warn!(org = %org, error = %e, "webhook status not updated");
        }
        tracing::info!(
            org = %org,
            portal_id,
            stored = batch.stored,
            duplicates = batch.duplicates,
            "hubspot webhook events persisted"
        );
    }
    crate::sync::inbound::wake(&state);
    Ok(StatusCode::NO_CONTENT)
}

/// Checks the v3 signature: with the server's app secret (an OAuth or project app, any portal),
/// else, for a batch of one portal, with the client secret of that portal's private app. A
/// private app signs only its own portal's events, so its secret never admits another's.
async fn verify(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<()> {
    let unauthorized = |why: &str| {
        tracing::warn!(reason = why, "hubspot webhook refused");
        ApiError::unauthorized()
    };
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header_text(SIGNATURE_V3_HEADER),
        header_text(TIMESTAMP_HEADER),
    ) else {
        return Err(unauthorized("missing v3 signature headers"));
    };
    let signed = Signed {
        method: method.as_str(),
        uris: signed_uris(state, uri, header_text(header::HOST.as_str())),
        body,
        signature,
        timestamp,
    };
    let mut last = "no hubspot client secret configured".to_owned();
    if let Some(secret) = state.config().hubspot.client_secret.as_deref() {
        match signed.check(secret) {
            Ok(()) => return Ok(()),
            Err(reason) => last = reason,
        }
    }
    if let Some(secret) = private_app_secret(state, body).await? {
        match signed.check(secret.expose()) {
            Ok(()) => return Ok(()),
            Err(reason) => last = reason,
        }
    }
    Err(unauthorized(&last))
}

/// The client secret of the private app whose portal sent `body`, when the batch names exactly
/// one portal and that portal's connection stored one.
async fn private_app_secret(state: &AppState, body: &[u8]) -> ApiResult<Option<SecretString>> {
    let Ok(events) = parse_events(body) else {
        return Ok(None);
    };
    let mut portals = events.iter().map(|e| e.portal_id);
    let Some(portal) = portals.next() else {
        return Ok(None);
    };
    if portals.any(|p| p != portal) {
        return Ok(None);
    }
    let Some(org) = state.db().organization_by_portal(portal).await? else {
        return Ok(None);
    };
    Ok(state
        .db()
        .hubspot_credentials(&org)
        .await?
        .and_then(|c| c.auth.webhook_secret().cloned()))
}

/// HubSpot signs the full URI it posted to; behind a proxy that is the public base URL, locally
/// the `Host` the request came to, so each is tried (the secret is what makes the check hold,
/// not the URI).
fn signed_uris(state: &AppState, uri: &Uri, host: Option<&str>) -> Vec<String> {
    let path_and_query = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let mut candidates = vec![format!(
        "{}{path_and_query}",
        state.config().public_base_url.trim_end_matches('/')
    )];
    if let Some(host) = host {
        candidates.push(format!("https://{host}{path_and_query}"));
        candidates.push(format!("http://{host}{path_and_query}"));
    }
    candidates
}

/// One signed request, with every URI it may have been signed for.
struct Signed<'a> {
    method: &'a str,
    uris: Vec<String>,
    body: &'a [u8],
    signature: &'a str,
    timestamp: &'a str,
}

impl Signed<'_> {
    /// `Ok` when `secret` signed the request for one of its URIs; else why not.
    fn check(&self, secret: &str) -> Result<(), String> {
        let now_ms = Utc::now().timestamp_millis();
        let mut last = String::new();
        for uri in &self.uris {
            let request = SignedRequest {
                method: self.method,
                uri,
                body: self.body,
                signature: self.signature,
                timestamp: self.timestamp,
            };
            match verify_v3(secret, &request, now_ms) {
                Ok(()) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
        }
        Err(last)
    }
}
