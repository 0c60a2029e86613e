//! The demo's steps after sign-in, each acting as an operator (the API), a person in HubSpot
//! (the sandbox) or the customer's endpoint (the receiver), and returning what it did.

use serde_json::{Value, json};
use turris_hubspot_sandbox::{ObjectKind, Sandbox};
use turris_webhooks::{WebhookSecret, WebhookType};

use super::api::{Api, agency_id, eventually, names, skip_reasons, titled};
use super::receiver::Receiver;
use super::{DemoError, H, PATIENCE, fail};

/// What the steps after sign-in act on: the API as the demo organization's admin, the
/// sandbox as a HubSpot user, the receiver as the customer's endpoint.
pub(super) struct Demo<'a> {
    pub(super) api: &'a Api,
    pub(super) sandbox: &'a Sandbox,
    pub(super) receiver: &'a Receiver,
}

impl Demo<'_> {
    pub(super) async fn wait_until_live(&self) -> Result<String, DemoError> {
        let api = self.api;
        let live = eventually("every mapped property to be live", || async {
            let status = api.get(&format!("{H}/webhook-status")).await.ok()?;
            let properties = status["properties"].as_array()?.clone();
            let all_live =
                !properties.is_empty() && properties.iter().all(|p| p["status"] == "live");
            all_live.then_some(properties.len())
        })
        .await?;
        Ok(format!("{live} property subscriptions live"))
    }

    pub(super) async fn register_endpoints(&self) -> Result<String, DemoError> {
        let api = self.api;
        let receiver = self.receiver;
        for webhook_type in [
            "agency_compliance_status_changes",
            "entity_compliance_data_synchronized",
        ] {
            let created = api
                .post(
                    "/api/v1/webhooks",
                    json!({"webhook_type": webhook_type, "url": receiver.url()}),
                )
                .await?;
            let secret = created["secret"]
                .as_str()
                .ok_or_else(|| fail("a created webhook has its secret"))?;
            receiver.trust(WebhookSecret::parse(secret).map_err(|e| fail(e.to_string()))?);
        }
        Ok("2 endpoints; each secret shown once and handed to the receiver".to_owned())
    }

    pub(super) async fn sync_new_people(&self) -> Result<(People, String), DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        let people = create_in_hubspot(sandbox)?;
        let synced = eventually("the partner companies to become agencies", || async {
            let agencies = names(api, "/api/v1/agencies").await?;
            let agents = names(api, "/api/v1/agents").await?;
            let skipped = titled(api, "HubSpot webhook skipped").await?;
            (agencies.len() >= 3 && agents.len() >= 2 && skipped >= 2)
                .then_some((agencies.len(), agents.len()))
        })
        .await?;
        Ok((
            people,
            format!(
                "5 companies and 3 contacts; {} agencies and {} agents synced, the rest skipped with reasons",
                synced.0, synced.1
            ),
        ))
    }

    pub(super) async fn sync_edits(&self, people: &People) -> Result<String, DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        edit_in_hubspot(sandbox, people)?;
        eventually("the edits to sync", || async {
            let agencies = api.get("/api/v1/agencies?limit=100").await.ok()?;
            let items = agencies["items"].as_array()?;
            let bluebird = items.iter().any(|a| a["name"] == "Bluebird Brokers");
            let phone = items
                .iter()
                .any(|a| a["name"] == "Summit Risk Partners" && a["phone"] == "+1 518 555 0199");
            let custom = skip_reasons(api)
                .await?
                .iter()
                .any(|r| r.contains("custom property"));
            (bluebird && phone && custom).then_some(())
        })
        .await?;
        Ok(
            "Bluebird became a partner (created), a phone edit updated, an NPN edit was skipped"
                .to_owned(),
        )
    }

    pub(super) async fn push_agency(&self) -> Result<String, DemoError> {
        let api = self.api;
        let sandbox = self.sandbox;
        api.post(
            "/api/v1/agencies",
            json!({"name": "Keystone Underwriting Group", "npn": "30495867", "city": "Harrisburg", "state_code": "PA"}),
        )
        .await?;
        let company = eventually("the agency to appear in HubSpot", || async {
            sandbox.control().find_record(
                ObjectKind::Companies,
                "name",
                "Keystone Underwriting Group",
            )
        })
        .await?;
        sandbox.control().flush_webhooks().await;
        let copies = names(api, "/api/v1/agencies")
            .await
            .map(|n| {
                n.iter()
                    .filter(|n| *n == "Keystone Underwriting Group")
                    .count()
            })
            .unwrap_or_default();
        if copies != 1 {
            return Err(fail(format!(
                "the pushed agency's echo made {copies} agencies"
            )));
        }
        Ok(format!(
            "company {} with type {}; its echo created nothing",
            company.id,
            company.properties.get("type").map_or("-", String::as_str)
        ))
    }

    pub(super) async fn release_invitation(&self) -> Result<String, DemoError> {
        let api = self.api;
        let summit = agency_id(api, "Summit Risk Partners").await?;
        api.post(
            &format!("/api/v1/agencies/{summit}/contacts"),
            json!({"first_name": "Maya", "last_name": "Chen", "email": "maya.chen@summitrisk.example"}),
        )
        .await?;
        let sent = eventually("the invitation to be sent", || async {
            let list = api
                .get(&format!("/api/v1/invitations?agency_id={summit}"))
                .await
                .ok()?;
            let invitation = list["items"].as_array()?.first()?.clone();
            (invitation["status"] == "sent").then_some(invitation)
        })
        .await?;
        Ok(format!(
            "contract {} sent to {}",
            sent["contract_template_id"].as_str().unwrap_or("-"),
            sent["sent_to"].as_str().unwrap_or("-")
        ))
    }

    pub(super) async fn deliver_compliance(&self) -> Result<String, DemoError> {
        let api = self.api;
        let receiver = self.receiver;
        let summit = agency_id(api, "Summit Risk Partners").await?;
        let keystone_id = agency_id(api, "Keystone Underwriting Group").await?;
        let harbor = agency_id(api, "Harbor Lane Insurance").await?;
        api.post(
            "/api/v1/compliance-statuses",
            json!({"updates": [
                {"entity_type": "agency", "entity_id": summit, "product": "Property & Casualty", "state": "NY", "status": "compliant"},
                {"entity_type": "agency", "entity_id": harbor, "product": "Property & Casualty", "state": "TX", "status": "non_compliant"},
            ]}),
        )
        .await?;
        api.post(
            "/api/v1/nipr-syncs",
            json!({"entity_type": "agency", "entity_id": keystone_id, "kind": "full_refresh", "outcome": "success"}),
        )
        .await?;
        let waiting = async {
            let changes = receiver
                .wait_for(WebhookType::AgencyComplianceStatusChanges)
                .await;
            let synced = receiver
                .wait_for(WebhookType::EntityComplianceDataSynchronized)
                .await;
            (changes, synced)
        };
        let (changes, _) = tokio::time::timeout(PATIENCE, waiting)
            .await
            .map_err(|_| fail("timed out waiting for the receiver to verify both webhooks"))?;
        let entities = changes.envelope.payload["entities"]
            .as_array()
            .map_or(0, Vec::len);
        Ok(format!(
            "the changes ({entities} entities) sent once the quiet window closed, as event {}; an NIPR sync result sent at once; both verified",
            changes.event_id
        ))
    }
}

