//! Contract tests: every call of the turris-hubspot client works against the sandbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use turris_hubspot::auth::{
    DiscardTokens, OAuthClient, OAuthConfig, PrivateAppToken, Secret, TokenManager,
};
use turris_hubspot::crm::ObjectType;
use turris_hubspot::crm::associations::{AssociationPair, CONTACT_TO_COMPANY};
use turris_hubspot::crm::batch::{BatchUpdateInput, TracedCreateInput, UpsertInput};
use turris_hubspot::crm::notes::NewNote;
use turris_hubspot::crm::properties::NewProperty;
use turris_hubspot::crm::search::{Filter, FilterGroup, FilterOperator, SearchRequest};
use turris_hubspot::crm::{SimplePublicObjectInput, SimplePublicObjectInputForCreate};
use turris_hubspot::webhooks::events::parse_events;
use turris_hubspot::webhooks::signature::{
    SignatureVersion, SignedRequest, verify_any_version, verify_v3,
};
use turris_hubspot::webhooks::subscriptions::{
    SubscriptionBatchUpdateRequest, SubscriptionCreateRequest, Subscriptions,
};
use turris_hubspot::{ApiVersion, Error, HubSpotClient, RateLimitConfig, RateLimiter, RetryConfig};
use turris_hubspot_sandbox::{ObjectKind, RateLimits, Sandbox};

use crate::helpers::{Receiver, builder, company, contact};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

fn fast_retry() -> RetryConfig {
    let mut retry = RetryConfig::default();
    retry.max_attempts = 4;
    retry.base_delay = Duration::from_millis(10);
    retry.max_delay = Duration::from_millis(50);
    retry
}

fn private_client(sb: &Sandbox) -> HubSpotClient {
    versioned_client(sb, ApiVersion::default())
}

fn versioned_client(sb: &Sandbox, version: ApiVersion) -> HubSpotClient {
    HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(
        sb.private_app_token(),
    ))))
    .api_version(version)
    .api_base(sb.base_url())
    .portal(sb.portal_id())
    .retry(fast_retry())
    .build()
    .expect("client")
}

fn oauth_client(sb: &Sandbox) -> OAuthClient {
    versioned_oauth(sb, ApiVersion::default())
}

fn versioned_oauth(sb: &Sandbox, version: ApiVersion) -> OAuthClient {
    let mut config = OAuthConfig::new(sb.client_id(), Secret::new(sb.client_secret()), REDIRECT);
    config.api_base = sb.base_url().to_string();
    config.authorize_base = sb.base_url().to_string();
    OAuthClient::new(config.with_api_version(version)).expect("oauth client")
}

/// The two path styles every call is checked on: the numbered APIs and 2026-03.
const STYLES: [ApiVersion; 2] = [
    ApiVersion::Legacy,
    ApiVersion::Dated {
        year: 2026,
        month: 3,
    },
];

/// Every API call the sandbox counted was made with `version`.
fn assert_spoke_only(sb: &Sandbox, version: ApiVersion) {
    let versions = sb.control().stats().versions;
    let spoken: Vec<&String> = versions.keys().collect();
    assert_eq!(
        spoken,
        [&version.to_string()],
        "calls per version: {versions:?}"
    );
}

/// Follows the authorize URL the client builds and answers the `code` of the redirect.
async fn authorize(oauth: &OAuthClient, state: &str) -> String {
    let url = oauth.authorize_url(
        &["oauth", "crm.objects.contacts.read"],
        &["crm.lists.read"],
        state,
    );
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status().as_u16(), 302);
    let location =
        url::Url::parse(resp.headers()["location"].to_str().expect("ascii")).expect("url");
    let q: HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], state);
    q["code"].clone()
}

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

#[tokio::test]
async fn the_oauth_client_exchanges_introspects_refreshes_and_sees_an_uninstall() {
    for version in STYLES {
        oauth_round_trip(version).await;
    }
}

