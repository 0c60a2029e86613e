//! The permission matrix, exhaustively: every role × every endpoint, from one table that must
//! cover the router's route table. Plus 401 without a token and the 402 premium gate.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::json;

use crate::support::app::TestApp;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No token needed.
    Public,
    /// The bootstrap admin token.
    Admin,
    /// The metrics token.
    Metrics,
    /// A grant of the matrix (premium area).
    Grant(&'static str),
    /// No bearer token: HubSpot's webhook signature (401 without it; see the sync suite).
    HubSpotSigned,
}

use Access::*;

const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/healthz", Public),
    ("GET", "/readyz", Public),
    ("GET", "/metrics", Metrics),
    ("GET", "/api/v1/openapi.json", Public),
    ("GET", "/api/v1/integrations/hubspot/callback", Public),
    ("POST", "/hooks/hubspot", HubSpotSigned),
    ("GET", "/api/v1/admin/organizations", Admin),
    ("POST", "/api/v1/admin/organizations", Admin),
    ("GET", "/api/v1/admin/organizations/{org}", Admin),
    (
        "PUT",
        "/api/v1/admin/organizations/{org}/subscription",
        Admin,
    ),
    ("GET", "/api/v1/admin/organizations/{org}/roles", Admin),
    ("POST", "/api/v1/admin/organizations/{org}/roles", Admin),
    ("GET", "/api/v1/admin/organizations/{org}/users", Admin),
    ("POST", "/api/v1/admin/organizations/{org}/users", Admin),
    ("GET", "/api/v1/admin/organizations/{org}/tokens", Admin),
    ("POST", "/api/v1/admin/organizations/{org}/tokens", Admin),
    (
        "DELETE",
        "/api/v1/admin/organizations/{org}/tokens/{token_id}",
        Admin,
    ),
    ("GET", "/api/v1/integrations", Grant("integrations:read")),
    (
        "GET",
        "/api/v1/integrations/hubspot",
        Grant("integrations:read"),
    ),
    (
        "DELETE",
        "/api/v1/integrations/hubspot",
        Grant("integrations:delete"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/connect",
        Grant("integrations:create"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/private-app",
        Grant("integrations:create"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/reconnect",
        Grant("integrations:update"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/private-app/reconnect",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/properties",
        Grant("integrations:read"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/mapping",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/mapping",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/sync",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/sync",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/inbound-mode",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/inbound-mode",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/invitations",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/invitations",
        Grant("integrations:update"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/invitations/{id}/contract",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/activity",
        Grant("integrations:read"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/webhook-status",
        Grant("integrations:read"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/tags",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/tags",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/notes",
        Grant("integrations:read"),
    ),
    (
        "PUT",
        "/api/v1/integrations/hubspot/notes",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/sync-records",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/sync-records.csv",
        Grant("integrations:update"),
    ),
    (
        "POST",
        "/api/v1/integrations/hubspot/reconciliations",
        Grant("integrations:update"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/reconciliations",
        Grant("integrations:read"),
    ),
    (
        "GET",
        "/api/v1/integrations/hubspot/reconciliations/{id}",
        Grant("integrations:read"),
    ),
    ("GET", "/api/v1/webhooks", Grant("webhooks:read")),
    ("POST", "/api/v1/webhooks", Grant("webhooks:create")),
    ("GET", "/api/v1/webhooks/{id}", Grant("webhooks:read")),
    ("DELETE", "/api/v1/webhooks/{id}", Grant("webhooks:delete")),
    (
        "POST",
        "/api/v1/webhooks/{id}/rotate-secret",
        Grant("webhooks:update"),
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/enable",
        Grant("webhooks:update"),
    ),
    (
        "PUT",
        "/api/v1/webhooks/{id}/limits",
        Grant("webhooks:update"),
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/recover",
        Grant("webhooks:update"),
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/recover/{job_id}",
        Grant("webhooks:read"),
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/notifications",
        Grant("webhooks:read"),
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/events",
        Grant("webhooks:read"),
    ),
    (
        "GET",
        "/api/v1/webhooks/{id}/events/{event_id}/logs",
        Grant("webhooks:read"),
    ),
    (
        "POST",
        "/api/v1/webhooks/{id}/events/{event_id}/resend",
        Grant("webhooks:update"),
    ),
    ("GET", "/api/v1/agencies", Grant("records:read")),
    ("POST", "/api/v1/agencies", Grant("records:create")),
    ("GET", "/api/v1/agencies/{id}", Grant("records:read")),
    ("PUT", "/api/v1/agencies/{id}", Grant("records:update")),
    (
        "GET",
        "/api/v1/agencies/{id}/contacts",
        Grant("records:read"),
    ),
    (
        "POST",
        "/api/v1/agencies/{id}/contacts",
        Grant("records:create"),
    ),
    ("GET", "/api/v1/agency-contacts/{id}", Grant("records:read")),
    (
        "PUT",
        "/api/v1/agency-contacts/{id}",
        Grant("records:update"),
    ),
    ("GET", "/api/v1/agents", Grant("records:read")),
    ("POST", "/api/v1/agents", Grant("records:create")),
    ("GET", "/api/v1/agents/{id}", Grant("records:read")),
    ("PUT", "/api/v1/agents/{id}", Grant("records:update")),
    ("GET", "/api/v1/contract-templates", Grant("records:read")),
    (
        "POST",
        "/api/v1/contract-templates",
        Grant("records:create"),
    ),
    (
        "GET",
        "/api/v1/contract-templates/{id}",
        Grant("records:read"),
    ),
    ("GET", "/api/v1/invitations", Grant("records:read")),
    ("GET", "/api/v1/invitations/{id}", Grant("records:read")),
    (
        "POST",
        "/api/v1/compliance-statuses",
        Grant("records:create"),
    ),
    ("GET", "/api/v1/compliance-statuses", Grant("records:read")),
    ("POST", "/api/v1/nipr-syncs", Grant("records:create")),
    ("GET", "/api/v1/nipr-syncs", Grant("records:read")),
    (
        "POST",
        "/api/v1/producer-agreements",
        Grant("records:create"),
    ),
    ("GET", "/api/v1/producer-agreements", Grant("records:read")),
    (
        "GET",
        "/api/v1/producer-agreements/{id}",
        Grant("records:read"),
    ),
    ("GET", "/api/v1/support-tickets", Grant("records:read")),
    ("POST", "/api/v1/support-tickets", Grant("records:create")),
    ("GET", "/api/v1/support-tickets/{id}", Grant("records:read")),
    (
        "PUT",
        "/api/v1/support-tickets/{id}",
        Grant("records:update"),
    ),
];

const GRANTS: [&str; 12] = [
    "integrations:read",
    "integrations:create",
    "integrations:update",
    "integrations:delete",
    "webhooks:read",
    "webhooks:create",
    "webhooks:update",
    "webhooks:delete",
    "records:read",
    "records:create",
    "records:update",
    "records:delete",
];

fn concrete(path: &str, org: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    path.replace("{org}", org)
        .replace("{id}", &id)
        .replace("{event_id}", &id)
        .replace("{token_id}", &id)
}

fn method(m: &str) -> Method {
    m.parse().unwrap()
}

async fn call(
    app: &TestApp,
    m: &str,
    path: &str,
    token: Option<&str>,
) -> crate::support::app::Answer {
    let body = (m == "POST" || m == "PUT").then(|| json!({}));
    app.call(method(m), &concrete(path, &app.org), token, body)
        .await
}

#[test]
fn the_permission_table_covers_every_route_of_the_router() {
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table.len(), ROUTES.len(), "no duplicates");
    let routed: BTreeSet<(String, String)> = turris_server::http::route_table()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    assert_eq!(table, routed);
}

api_test!(
    async fn every_role_gets_exactly_the_endpoints_its_grants_allow(app) {
        // No grant, every single grant, and all of them (the admin role made by spawn).
        let mut roles: Vec<(Vec<&str>, String)> = vec![(GRANTS.to_vec(), app.token.clone())];
        roles.push((vec![], app.token_with(&app.org, "nothing", &[]).await));
        for grant in GRANTS {
            let token = app
                .token_with(&app.org, &format!("only-{grant}"), &[grant.to_owned()])
                .await;
            roles.push((vec![grant], token));
        }
        let mut checked = 0;
        for (grants, token) in &roles {
            for &(m, path, access) in ROUTES {
                let answer = call(app, m, path, Some(token)).await;
                let status = answer.status.as_u16();
                let allowed = match access {
                    Public | Admin | Metrics | HubSpotSigned => continue,
                    Grant(g) => grants.contains(&g),
                };
                if allowed {
                    assert!(
                        ![401, 402, 403].contains(&status),
                        "{grants:?} may {m} {path}, got {status}: {}",
                        answer.text
                    );
                } else {
                    assert_eq!(status, 403, "{grants:?} may not {m} {path}: {}", answer.text);
                    assert_eq!(answer.body["code"], "forbidden");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, roles.len() * ROUTES.iter().filter(|r| matches!(r.2, Grant(_))).count());
    }
);

api_test!(
    async fn every_protected_endpoint_is_a_401_without_or_with_a_bad_token(app) {
        for &(m, path, access) in ROUTES {
            if access == Public {
                let answer = call(app, m, path, None).await;
                assert_ne!(answer.status.as_u16(), 401, "{m} {path} is public");
                continue;
            }
            for token in [None, Some("trs_not-a-token"), Some("")] {
                call(app, m, path, token)
                    .await
                    .expect_error(401, "unauthorized");
            }
        }
    }
);

api_test!(
    async fn an_organization_without_a_subscription_gets_402_on_every_premium_area(app) {
        let token = app.organization("lapsed", false).await;
        for &(m, path, access) in ROUTES {
            let answer = call(app, m, path, Some(&token)).await;
            match access {
                Grant(_) => {
                    let answer = answer.expect_error(402, "subscription_required");
                    assert!(answer.body["message"].as_str().unwrap().contains("Become a Customer"));
                }
                Public | Admin | Metrics | HubSpotSigned => {}
            }
        }
        // Activating the subscription lifts the gate.
        app.admin(Method::PUT, "/api/v1/admin/organizations/lapsed/subscription", Some(json!({"active": true})))
            .await
            .expect(200);
        app.call(Method::GET, "/api/v1/webhooks", Some(&token), None).await.expect(200);
    }
);
