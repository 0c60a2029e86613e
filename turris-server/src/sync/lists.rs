//! The lists worker: keeps the static HubSpot lists that mirror tags
//! ([`turris_core::tags::list_changes`]) following the tags Turris writes.
//!
//! Every second it leases the tagged records whose tags changed ([`crate::store::ListStore`],
//! a 15 s fenced lease) and, per organization and per mirrored tag and object, adds and removes
//! them with one membership call each (harmless to repeat, so a crash only repeats calls). The
//! list is found by its fixed name or made on first use, and made again when HubSpot says it
//! is gone. A missing scope turns that tag's list off with an activity row saying what to do;
//! a 429 or 5xx leaves the records due again after a backoff; nothing else waits on them.

use std::collections::BTreeSet;

use chrono::Utc;
use turris_core::activity::{ActivityDetails, ActivityKind, NewActivity, Outcome};
use turris_core::audit::{CrmObject, CrmOperation, CrmSyncEntry, SyncTrigger};
use turris_core::ids::OrganizationId;
use turris_core::integration::ConnectionStatus;
use turris_core::property::ObjectType;
use turris_core::tags::{ListChanges, Tag, list_changes, list_name};
use turris_hubspot::HubSpotClient;
use turris_hubspot::crm::ObjectType as HubSpotObject;

use crate::app::AppState;
use crate::store::{DbError, ListMember};
use crate::sync::lease::LEASE;
use crate::workers::Shutdown;

/// The worker loop: runs until `shutdown` fires.
pub async fn run(state: AppState, shutdown: Shutdown) {
    let step = |s: AppState| async move { step(&s).await };
    super::poll_steps(state, shutdown, super::WRITER_POLL, "lists", step).await
}

/// Leases due records and brings their lists up to date; `false` when there were none.
pub async fn step(state: &AppState) -> Result<bool, DbError> {
    let members = state
        .db()
        .claim_list_members(Utc::now(), super::WRITER_CLAIM, LEASE)
        .await?;
    if members.is_empty() {
        return Ok(false);
    }
    for (org, members) in super::by_organization(members, |i| &i.organization) {
        organization(state, &org, members).await?;
    }
    Ok(true)
}

/// A record of one step, with what its lists ask and what was made of it.
struct Pending {
    member: ListMember,
    changes: ListChanges,
    done: BTreeSet<Tag>,
    failed: bool,
}

