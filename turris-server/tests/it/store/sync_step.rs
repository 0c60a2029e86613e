//! Inbound sync's steps: one record's create (record, link, activity, invitation) in one
//! transaction, idempotent per HubSpot object; deferred invitations sent once.

use turris_core::activity::{ActivityKind, NewActivity, Outcome};
use turris_core::ids::{
    AgencyContactId, AgencyId, AgentId, ContractTemplateId, HubSpotId, OrganizationId,
};
use turris_core::record::{Agency, AgencyContact, AgencyDraft, Agent, AgentDraft};
use turris_core::store::{ActivityStore, Link, LinkKind, LinkStore, RecordStore, TurrisRef};
use turris_server::store::{
    DbError, InboundEventStore, InboundStep, InboundStepStore, Invitation, InvitationId,
    InvitationStatus, InvitationStore, InvitationWrite, RecordPageStore, RecordWrite, SqlStore,
    StepOutcome, SyncedRecord,
};

use super::{org, t};
use crate::support::db::TestDb;

fn agency(id: &str) -> Agency {
    Agency {
        id: AgencyId::parse(id).unwrap(),
        data: AgencyDraft::named("Lakeside"),
    }
}

fn link_to(turris: TurrisRef, hubspot: &str) -> Link {
    Link {
        turris,
        hubspot_id: HubSpotId::parse(hubspot).unwrap(),
    }
}

fn link_of(agency: &Agency, hubspot: &str) -> Link {
    link_to(TurrisRef::Agency(agency.id.clone()), hubspot)
}

fn contact(
    id: &str,
    agency: &AgencyId,
    first_name: Option<&str>,
    email: Option<&str>,
) -> AgencyContact {
    AgencyContact {
        id: AgencyContactId::parse(id).unwrap(),
        agency_id: agency.clone(),
        first_name: first_name.map(Into::into),
        last_name: None,
        email: email.map(Into::into),
    }
}

fn row(kind: ActivityKind, message: &str) -> NewActivity {
    NewActivity::success(kind, t(0)).message(message)
}

fn invitation(agency: &Agency, template: &str) -> InvitationWrite {
    InvitationWrite {
        invitation: Invitation {
            id: InvitationId::new(),
            agency_id: agency.id.clone(),
            contract_template_id: Some(ContractTemplateId::parse(template).unwrap()),
            status: InvitationStatus::Deferred,
            sent_to: None,
            created_at: t(0),
            updated_at: t(0),
        },
        stored: row(ActivityKind::AutoInviteDeferred, "deferred"),
        template_missing: NewActivity::new(
            ActivityKind::AutoInviteNeedsAttention,
            Outcome::Failure,
            t(0),
        )
        .message("template gone"),
    }
}

/// A step inserting `record` with its link and one activity row.
fn insert<'a>(
    record: SyncedRecord<'a>,
    link: &'a Link,
    kind: ActivityKind,
    message: &str,
) -> InboundStep<'a> {
    InboundStep {
        record: Some(RecordWrite::Insert(record)),
        link: Some(link),
        activity: vec![row(kind, message)],
        ..InboundStep::default()
    }
}

fn create<'a>(
    agency: &'a Agency,
    link: &'a Link,
    invite: Option<InvitationWrite>,
) -> InboundStep<'a> {
    InboundStep {
        invitation: invite,
        ..insert(
            SyncedRecord::Agency(agency),
            link,
            ActivityKind::WebhookCompanyCreated,
            "agency created",
        )
    }
}

async fn commit(store: &SqlStore, org: &OrganizationId, step: &InboundStep<'_>) -> StepOutcome {
    store.commit_inbound_step(org, step).await.unwrap()
}

async fn with_standard_template(store: &SqlStore, org: &OrganizationId) {
    let template = ContractTemplateId::parse("standard").unwrap();
    store
        .create_contract_template(org, &template, "Standard", t(0))
        .await
        .unwrap();
}

