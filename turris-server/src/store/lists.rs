//! Static lists mirroring tags ([`turris_core::tags::list_changes`]): each mirrored tag's list
//! ids, and each tagged HubSpot record's tags and list memberships. A successful write of
//! `turris_tags` ([`record_tags_written`], in the transaction that appends its CRM sync
//! record) makes the record due; the lists worker leases due records with a fencing token,
//! makes HubSpot's membership calls (harmless to repeat) and settles what it made.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use turris_core::activity::Outcome;
use turris_core::audit::{CrmObject, CrmSyncEntry};
use turris_core::ids::OrganizationId;
use turris_core::property::ObjectType;
use turris_core::tags::{TAGS_PROPERTY, Tag, parse_property_value, property_value};
use uuid::Uuid;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, ns, plus, with_pool, wrote};

/// A tagged HubSpot record due for its lists, leased to one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMember {
    /// The organization.
    pub organization: OrganizationId,
    /// Company or contact.
    pub object: ObjectType,
    /// The HubSpot record.
    pub hubspot_id: String,
    /// The tags Turris last wrote to it.
    pub tags: BTreeSet<Tag>,
    /// The tags whose lists hold it, as far as Turris made them.
    pub listed: BTreeSet<Tag>,
    /// The version of `tags` this lease works on.
    pub version: i64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The lease's fencing token.
    pub lease: String,
}

/// List ids and list memberships.
#[async_trait]
pub trait ListStore: Send + Sync {
    /// The id of the list mirroring `tag` on `object`, when Turris knows it.
    async fn tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
    ) -> DbResult<Option<String>>;
    /// Remembers the list mirroring `tag` on `object`.
    async fn save_tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
        list_id: &str,
    ) -> DbResult<()>;
    /// Forgets a list HubSpot no longer has.
    async fn forget_tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
    ) -> DbResult<()>;
    /// Leases up to `limit` due records (oldest first) until `now + lease_for`.
    async fn claim_list_members(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Vec<ListMember>>;
    /// Settles a record: `listed` is what its lists hold now; it is done when its tags did not
    /// change meanwhile, and due again at `retry_at` (a failed attempt) when given.
    /// [`DbError::LeaseLost`] when another worker leased it meanwhile.
    async fn settle_list_member(
        &self,
        member: &ListMember,
        listed: &BTreeSet<Tag>,
        retry_at: Option<DateTime<Utc>>,
    ) -> DbResult<()>;
    /// Makes every tagged record of `org` due (the mirrored tags changed), and queues a tags
    /// push for each linked record Turris holds no tags of yet; how many pushes were queued.
    async fn relist_all(&self, org: &OrganizationId, now: DateTime<Utc>) -> DbResult<u64>;
}

/// The object of a sync-record entry that can carry tags.
fn tagged_object(object: CrmObject) -> Option<ObjectType> {
    match object {
        CrmObject::Company => Some(ObjectType::Company),
        CrmObject::Contact => Some(ObjectType::Contact),
        _ => None,
    }
}

/// The successful `turris_tags` writes among `entries`: object, record and the tags written.
pub(crate) fn tags_written(
    entries: &[CrmSyncEntry],
) -> impl Iterator<Item = (ObjectType, &str, &str)> {
    entries.iter().filter_map(|entry| {
        let object = tagged_object(entry.object)?;
        if entry.outcome != Outcome::Success {
            return None;
        }
        let id = entry.object_id.as_deref()?;
        let tags = entry.properties.iter().find(|p| p.name == TAGS_PROPERTY)?;
        Some((object, id, tags.new.as_deref().unwrap_or("")))
    })
}

/// Records a successful `turris_tags` write of `$tags` on `$object` `$id` inside the
/// transaction `$tx`, making the record due for its lists at `$now` (nanoseconds).
macro_rules! record_tags_written {
    ($tx:expr, $org:expr, $object:expr, $id:expr, $tags:expr, $now:expr) => {{
        sqlx::query(
            "INSERT INTO crm_list_members (organization_id, object_type, hubspot_id, tags,
             version, next_attempt_at) VALUES ($1, $2, $3, $4, 1, $5)
             ON CONFLICT (organization_id, object_type, hubspot_id) DO UPDATE SET
             tags = excluded.tags, version = crm_list_members.version + 1,
             next_attempt_at = excluded.next_attempt_at, attempts = 0",
        )
        .bind($org.as_str())
        .bind($object.singular())
        .bind($id)
        .bind($tags)
        .bind($now)
        .execute(&mut *$tx)
        .await?
    }};
}
pub(crate) use record_tags_written;

#[derive(sqlx::FromRow)]
struct MemberRow {
    organization_id: String,
    object_type: String,
    hubspot_id: String,
    tags: String,
    listed: String,
    version: i64,
    attempts: i32,
}

