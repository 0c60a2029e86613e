//! The end of a run: wait for quiescence (no webhook undelivered, no inbound event pending, no
//! push queued, twice in a row), watch a quiet period for writes nobody asked for, and read
//! both sides into a [`Snapshot`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use turris_hubspot_sandbox::{ObjectKind, Stats};

use super::Error;
use super::check::{ActivityRow, HubSpotRecord, LinkRow, Snapshot, TurrisRecord};
use super::runner::Runner;

/// The quiet period after quiescence in which nothing may be written.
const QUIET: Duration = Duration::from_secs(3);

/// HubSpot writes: every call but reads and searches.
fn writes(stats: &Stats) -> u64 {
    stats
        .calls
        .iter()
        .filter(|(endpoint, _)| {
            !endpoint.starts_with("GET ")
                && !endpoint.contains("/search")
                && endpoint.contains("/crm")
        })
        .map(|(_, n)| *n)
        .sum()
}

impl Runner {
    async fn backlog(&self) -> Result<(i64, i64, usize), Error> {
        let db = &self.cluster.db;
        let events = db
            .number("SELECT CAST(COUNT(*) AS TEXT) FROM inbound_events WHERE status = 'pending'")
            .await?;
        let pushes = db
            .number("SELECT CAST(COUNT(*) AS TEXT) FROM outbound_pushes")
            .await?;
        Ok((events, pushes, self.control.pending_webhooks()))
    }

    /// Waits (at most `deadline`) until nothing is left to do, then watches the quiet period.
    /// Returns whether it quiesced, and the writes and events of the quiet period.
    pub async fn quiesce(&mut self, deadline: Duration) -> Result<(bool, u64, i64), Error> {
        self.control.clear_faults();
        self.restart_all().await?;
        let until = Instant::now() + deadline;
        let mut calm = 0;
        let quiesced = loop {
            self.control.flush_webhooks().await;
            let (events, pushes, webhooks) = self.backlog().await?;
            calm = if events == 0 && pushes == 0 && webhooks == 0 {
                calm + 1
            } else {
                0
            };
            if calm >= 3 {
                break true;
            }
            if Instant::now() > until {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let count = "SELECT CAST(COUNT(*) AS TEXT) FROM inbound_events";
        let writes_before = writes(&self.control.stats());
        let events_before = self.cluster.db.number(count).await?;
        tokio::time::sleep(QUIET).await;
        self.control.flush_webhooks().await;
        let events_after = self.cluster.db.number(count).await?;
        Ok((
            quiesced,
            writes(&self.control.stats()) - writes_before,
            events_after - events_before,
        ))
    }

    /// Both sides as they are now.
    pub async fn snapshot(&mut self) -> Result<Snapshot, Error> {
        let db = &self.cluster.db;
        let live = |kind| -> Vec<HubSpotRecord> {
            self.control
                .records(kind)
                .into_iter()
                .filter(|r| !r.archived)
                .map(|r| HubSpotRecord {
                    id: r.id,
                    properties: r.properties,
                })
                .collect()
        };
        let links: Vec<LinkRow> = db
            .rows("SELECT kind, turris_id, hubspot_id FROM links")
            .await?
            .into_iter()
            .map(|r| LinkRow {
                kind: text(&r, 0),
                turris_id: text(&r, 1),
                hubspot_id: text(&r, 2),
            })
            .collect();
        let agencies = db
            .rows("SELECT id, data FROM agencies")
            .await?
            .iter()
            .map(|r| turris_record(text(r, 0), None, &text(r, 1)))
            .collect();
        let agency_contacts = db
            .rows("SELECT id, agency_id, data FROM agency_contacts")
            .await?
            .iter()
            .map(|r| turris_record(text(r, 0), Some(text(r, 1)), &text(r, 2)))
            .collect();
        let activity = db
            .rows("SELECT entry FROM activity")
            .await?
            .iter()
            .map(|r| activity_row(&text(r, 0)))
            .collect();
        let invitations = db
            .rows("SELECT agency_id, status FROM invitations")
            .await?
            .iter()
            .map(|r| (text(r, 0), text(r, 1)))
            .collect();
        let (events_pending, pushes_pending, webhooks_pending) = self.backlog().await?;
        let events_failed = db
            .number("SELECT CAST(COUNT(*) AS TEXT) FROM inbound_events WHERE status = 'failed'")
            .await?;
        let expectations = self.world.expectations(&links);
        Ok(Snapshot {
            companies: live(ObjectKind::Companies),
            contacts: live(ObjectKind::Contacts),
            agencies,
            agency_contacts,
            links,
            activity,
            invitations,
            events_pending,
            events_failed,
            pushes_pending,
            webhooks_pending,
            expectations,
            ..Snapshot::default()
        })
    }
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn turris_record(id: String, agency_id: Option<String>, data: &str) -> TurrisRecord {
    let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let fields: BTreeMap<String, String> = data
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .filter(|(_, v)| !v.is_empty())
                .collect()
        })
        .unwrap_or_default();
    TurrisRecord {
        id,
        agency_id,
        fields,
    }
}

fn activity_row(entry: &str) -> ActivityRow {
    let e: Value = serde_json::from_str(entry).unwrap_or(Value::Null);
    let s = |v: &Value| v.as_str().map(str::to_owned);
    ActivityRow {
        title: s(&e["kind"]).unwrap_or_default(),
        status: s(&e["outcome"]).unwrap_or_default(),
        skip_reason: s(&e["details"]["skip_reason"]),
        message: s(&e["details"]["message"]),
        turris_id: s(&e["details"]["turris_id"]),
    }
}