async fn invitations(store: &SqlStore, org: &OrganizationId) -> Vec<Invitation> {
    store.list_invitations(org, None).await.unwrap()
}

async fn messages(store: &SqlStore, org: &OrganizationId) -> Vec<String> {
    let mut all: Vec<String> = store
        .activity_page(org, None, None, 100)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|a| a.entry.details.message.unwrap_or_default())
        .collect();
    all.sort();
    all
}

async fn an_inbound_create_writes_record_link_activity_and_invitation_together(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    with_standard_template(&store, &acme).await;
    let lakeside = agency("a-1");
    let link = link_of(&lakeside, "10");
    let invite = Some(invitation(&lakeside, "standard"));
    let outcome = commit(&store, &acme, &create(&lakeside, &link, invite)).await;
    assert_eq!(outcome, StepOutcome::Committed);
    assert_eq!(
        store.get_agency(&acme, &lakeside.id).await.unwrap(),
        Some(lakeside.clone())
    );
    assert_eq!(
        store
            .link_by_hubspot(&acme, link.turris.kind(), &link.hubspot_id)
            .await
            .unwrap(),
        Some(link.clone())
    );
    let invitations = store
        .list_invitations(&acme, Some(&lakeside.id))
        .await
        .unwrap();
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0].status, InvitationStatus::Deferred);
    assert_eq!(
        messages(&store, &acme).await,
        ["agency created", "deferred"]
    );
}

async fn a_create_retried_for_an_object_already_linked_writes_no_second_record(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    let first = agency("a-1");
    let first_link = link_of(&first, "10");
    commit(&store, &acme, &create(&first, &first_link, None)).await;
    // The retry after a crash (or another replica with the same event) plans a create with a
    // fresh id: the unique link on the HubSpot object turns it away, whole.
    let second = agency("a-2");
    let second_link = link_of(&second, "10");
    let invite = Some(invitation(&second, "standard"));
    let outcome = commit(&replica, &acme, &create(&second, &second_link, invite)).await;
    assert_eq!(outcome, StepOutcome::AlreadyLinked(first_link.clone()));
    let agencies = store.list_agencies(&acme, None, 100).await.unwrap();
    assert_eq!(agencies, std::slice::from_ref(&first), "no second agency");
    assert!(invitations(&store, &acme).await.is_empty());
    assert_eq!(
        messages(&store, &acme).await,
        ["agency created"],
        "no second row"
    );

    // Committing the same step again (the very same record) is a no-op link, not a conflict
    // and not a second record.
    let update = InboundStep {
        record: Some(RecordWrite::Update {
            record: SyncedRecord::Agency(&first),
            read: SyncedRecord::Agency(&first),
        }),
        link: Some(&first_link),
        ..InboundStep::default()
    };
    assert_eq!(commit(&store, &acme, &update).await, StepOutcome::Committed);
}