async fn organization(
    state: &AppState,
    org: &OrganizationId,
    members: Vec<ListMember>,
) -> Result<(), DbError> {
    let db = state.db();
    let settings = db.load_settings(org).await?.unwrap_or_default();
    let credentials = db.hubspot_credentials(org).await?;
    let mirrored = match settings.crm.tags {
        true => settings.crm.tag_lists.clone(),
        false => BTreeSet::new(),
    };
    let mut pending: Vec<Pending> = members
        .into_iter()
        .map(|member| Pending {
            changes: list_changes(&member.tags, &member.listed, &mirrored),
            member,
            done: BTreeSet::new(),
            failed: false,
        })
        .collect();
    let paused = settings.connection.status == ConnectionStatus::Error;
    let work = pending.iter().any(|p| !p.changes.is_empty());
    match (credentials, paused) {
        (Some(_), true) if work => pending.iter_mut().for_each(|p| p.failed = true),
        (Some(credentials), false) if work => {
            match crate::hubspot::client(state, org, &credentials) {
                Ok(client) => {
                    let lists = Lists {
                        state,
                        org,
                        client: &client,
                    };
                    for tag in &mirrored {
                        for object in [ObjectType::Company, ObjectType::Contact] {
                            if let Made::Off = lists.follow(*tag, object, &mut pending).await? {
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(org = %org, error = %e, "lists wait: no HubSpot client");
                    pending.iter_mut().for_each(|p| p.failed = true);
                }
            }
        }
        // Not connected, or nothing mirrored: the lists are left as they are.
        _ => {}
    }
    for p in pending {
        let listed = p.changes.apply(&p.member.listed, &p.done);
        let retry_at = p.failed.then(|| {
            let delay = match paused {
                true => super::WRITER_PAUSED_RETRY,
                false => super::retry_delay(p.member.attempts).unwrap_or(super::RETRY_CAP),
            };
            Utc::now() + delay
        });
        match db.settle_list_member(&p.member, &listed, retry_at).await {
            Err(DbError::LeaseLost) => tracing::warn!(org = %org, record = %p.member.hubspot_id,
                "list member lease lost: another worker has it"),
            other => other?,
        }
    }
    Ok(())
}

/// What became of one list's calls.
#[derive(Clone, Copy)]
enum Made {
    /// HubSpot took them.
    Done,
    /// Tried again later (a 429, a 5xx, no answer).
    Later,
    /// The tag's list was turned off (HubSpot refused for good).
    Off,
}

/// One organization's lists, on its client.
struct Lists<'a> {
    state: &'a AppState,
    org: &'a OrganizationId,
    client: &'a HubSpotClient,
}

impl Lists<'_> {
    /// Adds to and removes from the list of `tag` on `object` the records that ask for it.
    async fn follow(
        &self,
        tag: Tag,
        object: ObjectType,
        pending: &mut [Pending],
    ) -> Result<Made, DbError> {
        let ids = |pick: fn(&ListChanges) -> &BTreeSet<Tag>, pending: &[Pending]| -> Vec<String> {
            pending
                .iter()
                .filter(|p| p.member.object == object && pick(&p.changes).contains(&tag))
                .map(|p| p.member.hubspot_id.clone())
                .collect()
        };
        let add = ids(|c| &c.add, pending);
        let remove = ids(|c| &c.remove, pending);
        if add.is_empty() && remove.is_empty() {
            return Ok(Made::Done);
        }
        let made = match self.change(tag, object, &add, &remove).await? {
            Err(e) if e.status() == Some(404) => {
                // Deleted in HubSpot: find or make it again, once.
                self.state
                    .db()
                    .forget_tag_list(self.org, tag, object)
                    .await?;
                self.change(tag, object, &add, &remove).await?
            }
            other => other,
        };
        let made = match made {
            Ok(list_id) => {
                self.record(tag, &list_id, &add, &remove).await?;
                Made::Done
            }
            Err(e) if e.status() == Some(403) => {
                self.turn_off(tag, object, &e).await?;
                Made::Off
            }
            Err(e) => {
                tracing::warn!(org = %self.org, tag = tag.name(), error = %crate::hubspot::Upstream(&e), "list change waits");
                Made::Later
            }
        };
        for p in pending.iter_mut().filter(|p| p.member.object == object) {
            if !(p.changes.add.contains(&tag) || p.changes.remove.contains(&tag)) {
                continue;
            }
            match made {
                Made::Done => {
                    p.done.insert(tag);
                }
                Made::Later => p.failed = true,
                Made::Off => {}
            }
        }
        Ok(made)
    }

    /// The list's id and its membership calls; HubSpot's error when one failed.
    async fn change(
        &self,
        tag: Tag,
        object: ObjectType,
        add: &[String],
        remove: &[String],
    ) -> Result<Result<String, turris_hubspot::Error>, DbError> {
        let list_id = match ensure_list(self.state, self.org, self.client, tag, object).await? {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        if !add.is_empty()
            && let Err(e) = self.client.add_list_members(&list_id, add).await
        {
            return Ok(Err(e));
        }
        if !remove.is_empty()
            && let Err(e) = self.client.remove_list_members(&list_id, remove).await
        {
            return Ok(Err(e));
        }
        Ok(Ok(list_id))
    }

    /// One sync record per membership written.
    async fn record(
        &self,
        tag: Tag,
        list_id: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), DbError> {
        let entry = |operation, id: &String| {
            CrmSyncEntry::new(Utc::now(), CrmObject::List, operation, SyncTrigger::Tags)
                .object_id(list_id)
                .wrote([("record", Some(id.as_str())), ("tag", Some(tag.name()))])
                .answered(Some(200), None)
        };
        let entries: Vec<CrmSyncEntry> = add
            .iter()
            .map(|id| entry(CrmOperation::AddToList, id))
            .chain(
                remove
                    .iter()
                    .map(|id| entry(CrmOperation::RemoveFromList, id)),
            )
            .collect();
        self.state
            .db()
            .append_sync_records(self.org, &entries)
            .await
    }

    /// Turns the tag's list off after HubSpot refused it for good, saying what to do.
    async fn turn_off(
        &self,
        tag: Tag,
        object: ObjectType,
        error: &turris_hubspot::Error,
    ) -> Result<(), DbError> {
        let db = self.state.db();
        let mut settings = db.load_settings(self.org).await?.unwrap_or_default();
        settings.crm.tag_lists.remove(&tag);
        db.save_settings(self.org, &settings).await?;
        let message = format!(
            "HubSpot refused to keep the list \"{}\" ({}): the connection lacks the \
             crm.lists.write scope. Mirroring the {} tag to lists is turned off; reconnect \
             HubSpot with that scope, then turn it on again",
            list_name(tag, object),
            error
                .status()
                .map_or("no answer".to_owned(), |s| s.to_string()),
            tag.name()
        );
        tracing::warn!(org = %self.org, tag = tag.name(), "tag list turned off: HubSpot refused it");
        let row = NewActivity::new(ActivityKind::TagListFailed, Outcome::Failure, Utc::now())
            .with_details(ActivityDetails {
                message: Some(message),
                hubspot_status: error.status(),
                ..ActivityDetails::default()
            });
        db.append_activity(self.org, &row).await?;
        Ok(())
    }
}

/// The id of the list mirroring `tag` on `object`: the one Turris knows, else the one named
/// [`list_name`] in HubSpot, else a new static list (recorded in the CRM sync record).
pub async fn ensure_list(
    state: &AppState,
    org: &OrganizationId,
    client: &HubSpotClient,
    tag: Tag,
    object: ObjectType,
) -> Result<Result<String, turris_hubspot::Error>, DbError> {
    let db = state.db();
    if let Some(id) = db.tag_list(org, tag, object).await? {
        return Ok(Ok(id));
    }
    let name = list_name(tag, object);
    let target = match object {
        ObjectType::Company => HubSpotObject::Companies,
        ObjectType::Contact => HubSpotObject::Contacts,
    };
    let list = match client.list_by_name(&name, &target).await {
        Ok(Some(list)) => list,
        Ok(None) => match client.create_static_list(&name, &target).await {
            Ok(list) => {
                let entry = CrmSyncEntry::new(
                    Utc::now(),
                    CrmObject::List,
                    CrmOperation::Create,
                    SyncTrigger::Setup,
                )
                .object_id(list.list_id.clone())
                .wrote([("name", Some(name.as_str()))])
                .answered(Some(200), None);
                db.append_sync_records(org, &[entry]).await?;
                list
            }
            Err(e) => return Ok(Err(e)),
        },
        Err(e) => return Ok(Err(e)),
    };
    db.save_tag_list(org, tag, object, &list.list_id).await?;
    Ok(Ok(list.list_id))
}
