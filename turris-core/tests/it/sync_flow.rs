//! One inbound agency's life, the way the server will drive core: plan, store, invite, log.

use chrono::{DateTime, Duration, TimeZone, Utc};
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::ids::{AgencyContactId, AgencyId, ContractTemplateId, HubSpotId, OrganizationId};
use turris_core::integration::IntegrationSettings;
use turris_core::invitation::{self, ContractRule, Delivery, InvitationMode, InviteDecision};
use turris_core::mapping::{AgencyMapping, RecordMapping};
use turris_core::matching::agency_keys;
use turris_core::matrix::{Direction, SyncObject};
use turris_core::planner::{
    self, ChangeKind, ChangeSource, EchoInfo, Existing, InboundChange, PlanContext, SkipReason,
    SyncAction,
};
use turris_core::property::{ObjectSchema, ObjectType, PropertyDefinition, PropertyType};
use turris_core::record::{Agency, AgencyContact};
use turris_core::store::{
    ActivityStore, InMemoryStore, Link, LinkKind, LinkStore, RecordStore, SettingsStore, TurrisRef,
};
use turris_core::{Condition, IdentifierFilter, PropertyMap};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn companies() -> ObjectSchema {
    let p = |name: &str, standard: bool| {
        PropertyDefinition::new(name, name, PropertyType::String, "text", standard)
    };
    ObjectSchema::new(
        ObjectType::Company,
        vec![
            p("name", true),
            p("type", true),
            p("state", true),
            p("agency_npn", false),
            p("tier", false),
        ],
    )
}

fn settings() -> IntegrationSettings {
    let mut settings = IntegrationSettings::default();
    settings.mapping.agency = AgencyMapping {
        identifier: Some(IdentifierFilter::ApplyFilter(Condition::equals(
            "type", "Agency",
        ))),
        npn: Some("agency_npn".into()),
        state_code: Some("state".into()),
        ..AgencyMapping::default()
    };
    settings.company_schema = Some(companies());
    assert!(
        settings
            .mapping
            .validate(
                &companies(),
                &ObjectSchema::new(ObjectType::Contact, vec![])
            )
            .is_empty()
    );
    assert!(
        invitation::ensure_configurable(&settings.matrix).is_err(),
        "invitations are locked until inbound is on"
    );
    let mapping = settings.mapping.clone();
    settings
        .matrix
        .enable(SyncObject::Agency, Direction::Inbound, &mapping)
        .unwrap();
    invitation::ensure_configurable(&settings.matrix).unwrap();
    settings.invitations.mode = InvitationMode::InviteAll;
    settings.invitations.rules = vec![ContractRule {
        condition: Condition::equals("tier", "gold"),
        template: Some(ContractTemplateId::parse("gold-agreement").unwrap()),
    }];
    settings
}

/// What the server does with one change: look up the link, else match by key, then plan.
async fn handle(
    store: &InMemoryStore,
    org: &OrganizationId,
    settings: &IntegrationSettings,
    change: &InboundChange,
) -> SyncAction<turris_core::record::AgencyDraft, turris_core::mapping::AgencyField> {
    let schema = settings.company_schema.as_ref().unwrap();
    let ctx = PlanContext {
        mapping: &settings.mapping.agency,
        schema,
        matrix: &settings.matrix,
        echo: EchoInfo::default(),
    };
    let link = store
        .link_by_hubspot(org, LinkKind::Agency, &change.object_id)
        .await
        .unwrap();
    let linked = match &link {
        Some(Link {
            turris: TurrisRef::Agency(id),
            ..
        }) => store.get_agency(org, id).await.unwrap(),
        _ => None,
    };
    if let Some(agency) = &linked {
        return planner::plan(change, &ctx, Existing::Linked(&agency.data));
    }
    let mut matched = None;
    if let Ok(mapped) = settings.mapping.agency.to_turris(&change.properties) {
        for key in agency_keys(&mapped.draft) {
            if store.find_agency(org, &key).await.unwrap().is_some() {
                matched = Some(key.matched_by());
                break;
            }
        }
    }
    planner::plan(
        change,
        &ctx,
        matched.map_or(Existing::NotFound, Existing::Matched),
    )
}