async fn a_link_moves_or_is_dropped_together_with_its_row_or_not_at_all(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let (first, second) = (agency("a-1"), agency("a-2"));
    commit(&store, &acme, &create(&first, &link_of(&first, "10"), None)).await;
    commit(
        &store,
        &acme,
        &create(&second, &link_of(&second, "20"), None),
    )
    .await;
    let first_ref = TurrisRef::Agency(first.id.clone());
    let linked = || async { store.link_by_turris(&acme, &first_ref).await.unwrap() };
    let moving = |to: &'static str| {
        let link = link_of(&first, to);
        let message = format!("now follows {to}");
        (
            link,
            vec![row(ActivityKind::WebhookCompanyPropertyChanged, &message)],
        )
    };
    // A merge into an object another agency holds meanwhile: turned away whole, the old link
    // stays and no row is written.
    let (taken, activity) = moving("20");
    let step = InboundStep {
        unlink: Some(&first_ref),
        link: Some(&taken),
        activity,
        ..InboundStep::default()
    };
    let outcome = commit(&store, &acme, &step).await;
    assert_eq!(outcome, StepOutcome::AlreadyLinked(link_of(&second, "20")));
    assert_eq!(linked().await, Some(link_of(&first, "10")));
    assert_eq!(messages(&store, &acme).await, ["agency created"; 2]);
    // A merge into a free object: the link moves, with its row.
    let (free, activity) = moving("30");
    let step = InboundStep {
        unlink: Some(&first_ref),
        link: Some(&free),
        activity,
        ..InboundStep::default()
    };
    assert_eq!(commit(&store, &acme, &step).await, StepOutcome::Committed);
    assert_eq!(linked().await, Some(free.clone()));
    let old = HubSpotId::parse("10").unwrap();
    let old_holder = store.link_by_hubspot(&acme, LinkKind::Agency, &old).await;
    assert_eq!(old_holder.unwrap(), None);
    // A deletion: the link goes, with its row.
    let step = InboundStep {
        unlink: Some(&first_ref),
        activity: vec![row(
            ActivityKind::WebhookCompanyPropertyChanged,
            "link removed",
        )],
        ..InboundStep::default()
    };
    assert_eq!(commit(&store, &acme, &step).await, StepOutcome::Committed);
    assert_eq!(linked().await, None);
    assert_eq!(
        messages(&store, &acme).await,
        [
            "agency created",
            "agency created",
            "link removed",
            "now follows 30"
        ]
    );
}