async fn oauth_round_trip(version: ApiVersion) {
    let sb = builder().start().await.expect("start");
    let oauth = versioned_oauth(&sb, version);
    let code = authorize(&oauth, "s-1").await;
    let tokens = oauth.exchange_code(&code).await.expect("exchange");
    assert!(tokens.expires_at > Utc::now() + chrono::Duration::minutes(29));
    let info = oauth
        .introspect(&tokens.access_token)
        .await
        .expect("introspect");
    assert!(info.active);
    assert_eq!(info.hub_id, Some(sb.portal_id()));
    assert_eq!(info.app_id, Some(sb.app_id()));
    let refreshed = oauth.refresh(&tokens.refresh_token).await.expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    oauth.revoke(&tokens.refresh_token).await.expect("revoke");
    match oauth.refresh(&tokens.refresh_token).await {
        Err(Error::RefreshTokenRevoked { .. }) => {}
        other => panic!("a revoked refresh token is dead, got {other:?}"),
    }
    sb.control().uninstall_app();
    match oauth.refresh(&refreshed.refresh_token).await {
        Err(Error::RefreshTokenRevoked { .. }) => {}
        other => panic!("expected RefreshTokenRevoked, got {other:?}"),
    }
    assert_spoke_only(&sb, version);
}

#[tokio::test]
async fn the_token_manager_refreshes_once_after_an_expired_authentication() {
    let sb = builder().start().await.expect("start");
    let oauth = oauth_client(&sb);
    let code = authorize(&oauth, "s-2").await;
    let tokens = oauth.exchange_code(&code).await.expect("exchange");
    let manager = Arc::new(TokenManager::new(oauth, tokens, Arc::new(DiscardTokens)));
    let client = HubSpotClient::builder(manager)
        .api_base(sb.base_url())
        .portal(sb.portal_id())
        .retry(fast_retry())
        .build()
        .expect("client");
    let before = sb.control().stats().calls_to("POST", "/oauth/v3/token");
    sb.control().expire_access_tokens();
    let details = client
        .account_details()
        .await
        .expect("details after a refresh");
    assert_eq!(details.portal_id, sb.portal_id());
    assert_eq!(
        sb.control().stats().calls_to("POST", "/oauth/v3/token"),
        before + 1
    );
    assert_eq!(sb.control().stats().statuses.get(&401), Some(&1));
}

#[tokio::test]
async fn every_crm_call_of_the_client_works_against_the_sandbox_on_both_path_styles() {
    for version in STYLES {
        every_crm_call(version).await;
    }
}

