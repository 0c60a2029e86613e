//! The webhooks journal (2026-03): changes recorded per subscription, read by offset.
//!
//! Each CRM mutation that matches a journal subscription (per portal and object type, with
//! actions and, for updates, properties) appends one entry: an offset, a publish time and a
//! file of events served at a URL carrying its own signature (no bearer, like HubSpot's
//! pre-signed file URLs). Entries live three days of sandbox time; `Control::advance_journal_clock`
//! moves that clock so expiry can be tested. An offset older than the retention answers 404,
//! as HubSpot's does. Journal calls need the app's client-credentials token and are not rate
//! limited. Only the global (`journal`) and local (`journal-local`, `installPortalId`) reads of
//! single entries are served, not the batch forms or snapshots.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, parse_json};
use crate::state::{ObjectKind, Shared};
use crate::webhooks::{Change, ChangeSource};

/// How long HubSpot keeps journal entries.
const RETENTION: Duration = Duration::days(3);

/// One entry.
#[derive(Debug, Clone)]
struct Entry {
    offset: u64,
    portal_id: u64,
    published_at: DateTime<Utc>,
    signature: String,
    events: Vec<Value>,
}

/// One journal subscription.
#[derive(Debug, Clone)]
struct Subscription {
    id: u64,
    portal_id: u64,
    object_type_id: String,
    actions: Vec<String>,
    properties: Vec<String>,
}

impl Subscription {
    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "subscriptionType": "OBJECT",
            "portalId": self.portal_id,
            "objectTypeId": self.object_type_id,
            "actions": self.actions,
            "properties": self.properties,
        })
    }

    fn wants(
        &self,
        portal_id: u64,
        kind: ObjectKind,
        action: &str,
        property: Option<&str>,
    ) -> bool {
        self.portal_id == portal_id
            && self.object_type_id == kind.type_id()
            && self.actions.iter().any(|a| a == action)
            && match property {
                Some(p) if !self.properties.is_empty() => self.properties.iter().any(|q| q == p),
                _ => true,
            }
    }
}

/// The journal's state.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: VecDeque<Entry>,
    next_offset: u64,
    /// Every offset up to this one has expired (0: none).
    expired_through: u64,
    /// Sandbox time runs this far ahead of the wall clock.
    skew: Duration,
    subscriptions: BTreeMap<u64, Subscription>,
    next_subscription: u64,
    app_tokens: BTreeMap<String, DateTime<Utc>>,
}

impl Journal {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.skew
    }

    /// Moves sandbox time forward (entries older than three days expire).
    pub(crate) fn advance(&mut self, by: Duration) {
        self.skew += by;
        self.prune();
    }

    fn prune(&mut self) {
        let cutoff = self.now() - RETENTION;
        while self
            .entries
            .front()
            .is_some_and(|e| e.published_at < cutoff)
        {
            if let Some(e) = self.entries.pop_front() {
                self.expired_through = e.offset;
            }
        }
    }

    /// A client-credentials token for the journal (lives 30 minutes).
    pub(crate) fn issue_app_token(&mut self) -> String {
        let token = format!("app-{}", hex::encode(rand::random::<[u8; 16]>()));
        self.app_tokens
            .insert(token.clone(), Utc::now() + Duration::minutes(30));
        token
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = crate::auth::bearer(headers).unwrap_or_default();
        match self.app_tokens.get(token) {
            Some(expires) if *expires > Utc::now() => Ok(()),
            _ => Err(ApiError::invalid_auth(
                "The journal needs the app's client-credentials token (grant_type=client_credentials).",
            )),
        }
    }

    /// Records what `changes` in `portal_id` mean for the journal's subscriptions.
    pub(crate) fn record(
        &mut self,
        portal_id: u64,
        changes: &[Change],
        source: ChangeSource,
        occurred: i64,
    ) {
        if self.subscriptions.is_empty() || changes.is_empty() {
            return;
        }
        let (change_source, source_id) = match source {
            ChangeSource::Integration { app_id } => ("INTEGRATION", app_id.to_string()),
            ChangeSource::CrmUi { user_id } => ("CRM_UI", format!("userId:{user_id}")),
        };
        let base = |kind: ObjectKind, id: u64, action: &str| {
            json!({
                "type": "OBJECT", "portalId": portal_id, "occurredAt": occurred,
                "objectTypeId": kind.type_id(), "objectId": id, "action": action,
                "changeSource": change_source, "sourceId": source_id, "propertyChanges": [],
            })
        };
        let events: Vec<Value> = changes
            .iter()
            .filter_map(|change| {
                let (kind, action, property) = what(change);
                let wanted = self
                    .subscriptions
                    .values()
                    .any(|s| s.wants(portal_id, kind, action, property));
                wanted.then(|| event_of(change, base))
            })
            .collect();
        if events.is_empty() {
            return;
        }
        self.next_offset += 1;
        let entry = Entry {
            offset: self.next_offset,
            portal_id,
            published_at: self.now(),
            signature: hex::encode(rand::random::<[u8; 16]>()),
            events,
        };
        self.entries.push_back(entry);
    }

    fn page(&self, entry: &Entry, base_url: &str) -> Value {
        json!({
            "currentOffset": entry.offset.to_string(),
            "expiresAt": entry.published_at + RETENTION,
            "url": format!("{base_url}/_sandbox/journal/files/{}?sig={}", entry.offset, entry.signature),
        })
    }
}