/// Connects HubSpot as a person in a browser would: start, approve, come back. The portal id.
pub async fn connect(api: &Api) -> Result<u64, DemoError> {
    let started = api.post(&format!("{H}/connect"), Value::Null).await?;
    let authorize = started["authorize_url"]
        .as_str()
        .ok_or_else(|| fail("connect answers an authorize_url"))?;
    let approval = api.browser(authorize).await?;
    let back = approval
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| fail("HubSpot's approval redirects to the callback"))?
        .to_owned();
    let callback = api.browser(&back).await?;
    if !callback.status().is_success() {
        return Err(fail(format!(
            "the OAuth callback answered {}",
            callback.status()
        )));
    }
    let card = api.get(H).await?;
    if card["status"] != "connected" {
        return Err(fail(format!(
            "HubSpot is {} after the callback",
            card["status"]
        )));
    }
    card["portal_id"]
        .as_u64()
        .ok_or_else(|| fail("a connected card has its portal id"))
}

/// The HubSpot admin adds two custom properties; the operator sets mapping, toggles and rules.
pub(super) async fn configure(api: &Api, sandbox: &Sandbox) -> Result<(), DemoError> {
    let control = sandbox.control();
    for (name, label) in [("npn", "Agency NPN"), ("producer_code", "Producer code")] {
        control
            .create_property(
                ObjectKind::Companies,
                json!({"name": name, "label": label, "type": "string", "fieldType": "text"}),
            )
            .map_err(|e| fail(format!("custom property {name}: {e:?}")))?;
    }
    api.put(
        &format!("{H}/mapping"),
        json!({
            "agency": {
                "identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"},
                "name": "name", "npn": "npn", "producer_code": "producer_code",
                "website": "website", "phone": "phone", "street_address": "address",
                "city": "city", "state_code": "state", "zip": "zip", "country": "country"
            },
            "agent": {
                "identifier": {"mode": "sync_all"},
                "first_name": "firstname", "last_name": "lastname", "email": "email"
            }
        }),
    )
    .await?;
    api.put(
        &format!("{H}/sync"),
        json!({"agency": {"inbound": true, "outbound": true}, "agents": {"inbound": true}}),
    )
    .await?;
    for (id, name) in [
        ("tpl-ny-appointment", "New York appointment"),
        ("tpl-standard", "Standard producer agreement"),
    ] {
        api.post(
            "/api/v1/contract-templates",
            json!({"id": id, "name": name}),
        )
        .await?;
    }
    api.put(
        &format!("{H}/invitations"),
        json!({
            "mode": "invite_all",
            "rules": [{"condition": {"property": "state", "operator": "equals", "value": "NY"}, "template": "tpl-ny-appointment"}],
            "default_template": "tpl-standard"
        }),
    )
    .await?;
    Ok(())
}