async fn every_crm_call(version: ApiVersion) {
    let sb = builder().start().await.expect("start");
    let client = versioned_client(&sb, version);
    let control = sb.control();

    let details = client.account_details().await.expect("account");
    assert_eq!(details.portal_id, sb.portal_id());

    let company_props = client
        .list_properties(&ObjectType::Companies)
        .await
        .expect("properties");
    assert!(
        company_props
            .iter()
            .any(|p| p.name == "name" && p.hubspot_defined)
    );
    let contact_props = client
        .list_properties(&ObjectType::Contacts)
        .await
        .expect("properties");
    assert!(contact_props.iter().any(|p| p.name == "email"));
    let owners = client.list_owners().await.expect("owners");
    assert_eq!(owners.len(), 1);
    assert!(owners[0].user_id.is_some());

    // A unique custom property, made once, keys upserts: a repeated upsert finds its record.
    let turris_id = NewProperty::unique_text("turris_id", "Turris id", "companyinformation");
    assert!(
        client
            .ensure_property(&ObjectType::Companies, &turris_id)
            .await
            .expect("create")
    );
    assert!(
        !client
            .ensure_property(&ObjectType::Companies, &turris_id)
            .await
            .expect("exists")
    );
    let keyed = [UpsertInput {
        id: "agency-1".into(),
        id_property: "turris_id".into(),
        properties: props(&[("name", "Keyed")]),
        object_write_trace_id: None,
    }];
    let first = client.batch_upsert(&ObjectType::Companies, &keyed).await;
    let again = client.batch_upsert(&ObjectType::Companies, &keyed).await;
    assert!(first.results[0].new && !again.results[0].new);
    assert_eq!(first.results[0].object.id, again.results[0].object.id);
    client
        .archive_object(&ObjectType::Companies, &first.results[0].object.id)
        .await
        .expect("archive the keyed company");

    // Single-object calls.
    let acme = client
        .create_object(
            &ObjectType::Companies,
            &SimplePublicObjectInputForCreate {
                properties: props(&[("name", "Acme"), ("state", "TX")]),
                associations: vec![],
            },
        )
        .await
        .expect("create");
    let read = client
        .get_object(&ObjectType::Companies, &acme.id, &["name", "state"])
        .await
        .expect("get");
    assert_eq!(read.property("state"), Some("TX"));
    let updated = client
        .update_object(
            &ObjectType::Companies,
            &acme.id,
            &SimplePublicObjectInput {
                properties: props(&[("state", "CA")]),
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.property("state"), Some("CA"));

    // Batch calls, chunked by 100.
    let inputs: Vec<SimplePublicObjectInputForCreate> = (0..150)
        .map(|i| SimplePublicObjectInputForCreate {
            properties: props(&[("email", &format!("c{i}@x.test")), ("firstname", "C")]),
            associations: vec![],
        })
        .collect();
    let created = client.batch_create(&ObjectType::Contacts, &inputs).await;
    assert!(created.is_complete_success(), "{:?}", created.errors);
    assert_eq!(created.results.len(), 150);
    let ids: Vec<String> = created.results.iter().map(|r| r.id.clone()).collect();
    let read = client
        .batch_read(&ObjectType::Contacts, &ids, &["email"], None)
        .await;
    assert_eq!(read.results.len(), 150);
    let by_email = client
        .batch_read(
            &ObjectType::Contacts,
            &["c3@x.test".to_string()],
            &["email"],
            Some("email"),
        )
        .await;
    assert_eq!(by_email.results[0].id, ids[3]);

    // A traced batch create: every record carries the trace id of the input that made it.
    let traced: Vec<TracedCreateInput> = (0..120)
        .map(|i| TracedCreateInput {
            input: SimplePublicObjectInputForCreate {
                properties: props(&[("email", &format!("t{i}@x.test"))]),
                associations: vec![],
            },
            object_write_trace_id: format!("key-{i}"),
        })
        .collect();
    let created = client
        .batch_create_traced(&ObjectType::Contacts, &traced)
        .await;
    assert!(created.is_complete_success(), "{:?}", created.errors);
    assert_eq!(created.results.len(), 120);
    for record in &created.results {
        let key = record.object_write_trace_id.as_deref().expect("a trace id");
        let i = key.strip_prefix("key-").expect("our key");
        assert_eq!(
            record.property("email"),
            Some(format!("t{i}@x.test").as_str())
        );
    }
    // Gone again, so the counts below are about the contacts above.
    let traced_ids: Vec<String> = created.results.iter().map(|r| r.id.clone()).collect();
    let archived = client
        .batch_archive(&ObjectType::Contacts, &traced_ids)
        .await;
    assert!(archived.is_complete_success());
    let updates: Vec<BatchUpdateInput> = ids[..120]
        .iter()
        .map(|id| BatchUpdateInput {
            id: id.clone(),
            id_property: None,
            properties: props(&[("lastname", "Updated")]),
        })
        .collect();
    let updated = client.batch_update(&ObjectType::Contacts, &updates).await;
    assert!(updated.is_complete_success());
    assert_eq!(updated.results.len(), 120);
    let upserts: Vec<UpsertInput> = ["c0@x.test", "new@x.test"]
        .iter()
        .map(|e| UpsertInput {
            id: (*e).to_string(),
            id_property: "email".into(),
            properties: props(&[("firstname", "U")]),
            object_write_trace_id: None,
        })
        .collect();
    let upserted = client.batch_upsert(&ObjectType::Contacts, &upserts).await;
    assert!(upserted.is_complete_success());
    let news: Vec<bool> = upserted.results.iter().map(|r| r.new).collect();
    assert_eq!(news, [false, true]);
    let missing = client
        .batch_read(
            &ObjectType::Contacts,
            &["424242".to_string()],
            &["email"],
            None,
        )
        .await;
    assert_eq!(missing.errors[0].ids(), ["424242".to_string()]);

    // Listing follows the cursor across pages.
    let all = client
        .list_objects(&ObjectType::Contacts, &["email"])
        .await
        .expect("list");
    assert_eq!(all.len(), 151);
    let page = client
        .list_objects_page(&ObjectType::Contacts, &["email"], 100, None)
        .await
        .expect("page");
    assert_eq!(page.results.len(), 100);
    assert!(page.next_after().is_some());

    // Search, one page and every page.
    let request = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::eq("lastname", "Updated")],
        }],
        properties: vec!["email".into()],
        limit: Some(50),
        ..SearchRequest::default()
    };
    let first = client
        .search_page(&ObjectType::Contacts, &request)
        .await
        .expect("search");
    assert_eq!(first.total, 120);
    assert_eq!(first.results.len(), 50);
    let every = client
        .search_all(&ObjectType::Contacts, &request)
        .await
        .expect("search all");
    assert_eq!(every.len(), 120);
    let above = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![
                Filter::new("hs_object_id", FilterOperator::Gt, ids[140].as_str()),
                Filter::has_property("email"),
            ],
        }],
        ..SearchRequest::default()
    };
    assert_eq!(
        client
            .search_all(&ObjectType::Contacts, &above)
            .await
            .expect("search")
            .len(),
        10
    );
    let one_of = SearchRequest {
        filter_groups: vec![FilterGroup {
            filters: vec![Filter::one_of(
                "email",
                vec!["c1@x.test".into(), "c2@x.test".into()],
            )],
        }],
        ..SearchRequest::default()
    };
    assert_eq!(
        client
            .search_page(&ObjectType::Contacts, &one_of)
            .await
            .expect("in")
            .total,
        2
    );

    // Associations v4.
    client
        .associate_contact_to_company(&ids[0], &acme.id)
        .await
        .expect("associate");
    client
        .associate_default(
            &ObjectType::Contacts,
            &ids[1],
            &ObjectType::Companies,
            &acme.id,
        )
        .await
        .expect("associate default");
    let pairs: Vec<AssociationPair> = ids[2..4]
        .iter()
        .map(|id| AssociationPair {
            from: id.clone().into(),
            to: acme.id.clone().into(),
        })
        .collect();
    client
        .batch_associate_default(&ObjectType::Contacts, &ObjectType::Companies, &pairs)
        .await
        .expect("batch associate");
    let linked = client
        .associations(&ObjectType::Companies, &acme.id, &ObjectType::Contacts)
        .await
        .expect("associations");
    assert_eq!(linked.len(), 4);
    let of_first = client
        .associations(&ObjectType::Contacts, &ids[0], &ObjectType::Companies)
        .await
        .expect("associations");
    assert!(
        of_first[0]
            .association_types
            .iter()
            .any(|t| t.type_id == CONTACT_TO_COMPANY)
    );

    // Notes, associated to a contact and a company.
    let note = client
        .create_note(&NewNote {
            body: "Agency synced from Turris".into(),
            timestamp: Utc::now(),
            contact_ids: vec![ids[0].clone()],
            company_ids: vec![acme.id.clone()],
        })
        .await
        .expect("note");
    assert_eq!(
        control.notes_of(ObjectKind::Contacts, &ids[0])[0].id,
        note.id
    );
    assert_eq!(control.notes_of(ObjectKind::Companies, &acme.id).len(), 1);

    // Lists.
    let list = client
        .create_static_list("Turris agents", &ObjectType::Contacts)
        .await
        .expect("list");
    let added = client
        .add_list_members(&list.list_id, &ids[..3])
        .await
        .expect("add");
    assert_eq!(added.record_ids_added.len(), 3);
    client
        .remove_list_members(&list.list_id, &ids[..1])
        .await
        .expect("remove");
    assert_eq!(control.list_members(&list.list_id), ids[1..3].to_vec());

    // Archive, one and many.
    client
        .archive_object(&ObjectType::Companies, &acme.id)
        .await
        .expect("archive");
    assert!(control.record(ObjectKind::Companies, &acme.id).is_none());
    let archived = client
        .batch_archive(&ObjectType::Contacts, &ids[..101])
        .await;
    assert!(archived.is_complete_success());
    assert_eq!(control.count(ObjectKind::Contacts), 50);
    assert_spoke_only(&sb, version);
}

