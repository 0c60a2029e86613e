//! Webhooks: events for every change, v1/v3 signatures, batches, retries, subscriptions API.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use turris_hubspot_sandbox::{ObjectKind, Sandbox, WebhookChaos};

use crate::helpers::{Api, Received, Receiver, builder, company, contact};

/// HubSpot's v3 check, written independently of the sandbox: base64 HMAC-SHA256 keyed with the
/// client secret over method + URI + body + timestamp.
fn verify_v3(secret: &str, r: &Received) -> bool {
    let header = |n: &str| {
        r.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let signature = header("x-hubspot-signature-v3");
    let timestamp = header("x-hubspot-request-timestamp");
    let Ok(ts) = timestamp.parse::<i64>() else {
        return false;
    };
    let age = chrono::Utc::now().timestamp_millis() - ts;
    if !(0..300_000).contains(&age) {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"POST");
    mac.update(r.uri.as_bytes());
    mac.update(&r.body);
    mac.update(timestamp.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    expected == signature
}

fn verify_v1(secret: &str, r: &Received) -> bool {
    let mut h = Sha256::new();
    h.update(secret.as_bytes());
    h.update(&r.body);
    let expected = hex::encode(h.finalize());
    r.headers
        .get("x-hubspot-signature")
        .and_then(|v| v.to_str().ok())
        == Some(expected.as_str())
        && r.headers
            .get("x-hubspot-signature-version")
            .and_then(|v| v.to_str().ok())
            == Some("v1")
}

/// A sandbox with `subscriptions` (event type, property), sending to a receiver that fails
/// its first `failures` requests.
async fn subscribed(failures: u32, subscriptions: &[(&str, Option<&str>)]) -> (Receiver, Sandbox) {
    let receiver = Receiver::start(failures).await;
    let mut sandbox = builder().webhook_target(&receiver.url);
    for (event_type, property) in subscriptions {
        sandbox = sandbox.subscription(*event_type, *property);
    }
    (receiver, sandbox.start().await.expect("start"))
}

/// A sandbox subscribed to `contact.creation`, sending to a receiver that fails its first
/// `failures` requests.
async fn contact_creations_to_receiver(failures: u32) -> (Receiver, Sandbox) {
    subscribed(failures, &[("contact.creation", None)]).await
}

#[tokio::test]
async fn a_control_edit_sends_a_v3_signed_batch_with_crm_ui_as_source() {
    let (receiver, sb) = subscribed(
        0,
        &[
            ("contact.creation", None),
            ("contact.propertyChange", Some("firstname")),
        ],
    )
    .await;
    let control = sb.control();
    let ann = control
        .create_record(
            ObjectKind::Contacts,
            [("email", "ann@x.test"), ("firstname", "Ann")],
        )
        .expect("create");
    control
        .update_record(
            ObjectKind::Contacts,
            &ann.id,
            [("firstname", "Anna"), ("lastname", "Lee")],
        )
        .expect("update");
    control.flush_webhooks().await;

    let received = receiver.received();
    assert!(!received.is_empty());
    for r in &received {
        assert!(verify_v3(sb.client_secret(), r), "v3 signature verifies");
        assert!(verify_v1(sb.client_secret(), r), "v1 signature verifies");
        assert!(!verify_v3("another-secret", r));
    }
    let events = receiver.events();
    let kinds: Vec<(String, Value)> = events
        .iter()
        .map(|e| {
            (
                e["subscriptionType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["propertyValue"].clone(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("contact.creation".to_string(), Value::Null),
            ("contact.propertyChange".to_string(), json!("Ann")),
            ("contact.propertyChange".to_string(), json!("Anna")),
        ],
        "lastname has no subscription"
    );
    for e in &events {
        assert_eq!(e["changeSource"], "CRM_UI");
        assert_eq!(e["portalId"], sb.portal_id());
        assert_eq!(e["appId"], sb.app_id());
        assert_eq!(e["objectId"].to_string(), ann.id);
        assert_eq!(e["attemptNumber"], 0);
        assert!(e["eventId"].is_u64() && e["subscriptionId"].is_u64() && e["occurredAt"].is_i64());
    }
}

#[tokio::test]
async fn api_writes_produce_integration_events_with_the_app_id_as_source() {
    let (receiver, sb) = subscribed(
        0,
        &[
            ("company.propertyChange", Some("name")),
            ("company.deletion", None),
            ("contact.associationChange", None),
        ],
    )
    .await;
    let control = sb.control();
    let tokens = control.issue_tokens(&["oauth"]);
    let api = Api::with_token(&sb, &tokens.access_token);
    let (_, company) = api
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "name": "Acme" } }),
        )
        .await;
    let id = company["id"].as_str().expect("id").to_string();
    let ann = contact(&control, "a@x.test");
    api.put(
        &format!(
            "/crm/v4/objects/contacts/{}/associations/default/companies/{id}",
            ann.id
        ),
        json!(null),
    )
    .await;
    api.delete(&format!("/crm/v3/objects/companies/{id}")).await;
    // A write with the private-app token carries the private app's id.
    Api::new(&sb)
        .post(
            "/crm/v3/objects/companies",
            json!({ "properties": { "name": "Private" } }),
        )
        .await;
    control.flush_webhooks().await;

    let events = receiver.events();
    let of = |t: &str| {
        events
            .iter()
            .filter(|e| e["subscriptionType"] == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    let names = of("company.propertyChange");
    assert_eq!(names.len(), 2);
    assert_eq!(names[0]["changeSource"], "INTEGRATION");
    assert_eq!(names[0]["sourceId"], sb.app_id().to_string());
    assert_eq!(names[1]["sourceId"], sb.private_app_id().to_string());
    let deletion = of("company.deletion");
    assert_eq!(deletion.len(), 1);
    assert_eq!(deletion[0]["objectId"].to_string(), id);
    let assoc = of("contact.associationChange");
    assert_eq!(assoc.len(), 1);
    assert_eq!(assoc[0]["associationType"], "CONTACT_TO_COMPANY");
    assert_eq!(assoc[0]["fromObjectId"].to_string(), ann.id);
    assert_eq!(assoc[0]["toObjectId"].to_string(), id);
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_next_attempt_number() {
    let (receiver, sb) = contact_creations_to_receiver(2).await;
    let control = sb.control();
    contact(&control, "a@x.test");
    control.flush_webhooks().await;
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let attempts: Vec<Value> = received
        .iter()
        .map(|r| r.events()[0]["attemptNumber"].clone())
        .collect();
    assert_eq!(attempts, [json!(0), json!(1), json!(2)]);
    let ids: Vec<Value> = received
        .iter()
        .map(|r| r.events()[0]["eventId"].clone())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "same event id on every attempt"
    );
    let log = control.webhook_attempts();
    assert_eq!(
        log.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(500), Some(500), Some(204)]
    );
    assert_eq!(control.pending_webhooks(), 0);
    assert_eq!(control.delivered_events().len(), 1);
}

#[tokio::test]
async fn a_burst_is_sent_in_batches_of_at_most_100_events() {
    let (receiver, sb) = contact_creations_to_receiver(0).await;
    let api = Api::new(&sb);
    for chunk in 0..3 {
        let inputs: Vec<Value> = (0..100)
            .map(|i| json!({ "properties": { "email": format!("b{chunk}-{i}@x.test") } }))
            .collect();
        let (status, _) = api
            .post(
                "/crm/v3/objects/contacts/batch/create",
                json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(status, 201);
    }
    sb.control().wait_for_deliveries().await;
    let received = receiver.received();
    assert!(received.iter().all(|r| r.events().len() <= 100));
    assert_eq!(receiver.events().len(), 300);
}

#[tokio::test]
async fn the_subscriptions_api_creates_pauses_and_deletes_subscriptions() {
    let receiver = Receiver::start(0).await;
    let sb = builder().start().await.expect("start");
    let http = reqwest::Client::new();
    let base = format!("{}/webhooks/v3/{}", sb.base_url(), sb.app_id());
    let key = [("hapikey", sb.developer_api_key())];

    let resp = http
        .get(format!("{base}/subscriptions"))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 401, "the developer key is required");

    let resp = http
        .put(format!("{base}/settings"))
        .query(&key)
        .json(&json!({ "targetUrl": receiver.url, "throttling": { "maxConcurrentRequests": 5 } }))
        .send()
        .await
        .expect("settings");
    assert_eq!(resp.status().as_u16(), 200);

    let resp = http
        .post(format!("{base}/subscriptions"))
        .query(&key)
        .json(&json!({ "eventType": "company.propertyChange", "propertyName": "state", "active": true }))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status().as_u16(), 201);
    let sub: Value = resp.json().await.expect("json");
    let sub_id = sub["id"].as_str().expect("id").to_string();
    assert_eq!(sub["propertyName"], "state");

    let list: Value = http
        .get(format!("{base}/subscriptions"))
        .query(&key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["results"].as_array().map(Vec::len), Some(1));

    let control = sb.control();
    let acme = control
        .create_record(ObjectKind::Companies, [("name", "Acme"), ("state", "TX")])
        .expect("acme");
    control.flush_webhooks().await;
    assert_eq!(receiver.events().len(), 1);

    // Paused subscriptions send nothing.
    let resp = http
        .post(format!("{base}/subscriptions/batch/update"))
        .query(&key)
        .json(&json!({ "inputs": [{ "id": sub_id.parse::<u64>().expect("numeric"), "active": false }] }))
        .send()
        .await
        .expect("batch");
    assert_eq!(resp.status().as_u16(), 200);
    control
        .update_record(ObjectKind::Companies, &acme.id, [("state", "CA")])
        .expect("edit");
    control.flush_webhooks().await;
    assert_eq!(receiver.events().len(), 1);

    let resp = http
        .delete(format!("{base}/subscriptions/{sub_id}"))
        .query(&key)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status().as_u16(), 204);
}