/// The object kind, journal action and (for updates) property of a change.
fn what(change: &Change) -> (ObjectKind, &'static str, Option<&str>) {
    match change {
        Change::Created { kind, .. } => (*kind, "CREATE", None),
        Change::PropertyChanged { kind, name, .. } => (*kind, "UPDATE", Some(name.as_str())),
        Change::Deleted { kind, .. } => (*kind, "DELETE", None),
        Change::Merged { kind, .. } => (*kind, "MERGE", None),
        Change::Association { from, removed, .. } => (
            from.0,
            if *removed {
                "ASSOCIATION_REMOVED"
            } else {
                "ASSOCIATION_ADDED"
            },
            None,
        ),
    }
}

/// The journal event of a change, from `base(kind, object id, action)`.
fn event_of(change: &Change, base: impl Fn(ObjectKind, u64, &str) -> Value) -> Value {
    let (kind, action, _) = what(change);
    match change {
        Change::Created { id, properties, .. } => {
            let mut e = base(kind, *id, action);
            e["propertyChanges"] = properties
                .iter()
                .map(|(n, v)| json!({"propertyName": n, "newValue": v}))
                .collect();
            e
        }
        Change::PropertyChanged {
            id, name, value, ..
        } => {
            let mut e = base(kind, *id, action);
            e["propertyChanges"] = json!([{"propertyName": name, "newValue": value}]);
            e
        }
        Change::Deleted { id, .. } => base(kind, *id, action),
        Change::Merged {
            primary, merged, ..
        } => {
            let mut e = base(kind, *primary, action);
            e["mergedObjectIds"] = json!([primary, merged]);
            e
        }
        Change::Association { from, to, .. } => {
            let mut e = base(kind, from.1, action);
            e["toObjectId"] = json!(to.1);
            e["associationType"] = json!(format!(
                "{}_TO_{}",
                from.0.singular().to_uppercase(),
                to.0.singular().to_uppercase()
            ));
            e
        }
    }
}

#[derive(Deserialize)]
struct Local {
    #[serde(rename = "installPortalId")]
    install_portal_id: Option<u64>,
}

/// Which entry a read asks for.
enum Read {
    Earliest,
    Latest,
    After(String),
}