#[tokio::test]
async fn from_2026_09_a_write_missing_a_required_property_is_a_validation_error_naming_it() {
    let sb = builder().start().await.expect("start");
    sb.control()
        .require_property(ObjectKind::Companies, "state");
    let create = |name: &str| SimplePublicObjectInputForCreate {
        properties: props(&[("name", name)]),
        associations: vec![],
    };
    // 2026-03 does not enforce the portal's rules; 2026-09 does, on single and batch writes.
    let older = versioned_client(&sb, "2026-03".parse().unwrap());
    older
        .create_object(&ObjectType::Companies, &create("Old"))
        .await
        .expect("2026-03");
    let newer = versioned_client(&sb, "2026-09".parse().unwrap());
    let err = newer
        .create_object(&ObjectType::Companies, &create("New"))
        .await
        .expect_err("state is required");
    let failures = err.hubspot().expect("hubspot error").validation_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].property.as_deref(), Some("state"));
    assert_eq!(
        failures[0].code.as_deref(),
        Some("MISSING_REQUIRED_PROPERTY")
    );
    let valid = SimplePublicObjectInputForCreate {
        properties: props(&[("name", "Ok"), ("state", "TX")]),
        associations: vec![],
    };
    newer
        .create_object(&ObjectType::Companies, &valid)
        .await
        .expect("valid");
    assert_eq!(sb.control().count(ObjectKind::Companies), 2);
    // A batch refused for one record: the client sends each input alone, so the valid one is
    // created and the failure is that record's own, naming its property.
    let batch = newer
        .batch_create(&ObjectType::Companies, &[valid.clone(), create("B")])
        .await;
    assert_eq!(batch.results.len(), 1);
    assert_eq!(batch.failed_chunks.len(), 1);
    assert_eq!(batch.failed_chunks[0].inputs, 1..2);
    let named = batch.failed_chunks[0]
        .error
        .hubspot()
        .unwrap()
        .validation_failures();
    assert_eq!(named[0].property.as_deref(), Some("state"));
    assert_eq!(sb.control().count(ObjectKind::Companies), 3);
}