#[tokio::test]
async fn an_uninstalled_app_receives_no_webhooks() {
    let (receiver, sb) = contact_creations_to_receiver(0).await;
    let control = sb.control();
    control.uninstall_app();
    contact(&control, "a@x.test");
    control.flush_webhooks().await;
    assert!(receiver.received().is_empty());
    assert!(control.webhook_attempts().is_empty());
}

#[tokio::test]
async fn chaos_sends_batches_twice_and_in_reverse_order_on_demand() {
    let (receiver, sb) = subscribed(
        0,
        &[
            ("contact.creation", None),
            ("contact.propertyChange", Some("firstname")),
        ],
    )
    .await;
    let control = sb.control();
    let mut chaos = WebhookChaos::default();
    chaos.duplicate = true;
    chaos.reverse = true;
    control.set_webhook_chaos(chaos);
    control
        .create_record(
            ObjectKind::Contacts,
            [("email", "a@x.test"), ("firstname", "A")],
        )
        .expect("create");
    control.flush_webhooks().await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "the batch came twice");
    assert_eq!(received[0].events(), received[1].events());
    let types: Vec<Value> = received[0]
        .events()
        .iter()
        .map(|e| e["subscriptionType"].clone())
        .collect();
    assert_eq!(
        types,
        [json!("contact.propertyChange"), json!("contact.creation")]
    );
}