fn read(shared: &Shared, headers: &HeaderMap, portal: Option<u64>, which: Read) -> Response {
    let mut world = shared.world();
    let journal = &mut world.journal;
    if let Err(e) = journal.authorized(headers) {
        return e.into_response();
    }
    journal.prune();
    let mut visible = journal
        .entries
        .iter()
        .filter(|e| portal.is_none_or(|p| e.portal_id == p));
    let found = match which {
        Read::Earliest => visible.next(),
        Read::Latest => visible.next_back(),
        Read::After(offset) => {
            let Ok(offset) = offset.parse::<u64>() else {
                return ApiError::validation(format!("{offset:?} is not a journal offset"))
                    .into_response();
            };
            if offset > journal.next_offset || offset < journal.expired_through {
                return ApiError::not_found(format!(
                    "Offset {offset} has expired or does not exist; start again from the earliest entry."
                ))
                .into_response();
            }
            visible.find(|e| e.offset > offset)
        }
    };
    match found {
        Some(entry) => axum::Json(journal.page(entry, &shared.identity.base_url)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn earliest(State(s): State<Arc<Shared>>, h: HeaderMap, q: Query<Local>) -> Response {
    read(&s, &h, q.install_portal_id, Read::Earliest)
}

async fn latest(State(s): State<Arc<Shared>>, h: HeaderMap, q: Query<Local>) -> Response {
    read(&s, &h, q.install_portal_id, Read::Latest)
}

async fn next(
    State(s): State<Arc<Shared>>,
    h: HeaderMap,
    q: Query<Local>,
    Path(offset): Path<String>,
) -> Response {
    read(&s, &h, q.install_portal_id, Read::After(offset))
}

#[derive(Deserialize)]
struct Signature {
    sig: Option<String>,
}

async fn file(
    State(shared): State<Arc<Shared>>,
    Path(offset): Path<u64>,
    Query(q): Query<Signature>,
) -> Response {
    let mut world = shared.world();
    world.journal.prune();
    let entry = world.journal.entries.iter().find(|e| e.offset == offset);
    match entry {
        Some(e) if q.sig.as_deref() == Some(e.signature.as_str()) => axum::Json(json!({
            "offset": e.offset.to_string(),
            "publishedAt": e.published_at,
            "journalEvents": e.events,
        }))
        .into_response(),
        Some(_) => StatusCode::FORBIDDEN.into_response(),
        None => ApiError::not_found(format!("journal file {offset} has expired")).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionInput {
    subscription_type: String,
    portal_id: u64,
    object_type_id: String,
    actions: Vec<String>,
    #[serde(default)]
    properties: Vec<String>,
}

async fn upsert(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut world = shared.world();
    if let Err(e) = world.journal.authorized(&headers) {
        return e.into_response();
    }
    let input: SubscriptionInput = match parse_json(&body) {
        Ok(i) => i,
        Err(e) => return e.into_response(),
    };
    if input.subscription_type != "OBJECT" || input.actions.is_empty() {
        return ApiError::validation("subscriptionType must be OBJECT, with at least one action")
            .into_response();
    }
    if world.portal(input.portal_id).is_err() {
        return ApiError::validation(format!(
            "the app is not installed in portal {}",
            input.portal_id
        ))
        .into_response();
    }
    let journal = &mut world.journal;
    let existing = journal
        .subscriptions
        .values()
        .find(|s| s.portal_id == input.portal_id && s.object_type_id == input.object_type_id)
        .map(|s| s.id);
    let id = existing.unwrap_or_else(|| {
        journal.next_subscription += 1;
        journal.next_subscription
    });
    let subscription = Subscription {
        id,
        portal_id: input.portal_id,
        object_type_id: input.object_type_id,
        actions: input.actions,
        properties: input.properties,
    };
    let out = subscription.json();
    journal.subscriptions.insert(id, subscription);
    axum::Json(out).into_response()
}

async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let world = shared.world();
    if let Err(e) = world.journal.authorized(&headers) {
        return e.into_response();
    }
    let results: Vec<Value> = world
        .journal
        .subscriptions
        .values()
        .map(Subscription::json)
        .collect();
    axum::Json(json!({ "results": results })).into_response()
}

async fn remove(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut world = shared.world();
    if let Err(e) = world.journal.authorized(&headers) {
        return e.into_response();
    }
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.journal.subscriptions.remove(&id));
    match removed {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => ApiError::not_found(format!("subscription {id} does not exist")).into_response(),
    }
}

/// The journal's routes (2026-03), its subscriptions, and the files its entries point to.
pub(crate) fn router() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for variant in ["journal", "journal-local"] {
        let base = format!("/webhooks-journal/{variant}/2026-03");
        router = router
            .route(&format!("{base}/earliest"), get(earliest))
            .route(&format!("{base}/latest"), get(latest))
            .route(&format!("{base}/offset/{{offset}}/next"), get(next));
    }
    router
        .route(
            "/webhooks-journal/subscriptions/2026-03",
            post(upsert).get(list),
        )
        .route(
            "/webhooks-journal/subscriptions/2026-03/{id}",
            delete(remove),
        )
        .route("/_sandbox/journal/files/{offset}", get(file))
}
