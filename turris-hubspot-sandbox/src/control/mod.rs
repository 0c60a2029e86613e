//! The control API: what a person does in HubSpot (creating and editing records, which produces
//! `CRM_UI` webhooks), what tests inspect (records, notes, associations, list memberships,
//! counters, webhook attempts) and the knobs they turn (uninstall, faults, latency, limits).
//! Available as Rust methods on [`Control`] and as HTTP under `/_sandbox/...`.
//!
//! The HTTP routes live in `http`.

mod http;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::crm::{associations, lists, objects, properties};
use super::error::{ApiError, ApiResult};
use super::faults::{Fault, Stats};
use super::oauth::TokenSet;
use super::rate_limit::RateLimits;
use super::state::{ObjectKind, Record, Shared, lock};
use super::webhooks::{ChangeSource, DeliveryAttempt, WebhookChaos, WebhookRetry};

pub(crate) use http::router;

/// A refused control operation, with the HubSpot status, category and message it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlError {
    /// HTTP status HubSpot would answer.
    pub status: u16,
    /// HubSpot error category.
    pub category: String,
    /// Message.
    pub message: String,
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.category, self.message)
    }
}

impl std::error::Error for ControlError {}

impl From<ApiError> for ControlError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status.as_u16(),
            category: e.category().to_string(),
            message: e.message().to_string(),
        }
    }
}

/// A list as the control API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListInfo {
    /// The list id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// `0-1` (contacts) or `0-2` (companies).
    pub object_type_id: String,
    /// `MANUAL`, `SNAPSHOT` or `DYNAMIC`.
    pub processing_type: String,
    /// Member record ids, ascending.
    pub members: Vec<String>,
}

/// Control of one portal of a running sandbox. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
    pub(crate) portal: u64,
}

fn to_map<K: Into<String>, V: Into<String>>(
    props: impl IntoIterator<Item = (K, V)>,
) -> Map<String, Value> {
    props
        .into_iter()
        .map(|(k, v)| (k.into(), Value::String(v.into())))
        .collect()
}

fn parse_record_id(kind: ObjectKind, id: &str) -> ApiResult<u64> {
    objects::parse_id(id).ok_or_else(|| objects::not_found(kind, id))
}

impl Control {
    /// The portal (hub id) this handle controls.
    pub fn portal_id(&self) -> u64 {
        self.portal
    }

    fn ui(&self) -> ChangeSource {
        ChangeSource::CrmUi {
            user_id: self.shared.identity.user_id,
        }
    }

    fn create_json(&self, kind: ObjectKind, props: &Map<String, Value>) -> ApiResult<Record> {
        objects::mutate(&self.shared, self.portal, self.ui(), |portal, changes| {
            let values = objects::prepare(portal, kind, props)?;
            objects::check_unique(portal, kind, &values, None)?;
            let id = objects::insert(portal, kind, values, changes);
            portal
                .record(kind, id)
                .map(|r| r.to_record())
                .ok_or_else(|| objects::not_found(kind, id))
        })
    }

    fn update_json(
        &self,
        kind: ObjectKind,
        id: &str,
        props: &Map<String, Value>,
    ) -> ApiResult<Record> {
        let id = parse_record_id(kind, id)?;
        objects::mutate(&self.shared, self.portal, self.ui(), |portal, changes| {
            if portal.record(kind, id).is_none() {
                return Err(objects::not_found(kind, id));
            }
            let values = objects::prepare(portal, kind, props)?;
            objects::check_unique(portal, kind, &values, Some(id))?;
            objects::apply(portal, kind, id, values, changes)?;
            portal
                .record(kind, id)
                .map(|r| r.to_record())
                .ok_or_else(|| objects::not_found(kind, id))
        })
    }

