//! One organization's inbound step: its companies, then its contacts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use turris_core::activity::{ActivityKind, NewActivity};
use turris_core::ids::{AgencyId, HubSpotId, OrganizationId};
use turris_core::integration::IntegrationSettings;
use turris_core::mapping::{AgencyContactMapping, AgentMapping, RecordMapping};
use turris_core::matrix::{Direction, SyncObject};
use turris_core::planner::events::{ObjectEvents, Triage};
use turris_core::planner::{
    ContactFacts, ContactRole, ECHO_WINDOW, EchoInfo, PlanContext, RecentWrite, SkipReason,
    contact_role,
};
use turris_core::property::{ObjectSchema, ObjectType, PropertyMap};
use turris_core::store::{Link, LinkKind, TurrisRef};
use turris_hubspot::HubSpotClient;
use turris_hubspot::webhooks::EventObject;

use super::apply::{Applied, KindContext};
use super::events::objects_of;
use super::links::{COMPANY, CONTACT, HubSpotObject};
use super::{Settled, SyncError, paused};
use crate::app::AppState;
use crate::hubspot::ConnectionError;
use crate::store::ClaimedInboundEvent;
use crate::sync::kinds::{Agencies, AgencyContacts, Agents};

/// The planning contexts of a step's contacts.
struct ContactContexts<'a, 'm> {
    agent: Option<&'a PlanContext<'m, AgentMapping>>,
    agency_contact: &'a PlanContext<'m, AgencyContactMapping>,
    echo: EchoInfo<'m>,
}

/// The contact property naming its primary company.
const PRIMARY_COMPANY: &str = "associatedcompanyid";

/// Syncs one organization's claimed events.
pub(super) async fn sync(
    state: &AppState,
    org: &OrganizationId,
    events: &[ClaimedInboundEvent],
) -> Result<Settled, SyncError> {
    let Some(mut settings) = state.db().load_settings(org).await? else {
        tracing::warn!(org = %org, "inbound events of an organization without settings dropped");
        return Ok(Settled::Done);
    };
    if !settings.connection.is_active() {
        return Ok(paused());
    }
    let Some(credentials) = state.db().hubspot_credentials(org).await? else {
        tracing::warn!(org = %org, "inbound events of a disconnected organization dropped");
        return Ok(Settled::Done);
    };
    if let Some(until) = crate::hubspot::daily_limit(state, org, credentials.portal_id).await? {
        let error = ConnectionError::DailyLimit { until }.to_string();
        return Ok(Settled::Postponed { error, until });
    }
    let events = || events.iter().map(|e| &e.event);
    let companies = objects_of(events(), EventObject::Company);
    let contacts = objects_of(events(), EventObject::Contact);
    if companies.is_empty() && contacts.is_empty() {
        return Ok(Settled::Done);
    }
    let client = crate::hubspot::client(state, org, &credentials)?;
    let app_id = credentials.app_id.map(|id| id.to_string());
    let sync = OrgSync {
        state,
        org,
        client: &client,
        app_id: app_id.as_deref(),
    };
    // Companies first: a contact of a company created in the same step finds its agency.
    let mut newly_synced = Vec::new();
    if !companies.is_empty() {
        let schema = sync.schema(&mut settings, ObjectType::Company).await?;
        newly_synced = sync.companies(&settings, &schema, &companies).await?;
    }
    if !contacts.is_empty() {
        let schema = sync.schema(&mut settings, ObjectType::Contact).await?;
        sync.contacts(&settings, &schema, &contacts).await?;
    }
    // Contacts that came before their company: queued for the next step.
    sync.follow_contacts(&settings, &newly_synced).await?;
    Ok(Settled::Done)
}

/// One organization's inbound step.
pub(super) struct OrgSync<'a> {
    pub(super) state: &'a AppState,
    pub(super) org: &'a OrganizationId,
    pub(super) client: &'a HubSpotClient,
    app_id: Option<&'a str>,
}

