//! In-memory state: portals with their records, properties, associations and lists; the app's
//! OAuth tokens and webhook settings. One mutex guards it; handlers hold it briefly and never
//! across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::crm::associations::Associations;
use super::crm::lists::List;
use super::crm::properties::{self, PropertyDef};
use super::error::{ApiError, ApiResult};
use super::faults::Traffic;
use super::oauth::OAuthStore;
use super::rate_limit::RateLimiter;
use super::webhooks::{Dispatcher, WebhookApp};

/// A CRM object type the sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ObjectKind {
    /// Companies (`0-2`).
    Companies,
    /// Contacts (`0-1`).
    Contacts,
    /// Notes (`0-46`).
    Notes,
}

impl ObjectKind {
    /// Every kind.
    pub const ALL: [ObjectKind; 3] = [
        ObjectKind::Companies,
        ObjectKind::Contacts,
        ObjectKind::Notes,
    ];

    /// The plural name used in paths (`companies`).
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::Companies => "companies",
            ObjectKind::Contacts => "contacts",
            ObjectKind::Notes => "notes",
        }
    }

    /// The singular name used in webhook subscription types (`company`).
    pub fn singular(self) -> &'static str {
        match self {
            ObjectKind::Companies => "company",
            ObjectKind::Contacts => "contact",
            ObjectKind::Notes => "note",
        }
    }

    /// HubSpot's object type id (`0-2`).
    pub fn type_id(self) -> &'static str {
        match self {
            ObjectKind::Companies => "0-2",
            ObjectKind::Contacts => "0-1",
            ObjectKind::Notes => "0-46",
        }
    }

    /// Position in [`ObjectKind::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            ObjectKind::Companies => 0,
            ObjectKind::Contacts => 1,
            ObjectKind::Notes => 2,
        }
    }

    /// Parses a plural, singular or type-id name (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.to_ascii_lowercase();
        ObjectKind::ALL
            .into_iter()
            .find(|k| s == k.plural() || s == k.singular() || s == k.type_id())
    }

    /// The name of the property that holds the creation time.
    pub(crate) fn created_property(self) -> &'static str {
        match self {
            ObjectKind::Notes => "hs_createdate",
            _ => "createdate",
        }
    }

    /// The name of the property that holds the last modification time.
    pub(crate) fn modified_property(self) -> &'static str {
        match self {
            ObjectKind::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The properties HubSpot returns when none are requested.
    pub(crate) fn default_properties(self) -> &'static [&'static str] {
        match self {
            ObjectKind::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            ObjectKind::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            ObjectKind::Notes => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }
}

/// A record as the control API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The record id (a numeric string).
    pub id: String,
    /// Every property with a value, including `hs_object_id` and the dates.
    pub properties: BTreeMap<String, String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Whether it was archived (deleted).
    pub archived: bool,
}

impl Record {
    /// A property value, if set.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }
}

/// A stored record.
#[derive(Clone, Debug)]
pub(crate) struct StoredRecord {
    pub(crate) id: u64,
    pub(crate) props: BTreeMap<String, String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) archived_at: Option<DateTime<Utc>>,
}

/// HubSpot's timestamp format (`2024-01-02T03:04:05.678Z`).
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl StoredRecord {
    /// The public view.
    pub(crate) fn to_record(&self) -> Record {
        Record {
            id: self.id.to_string(),
            properties: self.props.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            archived: self.archived_at.is_some(),
        }
    }

    /// The JSON HubSpot answers for this record, with the requested properties (or the defaults).
    pub(crate) fn to_json(&self, kind: ObjectKind, requested: Option<&[String]>) -> Value {
        let mut props = Map::new();
        match requested {
            Some(names) if !names.is_empty() => {
                for name in names {
                    props.insert(
                        name.clone(),
                        self.props.get(name).map_or(Value::Null, |v| json!(v)),
                    );
                }
                for name in [
                    "hs_object_id",
                    kind.created_property(),
                    kind.modified_property(),
                ] {
                    if let Some(v) = self.props.get(name) {
                        props.insert(name.to_string(), json!(v));
                    }
                }
            }
            _ => {
                for name in kind.default_properties() {
                    props.insert(
                        (*name).to_string(),
                        self.props.get(*name).map_or(Value::Null, |v| json!(v)),
                    );
                }
            }
        }
        let mut out = json!({
            "id": self.id.to_string(),
            "properties": props,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived_at.is_some(),
        });
        if let (Some(at), Some(obj)) = (self.archived_at, out.as_object_mut()) {
            obj.insert("archivedAt".into(), json!(iso(at)));
        }
        out
    }

    /// The JSON of a freshly written record: every property that has a value.
    pub(crate) fn to_json_all(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "properties": self.props,
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": false,
        })
    }
}

/// The records of one object type in one portal.
#[derive(Default, Debug)]
pub(crate) struct ObjectStore {
    /// Live records by id (ordered, for cursor paging).
    pub(crate) live: BTreeMap<u64, StoredRecord>,
    /// Archived records by id.
    pub(crate) archived: BTreeMap<u64, StoredRecord>,
    /// Unique-value indexes: property → value → id.
    pub(crate) unique: HashMap<String, HashMap<String, u64>>,
    /// Ids merged into another record: merged id → surviving id.
    pub(crate) merged_into: HashMap<u64, u64>,
}

impl ObjectStore {
    /// The live id an id now stands for (following merges).
    pub(crate) fn resolve(&self, id: u64) -> Option<u64> {
        let mut current = id;
        for _ in 0..16 {
            if self.live.contains_key(&current) {
                return Some(current);
            }
            current = *self.merged_into.get(&current)?;
        }
        None
    }