async fn a_step_that_fails_midway_writes_nothing(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let lakeside = agency("a-1");
    let link = link_of(&lakeside, "10");
    commit(&store, &acme, &create(&lakeside, &link, None)).await;
    // A contact of an unknown agency: its insert writes no row, so the step fails and its
    // link and activity row, which would come after, are not written either.
    let gone = AgencyId::parse("gone").unwrap();
    let orphan = contact("c-1", &gone, None, Some("ada@example.com"));
    let orphan_link = link_to(TurrisRef::AgencyContact(orphan.id.clone()), "20");
    let step = insert(
        SyncedRecord::AgencyContact(&orphan),
        &orphan_link,
        ActivityKind::WebhookContactCreated,
        "contact created",
    );
    assert!(matches!(
        store.commit_inbound_step(&acme, &step).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(
        store
            .link_by_hubspot(&acme, orphan_link.turris.kind(), &orphan_link.hubspot_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(messages(&store, &acme).await, ["agency created"]);
}

async fn an_invitation_naming_a_deleted_template_is_logged_for_attention_with_its_agency(
    db: &TestDb,
) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let lakeside = agency("a-1");
    let link = link_of(&lakeside, "10");
    let invite = Some(invitation(&lakeside, "gone"));
    commit(&store, &acme, &create(&lakeside, &link, invite)).await;
    assert!(
        store
            .get_agency(&acme, &lakeside.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(invitations(&store, &acme).await.is_empty());
    assert_eq!(
        messages(&store, &acme).await,
        ["agency created", "template gone"]
    );
}

async fn a_deferred_invitation_is_found_once_its_agency_has_an_email_and_sent_once(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    with_standard_template(&store, &acme).await;
    let lakeside = agency("a-1");
    let link = link_of(&lakeside, "10");
    let invite = invitation(&lakeside, "standard");
    let id = invite.invitation.id;
    commit(&store, &acme, &create(&lakeside, &link, Some(invite))).await;
    assert!(
        store
            .deferred_invitations_ready(10)
            .await
            .unwrap()
            .is_empty(),
        "no contact yet"
    );
    let ada = contact("c-1", &lakeside.id, None, Some("ada@example.com"));
    store.insert_agency_contact(&acme, &ada).await.unwrap();
    assert_eq!(
        store.deferred_invitations_ready(10).await.unwrap(),
        [(acme.clone(), lakeside.id.clone())]
    );
    let sent = row(ActivityKind::AutoInviteSent, "sent");
    assert!(
        store
            .send_deferred_invitation(&acme, id, "ada@example.com", &sent, t(1))
            .await
            .unwrap()
    );
    assert!(
        !replica
            .send_deferred_invitation(&acme, id, "ada@example.com", &sent, t(1))
            .await
            .unwrap(),
        "sent once"
    );
    assert!(
        store
            .deferred_invitations_ready(10)
            .await
            .unwrap()
            .is_empty()
    );
    let stored = store.invitation(&acme, id).await.unwrap().unwrap();
    assert_eq!(stored.status, InvitationStatus::Sent);
    assert_eq!(stored.sent_to.as_deref(), Some("ada@example.com"));
    assert_eq!(
        messages(&store, &acme).await,
        ["agency created", "deferred", "sent"]
    );
}

async fn one_contact_is_linked_to_an_agent_or_an_agency_contact_never_both(db: &TestDb) {
    let store = db.store();
    let replica = db.second_store().await;
    let acme = org(&store, "acme").await;
    let lakeside = agency("a-1");
    let lakeside_link = link_of(&lakeside, "10");
    commit(&store, &acme, &create(&lakeside, &lakeside_link, None)).await;
    let agent = Agent {
        id: AgentId::parse("g-1").unwrap(),
        data: AgentDraft::named("Grace", "Hopper"),
    };
    let agent_link = link_to(TurrisRef::Agent(agent.id.clone()), "500");
    let as_agent = insert(
        SyncedRecord::Agent(&agent),
        &agent_link,
        ActivityKind::WebhookContactCreated,
        "agent created",
    );
    assert_eq!(
        commit(&store, &acme, &as_agent).await,
        StepOutcome::Committed
    );
    // Another step (a replica that read the contact a moment later, when it no longer matched
    // the agent filter) plans the same contact as an agency contact: turned away, whole.
    let grace = contact("c-1", &lakeside.id, Some("Grace"), None);
    let contact_link = link_to(TurrisRef::AgencyContact(grace.id.clone()), "500");
    let as_contact = insert(
        SyncedRecord::AgencyContact(&grace),
        &contact_link,
        ActivityKind::WebhookContactCreated,
        "agency contact created",
    );
    assert_eq!(
        commit(&replica, &acme, &as_contact).await,
        StepOutcome::AlreadyLinked(agent_link.clone())
    );
    assert!(
        store
            .list_agency_contacts(&acme, &lakeside.id)
            .await
            .unwrap()
            .is_empty(),
        "no agency contact"
    );
    assert_eq!(
        store
            .link_by_hubspot(
                &acme,
                LinkKind::AgencyContact,
                &HubSpotId::parse("500").unwrap()
            )
            .await
            .unwrap(),
        None
    );
    // The database itself refuses the second link, whoever writes it.
    assert!(store.put_link(&acme, &contact_link).await.is_err());
}

/// Commits an inbound update of `read` to `record`, pushed back, with one row.
async fn update(
    store: &SqlStore,
    org: &OrganizationId,
    record: &Agency,
    read: &Agency,
) -> StepOutcome {
    let step = InboundStep {
        record: Some(RecordWrite::Update {
            record: SyncedRecord::Agency(record),
            read: SyncedRecord::Agency(read),
        }),
        push_back: Some(t(1)),
        activity: vec![row(
            ActivityKind::WebhookCompanyPropertyChanged,
            "agency updated",
        )],
        ..InboundStep::default()
    };
    commit(store, org, &step).await
}

async fn an_update_of_a_record_changed_since_it_was_read_writes_nothing(db: &TestDb) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let read = agency("a-1");
    let link = link_of(&read, "10");
    let created = insert(
        SyncedRecord::Agency(&read),
        &link,
        ActivityKind::WebhookCompanyCreated,
        "agency created",
    );
    assert_eq!(
        commit(&store, &acme, &created).await,
        StepOutcome::Committed
    );
    // An API edit lands after the step read the agency.
    let mut edited = read.clone();
    edited.data.phone = Some("+1 555 0100".into());
    store.update_agency(&acme, &edited).await.unwrap();
    let mut renamed = read.clone();
    renamed.data.name = "Lakeside Brokers".into();
    assert_eq!(
        update(&store, &acme, &renamed, &read).await,
        StepOutcome::Changed
    );
    assert_eq!(
        store.get_agency(&acme, &read.id).await.unwrap(),
        Some(edited.clone()),
        "the API edit stays"
    );
    assert_eq!(messages(&store, &acme).await, ["agency created"], "no row");
    // Planned again against what is stored now, it commits both edits.
    let mut both = edited.clone();
    both.data.name = "Lakeside Brokers".into();
    assert_eq!(
        update(&store, &acme, &both, &edited).await,
        StepOutcome::Committed
    );
    assert_eq!(store.get_agency(&acme, &read.id).await.unwrap(), Some(both));
}

/// Seed 604 of the sync simulation: Turris holds a user's edit already when our older value
/// turns out to have replaced it in HubSpot. The step changes nothing, and its push back
/// compares with the record as HubSpot holds it, so the push writes the edited field.
async fn a_push_back_that_changes_nothing_compares_with_the_record_as_hubspot_holds_it(
    db: &TestDb,
) {
    let store = db.store();
    let acme = org(&store, "acme").await;
    let mut current = agency("a-1");
    current.data.city = Some("Buffalo".into());
    let link = link_of(&current, "10");
    let created = insert(
        SyncedRecord::Agency(&current),
        &link,
        ActivityKind::WebhookCompanyCreated,
        "agency created",
    );
    assert_eq!(
        commit(&store, &acme, &created).await,
        StepOutcome::Committed
    );
    let mut held = current.clone();
    held.data.city = Some("Pittsburgh".into());
    let step = InboundStep {
        record: Some(RecordWrite::Update {
            record: SyncedRecord::Agency(&current),
            read: SyncedRecord::Agency(&current),
        }),
        push_back: Some(t(1)),
        held_in_hubspot: Some(SyncedRecord::Agency(&held)),
        activity: vec![row(
            ActivityKind::WebhookCompanyPropertyChanged,
            "agency unchanged",
        )],
        ..InboundStep::default()
    };
    assert_eq!(commit(&store, &acme, &step).await, StepOutcome::Committed);
    let turris = TurrisRef::Agency(current.id.clone());
    let queued = store.pending_turris_edits(&acme, &turris).await.unwrap();
    assert_eq!(queued.len(), 1, "one push back");
    assert_eq!(queued[0].0, t(1), "dated by the user's edit");
    let previous: AgencyDraft = serde_json::from_str(queued[0].1.as_deref().unwrap()).unwrap();
    assert_eq!(previous, held.data, "compared with what HubSpot holds");
    assert_eq!(
        store.get_agency(&acme, &current.id).await.unwrap(),
        Some(current.clone()),
        "Turris unchanged"
    );
    // A push back of an update compares with the data before the step.
    let mut renamed = current.clone();
    renamed.data.name = "Lakeside Brokers".into();
    assert_eq!(
        update(&store, &acme, &renamed, &current).await,
        StepOutcome::Committed
    );
    let queued = store.pending_turris_edits(&acme, &turris).await.unwrap();
    assert_eq!(queued.len(), 2);
    let previous: AgencyDraft = serde_json::from_str(queued[1].1.as_deref().unwrap()).unwrap();
    assert_eq!(previous, current.data);
}

both_databases!(db:
    a_push_back_that_changes_nothing_compares_with_the_record_as_hubspot_holds_it,
    an_update_of_a_record_changed_since_it_was_read_writes_nothing,
    an_inbound_create_writes_record_link_activity_and_invitation_together,
    a_create_retried_for_an_object_already_linked_writes_no_second_record,
    a_step_that_fails_midway_writes_nothing,
    a_link_moves_or_is_dropped_together_with_its_row_or_not_at_all,
    an_invitation_naming_a_deleted_template_is_logged_for_attention_with_its_agency,
    a_deferred_invitation_is_found_once_its_agency_has_an_email_and_sent_once,
    one_contact_is_linked_to_an_agent_or_an_agency_contact_never_both,
);