#[tokio::test]
async fn the_client_reads_hubspot_errors_from_the_sandbox() {
    let sb = builder().start().await.expect("start");
    let client = private_client(&sb);
    let unknown = client
        .create_object(
            &ObjectType::Contacts,
            &SimplePublicObjectInputForCreate {
                properties: props(&[("no_such_property", "x")]),
                associations: vec![],
            },
        )
        .await
        .expect_err("unknown property");
    let err = unknown.hubspot().expect("hubspot error");
    assert_eq!(err.status, 400);
    assert_eq!(err.category.as_deref(), Some("VALIDATION_ERROR"));
    assert!(err.correlation_id.is_some());
    assert!(err.message.contains("PROPERTY_DOESNT_EXIST"));
    assert_eq!(err.errors[0].code.as_deref(), Some("PROPERTY_DOESNT_EXIST"));
    assert_eq!(
        err.errors[0].sub_category.as_deref(),
        Some("PROPERTY_DOESNT_EXIST")
    );
    assert_eq!(
        err.errors[0]
            .context
            .as_ref()
            .map(|c| c["propertyName"].clone()),
        Some(vec!["no_such_property".to_string()])
    );

    let input = SimplePublicObjectInputForCreate {
        properties: props(&[("email", "dup@x.test")]),
        associations: vec![],
    };
    let first = client
        .create_object(&ObjectType::Contacts, &input)
        .await
        .expect("first");
    let dup = client
        .create_object(&ObjectType::Contacts, &input)
        .await
        .expect_err("duplicate");
    assert_eq!(dup.status(), Some(409));
    assert_eq!(dup.category(), Some("CONFLICT"));
    assert!(dup.hubspot().is_some_and(|e| e.message.contains(&first.id)));

    let missing = client
        .get_object(&ObjectType::Contacts, "424242", &["email"])
        .await
        .expect_err("missing");
    assert_eq!(missing.status(), Some(404));

    // A 503 is retried; a DAILY 429 is surfaced at once.
    let control = sb.control();
    control
        .inject_fault(turris_hubspot_sandbox::Fault::new("/account-info/v3/details").status(503));
    client.account_details().await.expect("retried after a 503");
    control.inject_fault(
        turris_hubspot_sandbox::Fault::new("/account-info/v3/details")
            .status(429)
            .times(5)
            .body(serde_json::json!({
                "status": "error", "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT", "policyName": "DAILY", "correlationId": "c-1"
            })),
    );
    match client.account_details().await {
        Err(Error::DailyLimit { .. }) => {}
        other => panic!("expected DailyLimit, got {other:?}"),
    }
    assert_eq!(control.stats().faults_injected, 2, "DAILY is not retried");
}