/// Ids of the records the edits touch.
pub(super) struct People {
    summit: String,
    bluebird: String,
}

pub(super) fn create_in_hubspot(sandbox: &Sandbox) -> Result<People, DemoError> {
    let control = sandbox.control();
    let company = |props: &[(&str, &str)]| {
        control
            .create_record(ObjectKind::Companies, props.iter().copied())
            .map_err(|e| fail(format!("sandbox company: {e:?}")))
    };
    let summit = company(&[
        ("name", "Summit Risk Partners"),
        ("type", "PARTNER"),
        ("npn", "17283940"),
        ("producer_code", "SRP-001"),
        ("website", "summitrisk.example"),
        ("phone", "+1 518 555 0100"),
        ("address", "12 State Street"),
        ("city", "Albany"),
        ("state", "NY"),
        ("zip", "12207"),
        ("country", "United States"),
    ])?;
    let harbor = company(&[
        ("name", "Harbor Lane Insurance"),
        ("type", "PARTNER"),
        ("npn", "20394857"),
        ("city", "Austin"),
        ("state", "TX"),
    ])?;
    company(&[
        ("name", "Prairie Mutual Agency"),
        ("type", "PARTNER"),
        ("city", "Dallas"),
        ("state", "Texas"),
    ])?;
    company(&[("name", "Northwind Supplies"), ("type", "VENDOR")])?;
    let bluebird = company(&[
        ("name", "Bluebird Brokers"),
        ("type", "PROSPECT"),
        ("state", "OH"),
    ])?;
    let contact = |first: &str, last: &str, email: &str, company: Option<&str>| {
        let created = control
            .create_record(
                ObjectKind::Contacts,
                [("firstname", first), ("lastname", last), ("email", email)],
            )
            .map_err(|e| fail(format!("sandbox contact: {e:?}")))?;
        if let Some(company) = company {
            control
                .associate(
                    ObjectKind::Contacts,
                    &created.id,
                    ObjectKind::Companies,
                    company,
                )
                .map_err(|e| fail(format!("sandbox association: {e:?}")))?;
        }
        Ok::<_, DemoError>(())
    };
    contact(
        "Dana",
        "Whitfield",
        "dana@summitrisk.example",
        Some(&summit.id),
    )?;
    contact(
        "Luis",
        "Ortega",
        "luis@harborlane.example",
        Some(&harbor.id),
    )?;
    contact("Sam", "Lee", "sam@northwind.example", None)?;
    Ok(People {
        summit: summit.id,
        bluebird: bluebird.id,
    })
}

pub(super) fn edit_in_hubspot(sandbox: &Sandbox, people: &People) -> Result<(), DemoError> {
    let control = sandbox.control();
    let edit = |id: &str, props: &[(&str, &str)]| {
        control
            .update_record(ObjectKind::Companies, id, props.iter().copied())
            .map(|_| ())
            .map_err(|e| fail(format!("sandbox edit: {e:?}")))
    };
    edit(&people.bluebird, &[("type", "PARTNER")])?;
    edit(&people.summit, &[("phone", "+1 518 555 0199")])?;
    edit(&people.summit, &[("npn", "17283941")])?;
    Ok(())
}
