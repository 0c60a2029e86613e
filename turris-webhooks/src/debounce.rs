//! Debouncing of compliance status changes, with diff-based consolidation.
//!
//! Changes are collected per (organization, webhook type). A window closes 60 s after its last
//! change or 10 min after its first, whichever comes first. Its payload lists every entity with
//! only the product/state pairs whose status at window end differs from the status at window
//! start, so a change that flips back is not sent; a window with nothing left sends nothing.
//!
//! The debouncer is pure: time is an argument, nothing sleeps, and [`DebouncerState`]
//! serializes so a server can persist it between flushes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::envelope::WebhookType;
use crate::payload::{
    ComplianceStatus, ComplianceStatusChanges, EntityChanges, EntityType, StatusChange,
};

/// Window lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebounceConfig {
    /// A window closes this long after its last change. Default 60 s.
    pub quiet: Duration,
    /// A window closes at the latest this long after its first change. Default 10 min.
    pub max_wait: Duration,
}

impl Default for DebounceConfig {
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(60),
            max_wait: Duration::from_secs(600),
        }
    }
}

/// One status change as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeEvent {
    /// The organization whose webhooks receive it.
    pub organization: String,
    /// Agency or agent (decides the webhook type).
    pub entity_type: EntityType,
    /// The entity's Turris id.
    pub entity_id: String,
    /// Its NPN, when known.
    pub npn: Option<String>,
    /// Its display name.
    pub name: String,
    /// Product.
    pub product: String,
    /// State code.
    pub state: String,
    /// Status before this change.
    pub previous_status: ComplianceStatus,
    /// Status after this change.
    pub status: ComplianceStatus,
    /// When it changed.
    pub at: DateTime<Utc>,
}

/// A consolidated payload ready to be wrapped in an envelope and delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeBatch {
    /// The organization (the envelope's `upstreamEntityId`).
    pub organization: String,
    /// Agency or agent status changes.
    pub webhook_type: WebhookType,
    /// The payload.
    pub payload: ComplianceStatusChanges,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PairWindow {
    product: String,
    state: String,
    start: ComplianceStatus,
    end: ComplianceStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntityWindow {
    entity_type: EntityType,
    entity_id: String,
    npn: Option<String>,
    name: String,
    pairs: Vec<PairWindow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Window {
    organization: String,
    webhook_type: WebhookType,
    first_change_at: DateTime<Utc>,
    last_change_at: DateTime<Utc>,
    entities: Vec<EntityWindow>,
}

/// Everything a debouncer holds; serialize it to persist open windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebouncerState {
    windows: Vec<Window>,
    ready: Vec<StatusChangeBatch>,
}

impl DebouncerState {
    /// Nothing open and nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty() && self.ready.is_empty()
    }
}

/// Collects status changes and releases consolidated payloads when windows close.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use std::time::Duration;
/// use turris_webhooks::{ComplianceStatus::*, Debouncer, EntityType, StatusChangeEvent};
///
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap();
/// let change = |from, to, secs| StatusChangeEvent {
///     organization: "org_1".into(),
///     entity_type: EntityType::Agency,
///     entity_id: "agency_1".into(),
///     npn: Some("123".into()),
///     name: "Acme".into(),
///     product: "life".into(),
///     state: "TX".into(),
///     previous_status: from,
///     status: to,
///     at: t0 + chrono::Duration::seconds(secs),
/// };
/// let mut debouncer = Debouncer::default();
/// debouncer.record(change(Compliant, Pending, 0));
/// debouncer.record(change(Pending, NonCompliant, 30));
/// assert!(debouncer.flush_due(t0 + chrono::Duration::seconds(89)).is_empty());
/// let batches = debouncer.flush_due(t0 + chrono::Duration::seconds(90));
/// let changes = &batches[0].payload.entities[0].changes;
/// assert_eq!((changes[0].previous_status, changes[0].status), (Compliant, NonCompliant));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Debouncer {
    config: DebounceConfig,
    state: DebouncerState,
}

fn plus(at: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    crate::clock::saturating_add(at, d)
}

impl Debouncer {
    /// An empty debouncer.
    pub fn new(config: DebounceConfig) -> Self {
        Self {
            config,
            state: DebouncerState::default(),
        }
    }