impl MemberRow {
    fn member(self, lease: &str) -> DbResult<ListMember> {
        let object = match self.object_type.as_str() {
            "company" => ObjectType::Company,
            "contact" => ObjectType::Contact,
            other => return Err(DbError::corrupt(format!("a list member of type {other}"))),
        };
        Ok(ListMember {
            organization: OrganizationId::parse(&self.organization_id).map_err(DbError::corrupt)?,
            object,
            hubspot_id: self.hubspot_id,
            tags: parse_property_value(&self.tags),
            listed: parse_property_value(&self.listed),
            version: self.version,
            attempts: self.attempts.max(0) as u32,
            lease: lease.to_owned(),
        })
    }
}

#[async_trait]
impl ListStore for SqlStore {
    async fn tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
    ) -> DbResult<Option<String>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT list_id FROM crm_tag_lists
                 WHERE organization_id = $1 AND tag = $2 AND object_type = $3",
            )
            .bind(org.as_str())
            .bind(tag.name())
            .bind(object.singular())
            .fetch_optional(pool)
            .await?
        }))
    }

    async fn save_tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
        list_id: &str,
    ) -> DbResult<()> {
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO crm_tag_lists (organization_id, tag, object_type, list_id)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id, tag, object_type)
                 DO UPDATE SET list_id = excluded.list_id",
            )
            .bind(org.as_str())
            .bind(tag.name())
            .bind(object.singular())
            .bind(list_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn forget_tag_list(
        &self,
        org: &OrganizationId,
        tag: Tag,
        object: ObjectType,
    ) -> DbResult<()> {
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "DELETE FROM crm_tag_lists
                 WHERE organization_id = $1 AND tag = $2 AND object_type = $3",
            )
            .bind(org.as_str())
            .bind(tag.name())
            .bind(object.singular())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    async fn claim_list_members(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease_for: Duration,
    ) -> DbResult<Vec<ListMember>> {
        let now_ns = ns(now)?;
        let until = ns(plus(now, lease_for))?;
        let lease = Uuid::now_v7().to_string();
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        // The outer `leased_until` check is re-evaluated on the locked row, so two workers
        // that picked the same rows cannot both take them.
        let rows: Vec<MemberRow> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query_as(
                "UPDATE crm_list_members SET lease_token = $1, leased_until = $2
                 WHERE leased_until <= $3 AND (organization_id, object_type, hubspot_id) IN (
                     SELECT organization_id, object_type, hubspot_id FROM crm_list_members
                     WHERE next_attempt_at <= $3 AND leased_until <= $3
                     AND version <> done_version
                     ORDER BY next_attempt_at LIMIT $4)
                 RETURNING organization_id, object_type, hubspot_id, tags, listed, version,
                           attempts",
            )
            .bind(&lease)
            .bind(until)
            .bind(now_ns)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(|r| r.member(&lease)).collect()
    }

    async fn settle_list_member(
        &self,
        member: &ListMember,
        listed: &BTreeSet<Tag>,
        retry_at: Option<DateTime<Utc>>,
    ) -> DbResult<()> {
        // Done: `done_version` catches up with the version this lease worked on, so the record
        // stays due only if its tags changed meanwhile. Failed: it waits until `retry_at`.
        let (settle, value) = match retry_at {
            None => ("done_version = $5, attempts = 0", member.version),
            Some(at) => ("next_attempt_at = $5, attempts = attempts + 1", ns(at)?),
        };
        let sql = format!(
            "UPDATE crm_list_members SET listed = $4, {settle}, lease_token = NULL,
             leased_until = 0
             WHERE organization_id = $1 AND object_type = $2 AND hubspot_id = $3
             AND lease_token = $6"
        );
        let updated = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(&sql)
                .bind(member.organization.as_str())
                .bind(member.object.singular())
                .bind(&member.hubspot_id)
                .bind(property_value(listed))
                .bind(value)
                .bind(&member.lease)
                .execute(pool)
                .await?
                .rows_affected()
        });
        wrote(updated, DbError::LeaseLost)
    }

    async fn relist_all(&self, org: &OrganizationId, now: DateTime<Utc>) -> DbResult<u64> {
        let now = ns(now)?;
        Ok(with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "UPDATE crm_list_members SET version = version + 1, next_attempt_at = $2,
                 attempts = 0 WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let queued = sqlx::query(
                "INSERT INTO outbound_pushes (organization_id, record_type, record_id, queued_at,
                 next_attempt_at, reason)
                 SELECT l.organization_id, l.kind, l.turris_id, $2, $2, 'tags' FROM links l
                 WHERE l.organization_id = $1 AND NOT EXISTS (
                     SELECT 1 FROM crm_list_members m WHERE m.organization_id = l.organization_id
                     AND m.object_type = CASE WHEN l.kind = 'agency' THEN 'company'
                         ELSE 'contact' END
                     AND m.hubspot_id = l.hubspot_id)",
            )
            .bind(org.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            queued
        }))
    }
}