    /// Creates a record as a person in HubSpot would (webhooks say `CRM_UI`).
    pub fn create_record<K: Into<String>, V: Into<String>>(
        &self,
        kind: ObjectKind,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Record, ControlError> {
        Ok(self.create_json(kind, &to_map(props))?)
    }

    /// Edits a record as a person would; an empty value clears the property.
    pub fn update_record<K: Into<String>, V: Into<String>>(
        &self,
        kind: ObjectKind,
        id: &str,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Record, ControlError> {
        Ok(self.update_json(kind, id, &to_map(props))?)
    }

    /// Deletes (archives) a record as a person would.
    pub fn delete_record(&self, kind: ObjectKind, id: &str) -> Result<(), ControlError> {
        let id = parse_record_id(kind, id)?;
        objects::mutate(&self.shared, self.portal, self.ui(), |portal, changes| {
            if objects::archive(portal, kind, id, changes) {
                Ok(())
            } else {
                Err(objects::not_found(kind, id))
            }
        })?;
        Ok(())
    }

    /// Merges `merged_id` into `primary_id` as a person would (webhooks say `CRM_UI`).
    pub fn merge_records(
        &self,
        kind: ObjectKind,
        primary_id: &str,
        merged_id: &str,
    ) -> Result<Record, ControlError> {
        let primary = parse_record_id(kind, primary_id)?;
        let merged = parse_record_id(kind, merged_id)?;
        Ok(objects::mutate(
            &self.shared,
            self.portal,
            self.ui(),
            |portal, changes| {
                objects::merge(portal, kind, primary, merged, changes)?;
                portal
                    .record(kind, primary)
                    .map(|r| r.to_record())
                    .ok_or_else(|| objects::not_found(kind, primary))
            },
        )?)
    }

    /// Associates two records as a person would (default, unlabeled type; a contact's first
    /// company also becomes its primary company, recorded in `associatedcompanyid`).
    pub fn associate(
        &self,
        from: ObjectKind,
        from_id: &str,
        to: ObjectKind,
        to_id: &str,
    ) -> Result<(), ControlError> {
        let a = parse_record_id(from, from_id)?;
        let b = parse_record_id(to, to_id)?;
        let type_id = associations::default_type(from, to).ok_or_else(|| ControlError {
            status: 400,
            category: "VALIDATION_ERROR".into(),
            message: format!(
                "{} cannot be associated with {}",
                from.plural(),
                to.plural()
            ),
        })?;
        objects::mutate(&self.shared, self.portal, self.ui(), |portal, changes| {
            associations::associate(portal, (from, a), (to, b), type_id, changes)?;
            // In HubSpot's UI, a contact's first company becomes its primary company.
            let pair = match (from, to) {
                (ObjectKind::Contacts, ObjectKind::Companies) => Some((a, b)),
                (ObjectKind::Companies, ObjectKind::Contacts) => Some((b, a)),
                _ => None,
            };
            if let Some((contact, company)) = pair
                && associations::primary_company(portal, contact).is_none()
            {
                associations::link(
                    portal,
                    (ObjectKind::Contacts, contact),
                    (ObjectKind::Companies, company),
                    associations::PRIMARY_CONTACT_TO_COMPANY,
                    changes,
                );
            }
            Ok(())
        })?;
        Ok(())
    }

    /// A live record.
    pub fn record(&self, kind: ObjectKind, id: &str) -> Option<Record> {
        let id = objects::parse_id(id)?;
        let world = self.shared.world();
        world
            .portal(self.portal)
            .ok()?
            .record(kind, id)
            .map(|r| r.to_record())
    }

    /// Every live record of a kind, by ascending id.
    pub fn records(&self, kind: ObjectKind) -> Vec<Record> {
        let world = self.shared.world();
        world
            .portal(self.portal)
            .map(|p| p.store(kind).live.values().map(|r| r.to_record()).collect())
            .unwrap_or_default()
    }

    /// How many live records of a kind exist.
    pub fn count(&self, kind: ObjectKind) -> usize {
        let world = self.shared.world();
        world
            .portal(self.portal)
            .map(|p| p.store(kind).live.len())
            .unwrap_or_default()
    }

    /// The first live record whose property equals `value`.
    pub fn find_record(&self, kind: ObjectKind, property: &str, value: &str) -> Option<Record> {
        let world = self.shared.world();
        let portal = world.portal(self.portal).ok()?;
        portal
            .store(kind)
            .live
            .values()
            .find(|r| r.props.get(property).is_some_and(|v| v == value))
            .map(|r| r.to_record())
    }

    /// The ids of records of kind `to` associated with a record.
    pub fn associated_ids(&self, from: ObjectKind, id: &str, to: ObjectKind) -> Vec<String> {
        let Some(id) = objects::parse_id(id) else {
            return Vec::new();
        };
        let world = self.shared.world();
        world
            .portal(self.portal)
            .map(|p| {
                p.associations
                    .targets((from, id), to)
                    .into_iter()
                    .map(|(i, _)| i.to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The notes associated with a record.
    pub fn notes_of(&self, kind: ObjectKind, id: &str) -> Vec<Record> {
        self.associated_ids(kind, id, ObjectKind::Notes)
            .iter()
            .filter_map(|n| self.record(ObjectKind::Notes, n))
            .collect()
    }

    /// Every list of the portal with its members.
    pub fn lists(&self) -> Vec<ListInfo> {
        let world = self.shared.world();
        world
            .portal(self.portal)
            .map(|p| {
                p.lists
                    .values()
                    .map(|l| ListInfo {
                        id: l.id.to_string(),
                        name: l.name.clone(),
                        object_type_id: l.object_type_id.clone(),
                        processing_type: l.processing_type.clone(),
                        members: l.members.keys().map(u64::to_string).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The member ids of a list.
    pub fn list_members(&self, list_id: &str) -> Vec<String> {
        self.lists()
            .into_iter()
            .find(|l| l.id == list_id)
            .map(|l| l.members)
            .unwrap_or_default()
    }

    /// Creates a static list, as a person would.
    pub fn create_list(&self, name: &str, kind: ObjectKind) -> Result<String, ControlError> {
        let mut world = self.shared.world();
        let portal = world.portal_mut(self.portal)?;
        Ok(lists::create_list(portal, name, kind.type_id(), "MANUAL")?.to_string())
    }

    /// Creates a custom property from HubSpot's JSON definition
    /// (`{"name", "label", "type", "fieldType", "options"?, "hasUniqueValue"?}`).
    pub fn create_property(&self, kind: ObjectKind, definition: Value) -> Result<(), ControlError> {
        let input: properties::NewProperty = serde_json::from_value(definition)
            .map_err(|e| ControlError::from(ApiError::bad_input(e)))?;
        let mut world = self.shared.world();
        let portal = world.portal_mut(self.portal)?;
        let def = properties::build_custom(input, portal.props(kind))?;
        portal.props_mut(kind).insert(def.name.clone(), def);
        Ok(())
    }

    /// A property's definition as HubSpot answers it (`name`, `type`, `fieldType`, `options`,
    /// ...); `None` when `kind` has no such property.
    pub fn property(&self, kind: ObjectKind, name: &str) -> Option<Value> {
        let world = self.shared.world();
        let portal = world.portal(self.portal).ok()?;
        portal.props(kind).get(name).map(|def| def.to_json())
    }

    /// Makes `property` of `kind` required, as a portal admin can: from API version 2026-09 a
    /// create without it, or an update that clears it, is refused with 400 `VALIDATION_ERROR`
    /// (`MISSING_REQUIRED_PROPERTY`, `context.propertyName`); older versions are not checked.
    pub fn require_property(&self, kind: ObjectKind, property: &str) {
        let mut world = self.shared.world();
        if let Ok(portal) = world.portal_mut(self.portal) {
            let required = &mut portal.required[kind.index()];
            if !required.iter().any(|p| p == property) {
                required.push(property.to_owned());
            }
        }
    }

    /// Moves the webhooks journal's clock forward by `by`: entries older than three days of
    /// sandbox time expire, and reading after their offsets answers 404.
    pub fn advance_journal_clock(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
        self.shared.world().journal.advance(by);
    }

    /// Makes search lag behind writes, as HubSpot's index does: from now on search answers from
    /// a copy of the records taken now and at each [`Control::refresh_search_index`], so a record
    /// just written is not found yet. `false` goes back to searching the live records.
    pub fn set_search_lag(&self, lagging: bool) {
        let mut world = self.shared.world();
        if let Ok(portal) = world.portal_mut(self.portal) {
            portal.search_index = None;
            if lagging {
                portal.search_index = Some(Default::default());
                portal.refresh_search_index();
            }
        }
    }

    /// Lets a lagging search index catch up with every write so far.
    pub fn refresh_search_index(&self) {
        let mut world = self.shared.world();
        if let Ok(portal) = world.portal_mut(self.portal) {
            portal.refresh_search_index();
        }
    }

    /// Uninstalls the app from the portal: its tokens stop working, refreshes answer
    /// `BAD_REFRESH_TOKEN`, and webhooks stop.
    pub fn uninstall_app(&self) {
        let mut world = self.shared.world();
        if let Some(p) = world.portals.get_mut(&self.portal) {
            p.app_installed = false;
        }
        world.oauth.uninstall(self.portal);
    }

    /// Whether the app is installed in the portal.
    pub fn app_installed(&self) -> bool {
        let world = self.shared.world();
        world
            .portals
            .get(&self.portal)
            .is_some_and(|p| p.app_installed)
    }

    /// Installs the app and issues tokens, as if someone completed the OAuth flow.
    pub fn issue_tokens(&self, scopes: &[&str]) -> TokenSet {
        let mut world = self.shared.world();
        if let Some(p) = world.portals.get_mut(&self.portal) {
            p.app_installed = true;
        }
        world
            .oauth
            .issue(self.portal, scopes.iter().map(|s| s.to_string()).collect())
    }

    /// Whether a refresh invalidates the refresh token it used (every portal; see
    /// [`SandboxBuilder::strict_refresh_rotation`](crate::SandboxBuilder::strict_refresh_rotation)).
    pub fn set_strict_refresh_rotation(&self, strict: bool) {
        self.shared.world().oauth.strict_rotation = strict;
    }

    /// Makes every OAuth access token of the portal expire now.
    pub fn expire_access_tokens(&self) {
        self.shared.world().oauth.expire_access_tokens(self.portal);
    }

    /// Creates a Service Key for the portal, as an admin does in HubSpot's settings: a bearer
    /// token for REST calls only. Changes made with it come from no app (`sourceId` 0); it
    /// cannot manage webhook subscriptions or read the webhooks journal.
    pub fn create_service_key(&self) -> String {
        self.shared.world().oauth.issue_service_key(self.portal)
    }

    /// The private-app token of the portal.
    pub fn private_app_token(&self) -> Option<String> {
        self.shared
            .world()
            .oauth
            .private_token(self.portal)
            .map(str::to_string)
    }

    /// Subscribes the app to an event type (active), as its developer would.
    pub fn subscribe(
        &self,
        event_type: &str,
        property_name: Option<&str>,
    ) -> Result<String, ControlError> {
        Ok(self
            .shared
            .world()
            .webhooks
            .subscribe(event_type, property_name, true)?
            .to_string())
    }

    /// Sets (or clears) the URL webhooks are delivered to.
    pub fn set_webhook_target(&self, url: Option<&str>) {
        self.shared
            .world()
            .webhooks
            .set_target(url.map(str::to_string));
    }

    /// Changes how webhook deliveries are retried.
    pub fn set_webhook_retry(&self, retry: WebhookRetry) {
        self.shared.webhooks.set_retry(retry);
    }

    /// Makes deliveries duplicated and/or out of order, as HubSpot may send them.
    pub fn set_webhook_chaos(&self, chaos: WebhookChaos) {
        self.shared.webhooks.set_chaos(chaos);
    }

    /// Sends queued webhooks now (skipping backoff) and waits until each batch was acknowledged
    /// or given up.
    pub async fn flush_webhooks(&self) {
        self.shared.webhooks.flush().await;
    }

    /// Waits until each queued webhook batch was acknowledged or given up, on its own schedule.
    pub async fn wait_for_deliveries(&self) {
        self.shared.webhooks.wait_idle().await;
    }

    /// Webhook events not yet acknowledged or given up.
    pub fn pending_webhooks(&self) -> usize {
        self.shared.webhooks.outstanding()
    }

    /// Every delivery attempt so far (the most recent 10,000).
    pub fn webhook_attempts(&self) -> Vec<DeliveryAttempt> {
        self.shared.webhooks.attempts()
    }

    /// Every acknowledged event so far (the most recent 10,000), as last sent.
    pub fn delivered_events(&self) -> Vec<Value> {
        self.shared.webhooks.delivered()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.traffic).stats.clone()
    }

    /// Zeroes the counters (and forgets recent requests in the rate limiter).
    pub fn reset_stats(&self) {
        lock(&self.shared.traffic).stats = Stats::default();
        lock(&self.shared.limiter).reset();
    }

    /// Plans a fault.
    pub fn inject_fault(&self, fault: Fault) {
        lock(&self.shared.traffic).faults.push((fault, 0));
    }

    /// Drops every planned fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.traffic).faults.clear();
    }

    /// Adds latency to every API call.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.traffic).latency = latency;
    }

    /// Changes the rate limits (and forgets recent requests).
    pub fn set_rate_limits(&self, limits: RateLimits) {
        let mut limiter = lock(&self.shared.limiter);
        limiter.limits = limits;
        limiter.reset();
    }

    /// The rate limits in force.
    pub fn rate_limits(&self) -> RateLimits {
        lock(&self.shared.limiter).limits
    }
}