#[tokio::test]
async fn the_subscriptions_client_manages_the_apps_subscriptions() {
    let sb = builder().start().await.expect("start");
    let subs = Subscriptions::new(
        private_client(&sb),
        sb.app_id(),
        Secret::new(sb.developer_api_key()),
    );
    let created = subs
        .create(&SubscriptionCreateRequest {
            event_type: "company.propertyChange".into(),
            property_name: Some("state".into()),
            active: false,
        })
        .await
        .expect("create");
    assert_eq!(created.property_name.as_deref(), Some("state"));
    let listed = subs.list().await.expect("list");
    assert_eq!(listed.len(), 1);
    let id: u64 = created.id.parse().expect("numeric id");
    let updated = subs
        .batch_update(&[SubscriptionBatchUpdateRequest { id, active: true }])
        .await
        .expect("batch update");
    assert!(updated.results[0].active);
    subs.delete(&created.id).await.expect("delete");
    assert!(subs.list().await.expect("list").is_empty());
}

#[tokio::test]
async fn a_webhook_batch_verifies_with_the_clients_v3_verifier_and_parses() {
    let receiver = Receiver::start(0).await;
    let sb = builder()
        .webhook_target(&receiver.url)
        .subscription("contact.propertyChange", Some("firstname"))
        .subscription("contact.creation", None)
        .start()
        .await
        .expect("start");
    let control = sb.control();
    let ann = contact(&control, "ann@x.test");
    control
        .update_record(ObjectKind::Contacts, &ann.id, [("firstname", "Ann")])
        .expect("edit");
    // Our own write comes back as an echo of our app.
    let tokens = control.issue_tokens(&["oauth"]);
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(
        tokens.access_token.as_str().into(),
    )))
    .api_base(sb.base_url())
    .portal(sb.portal_id())
    .build()
    .expect("client");
    client
        .update_object(
            &ObjectType::Contacts,
            &ann.id,
            &SimplePublicObjectInput {
                properties: props(&[("firstname", "Annie")]),
            },
        )
        .await
        .expect("update");
    control.flush_webhooks().await;

    let mut events = Vec::new();
    for r in receiver.received() {
        let header = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let signature = header("x-hubspot-signature-v3");
        let timestamp = header("x-hubspot-request-timestamp");
        let request = SignedRequest {
            method: "POST",
            uri: &r.uri,
            body: &r.body,
            signature: &signature,
            timestamp: &timestamp,
        };
        let now = Utc::now().timestamp_millis();
        verify_v3(sb.client_secret(), &request, now).expect("v3 verifies");
        let version =
            verify_any_version(sb.client_secret(), "POST", &r.uri, &r.headers, &r.body, now)
                .expect("the client accepts the request");
        assert_eq!(version, SignatureVersion::V3);
        events.extend(parse_events(&r.body).expect("events parse"));
    }
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].subscription_type.as_str(), "contact.creation");
    let changes: Vec<_> = events
        .iter()
        .filter(|e| e.subscription_type.as_str() == "contact.propertyChange")
        .collect();
    assert_eq!(changes[0].property_value.as_deref(), Some("Ann"));
    assert!(
        !changes[0].is_echo_of_app(sb.app_id()),
        "a CRM_UI edit is not an echo"
    );
    assert_eq!(changes[1].property_value.as_deref(), Some("Annie"));
    assert!(
        changes[1].is_echo_of_app(sb.app_id()),
        "our API write is an echo"
    );
    assert_eq!(changes[1].object_id.map(|i| i.to_string()), Some(ann.id));
}