    /// The id holding `value` for unique property `prop`.
    pub(crate) fn find_unique(&self, prop: &str, value: &str) -> Option<u64> {
        self.unique
            .get(prop)?
            .get(&unique_key(prop, value))
            .copied()
    }
}

/// The index key of a unique value (emails compare case-insensitively).
pub(crate) fn unique_key(prop: &str, value: &str) -> String {
    if prop == "email" {
        value.to_lowercase()
    } else {
        value.to_string()
    }
}

/// One HubSpot account.
#[derive(Debug)]
pub(crate) struct Portal {
    pub(crate) id: u64,
    pub(crate) app_installed: bool,
    stores: [ObjectStore; 3],
    properties: [BTreeMap<String, PropertyDef>; 3],
    pub(crate) associations: Associations,
    pub(crate) lists: BTreeMap<u64, List>,
    pub(crate) next_object_id: u64,
    pub(crate) next_list_id: u64,
    /// When set, search reads this copy instead of the live records (a lagging index).
    pub(crate) search_index: Option<[BTreeMap<u64, StoredRecord>; 3]>,
    /// Properties an admin made required, per kind (enforced from API version 2026-09).
    pub(crate) required: [Vec<String>; 3],
}

impl Portal {
    /// A portal seeded with HubSpot's standard properties.
    pub(crate) fn new(id: u64, app_installed: bool) -> Self {
        Self {
            id,
            app_installed,
            stores: Default::default(),
            properties: ObjectKind::ALL.map(properties::standard),
            associations: Associations::default(),
            lists: BTreeMap::new(),
            next_object_id: 1001,
            next_list_id: 1,
            search_index: None,
            required: Default::default(),
        }
    }

    /// The properties of `kind` an admin made required.
    pub(crate) fn required_properties(&self, kind: ObjectKind) -> Vec<String> {
        self.required[kind.index()].clone()
    }

    /// The store of `kind`.
    pub(crate) fn store(&self, kind: ObjectKind) -> &ObjectStore {
        &self.stores[kind.index()]
    }

    /// The store of `kind`, mutable.
    pub(crate) fn store_mut(&mut self, kind: ObjectKind) -> &mut ObjectStore {
        &mut self.stores[kind.index()]
    }

    /// The property catalog of `kind`.
    pub(crate) fn props(&self, kind: ObjectKind) -> &BTreeMap<String, PropertyDef> {
        &self.properties[kind.index()]
    }

    /// The names of `kind`'s properties whose values are unique.
    pub(crate) fn unique_properties(&self, kind: ObjectKind) -> std::collections::HashSet<String> {
        self.props(kind)
            .values()
            .filter(|d| d.has_unique_value)
            .map(|d| d.name.clone())
            .collect()
    }

    /// The property catalog of `kind`, mutable.
    pub(crate) fn props_mut(&mut self, kind: ObjectKind) -> &mut BTreeMap<String, PropertyDef> {
        &mut self.properties[kind.index()]
    }

    /// The records search sees: the lagging index when there is one, else the live records.
    pub(crate) fn searchable(&self, kind: ObjectKind) -> &BTreeMap<u64, StoredRecord> {
        match &self.search_index {
            Some(index) => &index[kind.index()],
            None => &self.store(kind).live,
        }
    }

    /// Copies the live records into the search index (when search lags).
    pub(crate) fn refresh_search_index(&mut self) {
        if self.search_index.is_some() {
            self.search_index = Some(ObjectKind::ALL.map(|k| self.store(k).live.clone()));
        }
    }

    /// A live record.
    pub(crate) fn record(&self, kind: ObjectKind, id: u64) -> Option<&StoredRecord> {
        self.store(kind).live.get(&id)
    }
}

/// Everything the sandbox remembers.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) app_id: u64,
    pub(crate) portals: BTreeMap<u64, Portal>,
    pub(crate) oauth: OAuthStore,
    pub(crate) webhooks: WebhookApp,
    pub(crate) journal: crate::journal::Journal,
}

impl World {
    /// A portal, or 404.
    pub(crate) fn portal(&self, id: u64) -> ApiResult<&Portal> {
        self.portals
            .get(&id)
            .ok_or_else(|| ApiError::not_found(format!("portal {id} does not exist")))
    }

    /// A portal, or 404, mutable.
    pub(crate) fn portal_mut(&mut self, id: u64) -> ApiResult<&mut Portal> {
        self.portals
            .get_mut(&id)
            .ok_or_else(|| ApiError::not_found(format!("portal {id} does not exist")))
    }
}

/// The fixed identity of the sandbox's public app, private app and developer account.
#[derive(Clone)]
pub(crate) struct Identity {
    pub(crate) base_url: String,
    pub(crate) app_id: u64,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) developer_api_key: String,
    pub(crate) private_app_id: u64,
    pub(crate) user_id: u64,
    pub(crate) default_portal: u64,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("developer_api_key", &"[redacted]")
            .field("private_app_id", &self.private_app_id)
            .field("default_portal", &self.default_portal)
            .finish()
    }
}

/// State shared by every handler and the control handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) identity: Identity,
    pub(crate) world: Mutex<World>,
    pub(crate) limiter: Mutex<RateLimiter>,
    pub(crate) traffic: Mutex<Traffic>,
    pub(crate) webhooks: Dispatcher,
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Locks the world.
    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }
}

/// Random alphanumeric text of `len` characters.
pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}