#[tokio::test]
async fn an_edit_in_the_html_page_sends_a_crm_ui_webhook() {
    let (receiver, sb) = subscribed(0, &[("company.propertyChange", Some("state"))]).await;
    let control = sb.control();
    let acme = control
        .create_record(
            ObjectKind::Companies,
            [("name", "<b>Acme</b>"), ("state", "TX")],
        )
        .expect("create");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let list = http
        .get(format!("{}/_sandbox/ui/companies", sb.base_url()))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(
        list.contains("&lt;b&gt;Acme&lt;/b&gt;"),
        "names are escaped"
    );
    let resp = http
        .post(format!(
            "{}/_sandbox/ui/companies/{}",
            sb.base_url(),
            acme.id
        ))
        .form(&[("p.name", "<b>Acme</b>"), ("p.state", "CA")])
        .send()
        .await
        .expect("save");
    assert_eq!(resp.status().as_u16(), 303);
    control.flush_webhooks().await;
    let events = receiver.events();
    let values: Vec<&Value> = events.iter().map(|e| &e["propertyValue"]).collect();
    assert_eq!(
        values,
        [&json!("TX"), &json!("CA")],
        "creation, then only the changed property"
    );
    assert!(events.iter().all(|e| e["changeSource"] == "CRM_UI"));
}

#[tokio::test]
async fn a_merge_moves_properties_associations_and_memberships_and_sends_a_merge_event() {
    let (receiver, sb) = subscribed(0, &[("contact.merge", None)]).await;
    let control = sb.control();
    let a = control
        .create_record(
            ObjectKind::Contacts,
            [("email", "a@x.test"), ("firstname", "A")],
        )
        .expect("a");
    let b = control
        .create_record(
            ObjectKind::Contacts,
            [("email", "b@x.test"), ("firstname", "B"), ("phone", "555")],
        )
        .expect("b");
    let acme = company(&control, "Acme");
    control
        .associate(ObjectKind::Contacts, &b.id, ObjectKind::Companies, &acme.id)
        .expect("associate");
    let list = control
        .create_list("Agents", ObjectKind::Contacts)
        .expect("list");
    let api = Api::new(&sb);
    api.put(
        &format!("/crm/v3/lists/{list}/memberships/add"),
        json!([b.id]),
    )
    .await;

    let (status, merged) = api
        .post(
            "/crm/v3/objects/contacts/merge",
            json!({ "primaryObjectId": a.id, "objectIdToMerge": b.id }),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["id"], a.id.as_str());
    assert_eq!(
        merged["properties"]["firstname"], "A",
        "the primary keeps its values"
    );
    assert_eq!(
        merged["properties"]["phone"], "555",
        "missing values move over"
    );
    let (status, old) = api
        .get(&format!(
            "/crm/v3/objects/contacts/{}?properties=email",
            b.id
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        old["id"],
        a.id.as_str(),
        "the merged id resolves to the primary"
    );
    assert_eq!(
        control.associated_ids(ObjectKind::Companies, &acme.id, ObjectKind::Contacts),
        vec![a.id.clone()]
    );
    assert_eq!(control.list_members(&list), vec![a.id.clone()]);
    // The merged email is free again.
    let (status, _) = api
        .post(
            "/crm/v3/objects/contacts",
            json!({ "properties": { "email": "b@x.test" } }),
        )
        .await;
    assert_eq!(status, 201);

    control.flush_webhooks().await;
    let events = receiver.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["subscriptionType"], "contact.merge");
    assert_eq!(events[0]["primaryObjectId"].to_string(), a.id);
    assert_eq!(events[0]["mergedObjectIds"][1].to_string(), b.id);
    assert_eq!(events[0]["numberOfPropertiesMoved"], 1);
    assert_eq!(events[0]["changeSource"], "INTEGRATION");
}