impl OrgSync<'_> {
    /// The cached property schema, fetched (and cached) when missing.
    async fn schema(
        &self,
        settings: &mut IntegrationSettings,
        object: ObjectType,
    ) -> Result<ObjectSchema, SyncError> {
        if let Some(schema) = settings.property_schema(object) {
            return Ok(schema.clone());
        }
        let schema = crate::hubspot::fetch_schema(self.client, object).await?;
        self.state
            .db()
            .save_property_schema(self.org, &schema)
            .await?;
        settings.set_property_schema(schema.clone());
        Ok(schema)
    }

    pub(super) async fn log(&self, activity: NewActivity) -> Result<(), SyncError> {
        self.state.db().append_activity(self.org, &activity).await?;
        Ok(())
    }

    /// Performs the merges and deletions of `objects`, and returns the objects to read.
    async fn triage(
        &self,
        objects: &BTreeMap<HubSpotId, ObjectEvents>,
        object_kind: &HubSpotObject,
        now: DateTime<Utc>,
    ) -> Result<Vec<HubSpotId>, SyncError> {
        let mut to_read = Vec::new();
        for (id, object) in objects {
            for (primary, merged) in object.merges() {
                self.merged(object_kind, primary, merged, now).await?;
            }
            let synced_creation = self.state.sync().synced_creation(self.org, id);
            match object.triage(synced_creation) {
                Triage::DropLink => self.deleted(object_kind, id, now).await?,
                Triage::Read => to_read.push(id.clone()),
                Triage::Nothing => {}
            }
        }
        Ok(to_read)
    }

    /// One Skipped row per object: inbound sync is off for them.
    async fn skip_all(
        &self,
        objects: &BTreeMap<HubSpotId, ObjectEvents>,
        ids: &[HubSpotId],
        title: fn(&ObjectEvents) -> ActivityKind,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        for id in ids {
            let row = NewActivity::webhook_skipped(SkipReason::InboundDisabled.to_string(), now)
                .message(title(&objects[id]).title())
                .hubspot(id);
            self.log(row).await?;
        }
        Ok(())
    }

    /// What we wrote to these objects lately, to recognise echoes.
    pub(super) async fn recent_writes(
        &self,
        ids: &[HubSpotId],
        now: DateTime<Utc>,
    ) -> Result<Vec<RecentWrite>, SyncError> {
        let since = now - ECHO_WINDOW - chrono::Duration::minutes(1);
        Ok(self
            .state
            .db()
            .recent_hubspot_writes(self.org, ids, since)
            .await?)
    }

    /// Remembers that the object's creation was synced, so the property events HubSpot sends
    /// with it need no read when they arrive later.
    fn remember_creation(&self, id: &HubSpotId, object: &ObjectEvents) {
        if let Some(creation) = object.creation() {
            self.state
                .sync()
                .remember_creation(self.org, id, creation.occurred_at);
        }
    }

    /// Syncs the companies; returns those that became synced agencies (created or linked) in
    /// this step, or whose creation this step carried (a step run again after a failure).
    async fn companies(
        &self,
        settings: &IntegrationSettings,
        schema: &ObjectSchema,
        objects: &BTreeMap<HubSpotId, ObjectEvents>,
    ) -> Result<Vec<HubSpotId>, SyncError> {
        let now = Utc::now();
        let to_read = self.triage(objects, &COMPANY, now).await?;
        let mut newly_synced = Vec::new();
        if to_read.is_empty() {
            return Ok(newly_synced);
        }
        let mapping = &settings.mapping.agency;
        if !settings
            .matrix
            .is_enabled(SyncObject::Agency, Direction::Inbound)
        {
            self.skip_all(objects, &to_read, company_title, now).await?;
            return Ok(newly_synced);
        }
        let current = self
            .read_current(
                &turris_hubspot::crm::ObjectType::Companies,
                &to_read,
                &mapping.read_properties(),
            )
            .await?;
        let recent = self.recent_writes(&to_read, now).await?;
        let ctx = PlanContext {
            mapping,
            schema,
            matrix: &settings.matrix,
            echo: EchoInfo {
                app_id: self.app_id,
                recent_writes: &recent,
                pending: &[],
            },
        };
        for id in &to_read {
            let object = &objects[id];
            let Some(properties) = current.get(id) else {
                let row =
                    NewActivity::webhook_skipped("the company no longer exists in HubSpot", now)
                        .hubspot(id);
                self.log(row).await?;
                continue;
            };
            let kind = KindContext::<Agencies> {
                plan: &ctx,
                invitations: &settings.invitations,
            };
            let mut synced = object.creation().is_some();
            for change in object.changes(properties, &ctx.echo) {
                // A new agency's invitation is written with it (`RecordKind::created_with`).
                let applied = self.apply::<Agencies>(&kind, &change, None).await?;
                synced |= matches!(applied, Applied::Created(_) | Applied::Linked);
            }
            if synced && self.link(&[LinkKind::Agency], id).await?.is_some() {
                newly_synced.push(id.clone());
            }
            self.remember_creation(id, object);
        }
        Ok(newly_synced)
    }

    async fn contacts(
        &self,
        settings: &IntegrationSettings,
        schema: &ObjectSchema,
        objects: &BTreeMap<HubSpotId, ObjectEvents>,
    ) -> Result<(), SyncError> {
        let now = Utc::now();
        let to_read = self.triage(objects, &CONTACT, now).await?;
        if to_read.is_empty() {
            return Ok(());
        }
        let matrix = &settings.matrix;
        let agent_mapping = settings.mapping.agent.as_ref();
        let agents_on =
            agent_mapping.is_some() && matrix.is_enabled(SyncObject::Agents, Direction::Inbound);
        let contacts_on = matrix.is_enabled(SyncObject::AgencyContacts, Direction::Inbound);
        if !agents_on && !contacts_on {
            return self.skip_all(objects, &to_read, contact_title, now).await;
        }
        let contact_mapping = AgencyContactMapping::from_settings(&settings.mapping);
        let mut wanted = agent_mapping
            .map(RecordMapping::read_properties)
            .unwrap_or_default();
        for property in contact_mapping.read_properties() {
            if !wanted.contains(&property) {
                wanted.push(property);
            }
        }
        wanted.push(PRIMARY_COMPANY);
        let current = self
            .read_current(
                &turris_hubspot::crm::ObjectType::Contacts,
                &to_read,
                &wanted,
            )
            .await?;
        let recent = self.recent_writes(&to_read, now).await?;
        let echo = EchoInfo {
            app_id: self.app_id,
            recent_writes: &recent,
            pending: &[],
        };
        let agent_ctx = agent_mapping.map(|mapping| PlanContext {
            mapping,
            schema,
            matrix,
            echo,
        });
        let contact_ctx = PlanContext {
            mapping: &contact_mapping,
            schema,
            matrix,
            echo,
        };
        for id in &to_read {
            let Some(properties) = current.get(id) else {
                continue;
            };
            let contexts = ContactContexts {
                agent: agent_ctx.as_ref(),
                agency_contact: &contact_ctx,
                echo,
            };
            self.contact(settings, &contexts, &objects[id], properties, now)
                .await?;
        }
        Ok(())
    }

    /// Syncs one contact as an agent, an agency contact or neither (core's `contact_role`).
    async fn contact(
        &self,
        settings: &IntegrationSettings,
        contexts: &ContactContexts<'_, '_>,
        object: &ObjectEvents,
        properties: &PropertyMap,
        now: DateTime<Utc>,
    ) -> Result<(), SyncError> {
        let (matrix, agent_mapping) = (&settings.matrix, settings.mapping.agent.as_ref());
        let id = &object.object_id;
        let agency = self.synced_agency(properties).await?;
        let linked = self.link(CONTACT.links, id).await?;
        let echo = contexts.echo;
        let changes = object.changes(properties, &echo);
        let facts = ContactFacts {
            properties,
            linked: linked.as_ref().map(|l| l.turris.kind()),
            of_synced_agency: agency.is_some(),
            echo_of_own_write: !changes.is_empty() && changes.iter().all(|c| echo.is_echo(c)),
        };
        match (contact_role(matrix, agent_mapping, facts), contexts.agent) {
            (ContactRole::Agent, Some(ctx)) => {
                let kind = KindContext::<Agents> {
                    plan: ctx,
                    invitations: &settings.invitations,
                };
                for change in &changes {
                    self.apply::<Agents>(&kind, change, agency.as_ref()).await?;
                }
            }
            (ContactRole::AgencyContact, _) => {
                let kind = KindContext::<AgencyContacts> {
                    plan: contexts.agency_contact,
                    invitations: &settings.invitations,
                };
                for change in &changes {
                    let applied = self
                        .apply::<AgencyContacts>(&kind, change, agency.as_ref())
                        .await?;
                    // A new contact (or an email added later) releases a deferred invitation.
                    if let Applied::Created(contact) | Applied::Updated(contact) = applied {
                        crate::sync::invites::contact_added(
                            self.state,
                            self.org,
                            &contact.agency_id,
                        )
                        .await;
                    }
                }
            }
            (role, _) => {
                let reason = match role {
                    ContactRole::Skip { reason } => reason,
                    _ => SkipReason::InboundDisabled,
                };
                let row = NewActivity::webhook_skipped(reason.to_string(), now)
                    .message(contact_title(object).title())
                    .turris_opt(linked.as_ref().map(|l| l.turris.id()))
                    .hubspot(id);
                self.log(row).await?;
            }
        }
        self.remember_creation(id, object);
        Ok(())
    }

    /// The link of a HubSpot object, among links of `kinds` (in that order).
    pub(super) async fn link(
        &self,
        kinds: &[LinkKind],
        id: &HubSpotId,
    ) -> Result<Option<Link>, SyncError> {
        let db = self.state.db();
        for kind in kinds {
            if let Some(link) = db.link_by_hubspot(self.org, *kind, id).await? {
                return Ok(Some(link));
            }
        }
        Ok(None)
    }

    /// The agency the contact's primary company is linked to, if any.
    async fn synced_agency(&self, properties: &PropertyMap) -> Result<Option<AgencyId>, SyncError> {
        let Some(company) = properties
            .get(PRIMARY_COMPANY)
            .and_then(|id| HubSpotId::parse(id).ok())
        else {
            return Ok(None);
        };
        let link = self.link(&[LinkKind::Agency], &company).await?;
        Ok(match link.map(|l| l.turris) {
            Some(TurrisRef::Agency(agency)) => Some(agency),
            _ => None,
        })
    }

    /// Current properties of `ids`, one batch read per 100 objects. Ids HubSpot does not know
    /// (deleted since) are absent.
    async fn read_current(
        &self,
        object: &turris_hubspot::crm::ObjectType,
        ids: &[HubSpotId],
        properties: &[&str],
    ) -> Result<BTreeMap<HubSpotId, PropertyMap>, SyncError> {
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        tracing::debug!(org = %self.org, objects = ids.len(), "reading current properties");
        let outcome = self
            .client
            .batch_read(object, &texts, properties, None)
            .await;
        if let Some(failure) = outcome.failed_chunks.into_iter().next() {
            return Err(ConnectionError::from(failure.error).into());
        }
        Ok(outcome
            .results
            .into_iter()
            .filter_map(|o| {
                let id = HubSpotId::parse(&o.id).ok()?;
                Some((id, PropertyMap::from(o.properties)))
            })
            .collect())
    }
}

/// The title a company's events stand for.
fn company_title(object: &ObjectEvents) -> ActivityKind {
    if object.was_created() {
        ActivityKind::WebhookCompanyCreated
    } else {
        ActivityKind::WebhookCompanyPropertyChanged
    }
}

/// The title a contact's events stand for.
fn contact_title(object: &ObjectEvents) -> ActivityKind {
    if object.was_created() {
        ActivityKind::WebhookContactCreated
    } else {
        ActivityKind::WebhookContactPropertyChanged
    }
}