    /// A debouncer resuming from persisted state.
    pub fn from_state(config: DebounceConfig, state: DebouncerState) -> Self {
        Self { config, state }
    }

    /// The state, to persist.
    pub fn state(&self) -> &DebouncerState {
        &self.state
    }

    /// The configuration.
    pub fn config(&self) -> DebounceConfig {
        self.config
    }

    fn due_at(&self, w: &Window) -> DateTime<Utc> {
        plus(w.last_change_at, self.config.quiet).min(plus(w.first_change_at, self.config.max_wait))
    }

    /// Adds a change. If its window was already due at `change.at`, that window is closed
    /// first and the change opens a new one.
    pub fn record(&mut self, change: StatusChangeEvent) {
        let webhook_type = change.entity_type.status_change_type();
        let position =
            self.state.windows.iter().position(|w| {
                w.organization == change.organization && w.webhook_type == webhook_type
            });
        if let Some(i) = position {
            if self.due_at(&self.state.windows[i]) <= change.at {
                let window = self.state.windows.remove(i);
                self.close(window);
            }
        }
        let index =
            match self.state.windows.iter().position(|w| {
                w.organization == change.organization && w.webhook_type == webhook_type
            }) {
                Some(i) => i,
                None => {
                    self.state.windows.push(Window {
                        organization: change.organization.clone(),
                        webhook_type,
                        first_change_at: change.at,
                        last_change_at: change.at,
                        entities: Vec::new(),
                    });
                    self.state.windows.len() - 1
                }
            };
        let window = &mut self.state.windows[index];
        window.last_change_at = window.last_change_at.max(change.at);
        let entity = match window
            .entities
            .iter()
            .position(|e| e.entity_id == change.entity_id)
        {
            Some(i) => &mut window.entities[i],
            None => {
                window.entities.push(EntityWindow {
                    entity_type: change.entity_type,
                    entity_id: change.entity_id.clone(),
                    npn: None,
                    name: String::new(),
                    pairs: Vec::new(),
                });
                window.entities.last_mut().expect("just pushed")
            }
        };
        entity.npn = change.npn;
        entity.name = change.name;
        match entity
            .pairs
            .iter_mut()
            .find(|p| p.product == change.product && p.state == change.state)
        {
            Some(pair) => pair.end = change.status,
            None => entity.pairs.push(PairWindow {
                product: change.product,
                state: change.state,
                start: change.previous_status,
                end: change.status,
            }),
        }
    }

    fn close(&mut self, window: Window) {
        let window_end = self.due_at(&window);
        let entities: Vec<EntityChanges> = window
            .entities
            .into_iter()
            .filter_map(|e| {
                let changes: Vec<StatusChange> = e
                    .pairs
                    .into_iter()
                    .filter(|p| p.start != p.end)
                    .map(|p| StatusChange {
                        product: p.product,
                        state: p.state,
                        previous_status: p.start,
                        status: p.end,
                    })
                    .collect();
                (!changes.is_empty()).then_some(EntityChanges {
                    entity_type: e.entity_type,
                    entity_id: e.entity_id,
                    npn: e.npn,
                    name: e.name,
                    changes,
                })
            })
            .collect();
        if entities.is_empty() {
            return;
        }
        self.state.ready.push(StatusChangeBatch {
            organization: window.organization,
            webhook_type: window.webhook_type,
            payload: ComplianceStatusChanges {
                window_start: window.first_change_at,
                window_end,
                entities,
            },
        });
    }

    /// Closes every window due at `now` and returns the payloads to send (windows whose
    /// changes all cancelled out produce none).
    pub fn flush_due(&mut self, now: DateTime<Utc>) -> Vec<StatusChangeBatch> {
        let windows = std::mem::take(&mut self.state.windows);
        let (due, open): (Vec<Window>, Vec<Window>) =
            windows.into_iter().partition(|w| self.due_at(w) <= now);
        self.state.windows = open;
        for window in due {
            self.close(window);
        }
        std::mem::take(&mut self.state.ready)
    }

    /// When the next window closes (`None` when nothing is open).
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let ready = self.state.ready.iter().map(|b| b.payload.window_end);
        self.state
            .windows
            .iter()
            .map(|w| self.due_at(w))
            .chain(ready)
            .min()
    }
}