#[tokio::test]
async fn an_inbound_agency_is_created_invited_once_a_contact_exists_and_custom_edits_are_skipped() {
    let store = InMemoryStore::new();
    let org = OrganizationId::parse("org-flow").unwrap();
    let settings = settings();
    store.save_settings(&org, &settings).await.unwrap();
    let company = HubSpotId::parse("9001").unwrap();
    let properties = PropertyMap::from_pairs([
        ("type", Some("Agency")),
        ("name", Some("Acme Insurance")),
        ("state", Some("New York")),
        ("agency_npn", Some("1234567")),
        ("tier", Some("gold")),
    ]);
    let created = InboundChange {
        object_id: company.clone(),
        kind: ChangeKind::Created,
        properties: properties.clone(),
        source: ChangeSource::Unknown,
        occurred_at: at(0),
    };

    let SyncAction::Create { draft, skipped } = handle(&store, &org, &settings, &created).await
    else {
        panic!("a matching new company is created");
    };
    assert_eq!(skipped.len(), 1, "the state name is skipped, not stored");
    let agency = Agency {
        id: AgencyId::parse("ag-1").unwrap(),
        data: draft,
    };
    store.insert_agency(&org, &agency).await.unwrap();
    store
        .put_link(
            &org,
            &Link {
                turris: TurrisRef::Agency(agency.id.clone()),
                hubspot_id: company.clone(),
            },
        )
        .await
        .unwrap();
    store
        .append_activity(
            &org,
            &NewActivity::new(ActivityKind::WebhookCompanyCreated, Outcome::Success, at(0))
                .with_details(ActivityDetails {
                    turris_id: Some(agency.id.to_string()),
                    hubspot_id: Some(company.to_string()),
                    ..Default::default()
                }),
        )
        .await
        .unwrap();

    let decision = settings.invitations.decide(&properties);
    assert!(
        matches!(decision, InviteDecision::Invite { .. }),
        "{decision:?}"
    );
    let contacts = store.list_agency_contacts(&org, &agency.id).await.unwrap();
    assert_eq!(
        invitation::delivery(&contacts),
        Delivery::DeferredAwaitingContact
    );
    store
        .append_activity(
            &org,
            &NewActivity::new(ActivityKind::AutoInviteDeferred, Outcome::Skipped, at(1)),
        )
        .await
        .unwrap();

    let contact = AgencyContact {
        id: AgencyContactId::parse("c-1").unwrap(),
        agency_id: agency.id.clone(),
        first_name: Some("Pat".into()),
        last_name: None,
        email: Some("pat@acme.example".into()),
    };
    store.insert_agency_contact(&org, &contact).await.unwrap();
    let contacts = store.list_agency_contacts(&org, &agency.id).await.unwrap();
    assert_eq!(
        invitation::delivery(&contacts),
        Delivery::Send {
            contact: contact.id.clone(),
            email: "pat@acme.example".into()
        }
    );
    store
        .append_activity(
            &org,
            &NewActivity::new(ActivityKind::AutoInviteSent, Outcome::Success, at(2)),
        )
        .await
        .unwrap();

    let mut edited_props = properties.clone();
    edited_props.insert("agency_npn", Some("7654321".into()));
    let custom_edit = InboundChange {
        kind: ChangeKind::PropertyChanged {
            property: "agency_npn".into(),
            value: Some("7654321".into()),
        },
        properties: edited_props,
        occurred_at: at(3),
        ..created.clone()
    };
    let action = handle(&store, &org, &settings, &custom_edit).await;
    assert_eq!(
        action,
        SyncAction::Skip {
            reason: SkipReason::CustomPropertyEdit
        }
    );
    store
        .append_activity(
            &org,
            &NewActivity::new(ActivityKind::WebhookSkipped, Outcome::Skipped, at(3)).with_details(
                ActivityDetails {
                    skip_reason: Some(SkipReason::CustomPropertyEdit.to_string()),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap();

    let duplicate = InboundChange {
        object_id: HubSpotId::parse("9002").unwrap(),
        ..created.clone()
    };
    let action = handle(&store, &org, &settings, &duplicate).await;
    assert_eq!(
        action,
        SyncAction::Link {
            matched_by: turris_core::matching::MatchedBy::Npn
        },
        "a second company with the same NPN links, never duplicates"
    );

    let page = store.activity_page(&org, None, None, 2).await.unwrap();
    let titles: Vec<&str> = page.entries.iter().map(|a| a.entry.kind.title()).collect();
    assert_eq!(titles, ["HubSpot webhook skipped", "Auto-invite sent"]);
    let rest = store
        .activity_page(&org, page.next.as_ref(), None, 10)
        .await
        .unwrap();
    let titles: Vec<&str> = rest.entries.iter().map(|a| a.entry.kind.title()).collect();
    assert_eq!(
        titles,
        [
            "Auto-invite deferred (awaiting contact)",
            "HubSpot webhook: company created"
        ]
    );
    assert!(rest.next.is_none());
}