#[tokio::test]
async fn the_clients_throttling_keeps_a_2000_record_batch_upsert_free_of_429s() {
    let sb = builder()
        .rate_limits(RateLimits::default())
        .start()
        .await
        .expect("start");
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(
        sb.private_app_token(),
    ))))
    .api_base(sb.base_url())
    .portal(sb.portal_id())
    .rate_limiter(RateLimiter::new(RateLimitConfig::public_app()))
    .retry(fast_retry())
    .build()
    .expect("client");
    let inputs: Vec<UpsertInput> = (0..2000)
        .map(|i| UpsertInput {
            id: format!("agent{i}@x.test"),
            id_property: "email".into(),
            properties: props(&[("firstname", "Agent"), ("lastname", &i.to_string())]),
            object_write_trace_id: None,
        })
        .collect();
    let outcome = client.batch_upsert(&ObjectType::Contacts, &inputs).await;
    assert!(outcome.is_complete_success(), "{:?}", outcome.errors);
    assert_eq!(outcome.results.len(), 2000);
    let stats = sb.control().stats();
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(
        stats.calls_to("POST", "/crm/v3/objects/contacts/batch/upsert"),
        20
    );
    assert_eq!(sb.control().count(ObjectKind::Contacts), 2000);
}

#[tokio::test]
async fn the_client_parses_merge_and_association_events_from_the_sandbox() {
    let receiver = Receiver::start(0).await;
    let sb = builder()
        .webhook_target(&receiver.url)
        .subscription("contact.merge", None)
        .subscription("contact.associationChange", None)
        .subscription("company.deletion", None)
        .start()
        .await
        .expect("start");
    let control = sb.control();
    let a = contact(&control, "a@x.test");
    let b = contact(&control, "b@x.test");
    let acme = company(&control, "Acme");
    control
        .associate(ObjectKind::Contacts, &a.id, ObjectKind::Companies, &acme.id)
        .expect("associate");
    control
        .merge_records(ObjectKind::Contacts, &a.id, &b.id)
        .expect("merge");
    control
        .delete_record(ObjectKind::Companies, &acme.id)
        .expect("delete");
    control.flush_webhooks().await;
    let events: Vec<_> = receiver
        .received()
        .iter()
        .flat_map(|r| parse_events(&r.body).expect("parse"))
        .collect();
    let types: Vec<&str> = events
        .iter()
        .map(|e| e.subscription_type.as_str())
        .collect();
    // A person's first company is also made primary: one event per association type.
    assert_eq!(
        types,
        [
            "contact.associationChange",
            "contact.associationChange",
            "contact.merge",
            "company.deletion"
        ]
    );
    assert_eq!(
        events[0].association_type.as_deref(),
        Some("CONTACT_TO_COMPANY")
    );
    assert_eq!(
        events[0].to_object_id.map(|i| i.to_string()),
        Some(acme.id.clone())
    );
    assert_eq!(events[0].is_primary_association, Some(false));
    assert_eq!(events[1].is_primary_association, Some(true));
    assert_eq!(
        events[2].primary_object_id.map(|i| i.to_string()),
        Some(a.id.clone())
    );
    assert_eq!(events[2].merged_object_ids.len(), 2);
    assert_eq!(events[3].object_id.map(|i| i.to_string()), Some(acme.id));
    assert!(events.iter().all(|e| !e.is_echo_of_app(sb.app_id())));
}

#[tokio::test]
async fn the_clients_throttling_keeps_a_sustained_run_inside_the_rolling_window() {
    // Scaled down so the run spans several windows: the sandbox allows 10 calls per rolling
    // second, the client plans for 9. A limiter that bursts at the start of each refill (a
    // token bucket starting full) sends about twice that in the first window.
    let sb = builder()
        .rate_limits(RateLimits {
            enabled: true,
            per_window: 10,
            window: Duration::from_secs(1),
            search_per_second: 5,
            per_day: None,
        })
        .start()
        .await
        .expect("start");
    let budget = turris_hubspot::rate_limit::Budget::new(9, Duration::from_secs(1));
    let client = HubSpotClient::builder(Arc::new(PrivateAppToken::new(Secret::new(
        sb.private_app_token(),
    ))))
    .api_base(sb.base_url())
    .portal(sb.portal_id())
    .rate_limiter(RateLimiter::new(RateLimitConfig::new(
        budget,
        RateLimitConfig::public_app().search,
    )))
    .retry(fast_retry())
    .build()
    .expect("client");
    for _ in 0..30 {
        client
            .list_objects_page(&ObjectType::Contacts, &[], 10, None)
            .await
            .expect("list");
    }
    let stats = sb.control().stats();
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.calls_to("GET", "/crm/v3/objects/contacts"), 30);
}
