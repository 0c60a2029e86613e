//! turris-core's [`LinkStore`]: one row per link, unique per Turris record and per
//! (kind, HubSpot id) within an organization.

use async_trait::async_trait;
use turris_core::ids::{AgencyContactId, AgencyId, AgentId, HubSpotId, OrganizationId};
use turris_core::store::{Link, LinkKind, LinkStore, StoreResult, TurrisRef};

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, with_pool};

pub(crate) fn kind_text(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Agency => "agency",
        LinkKind::Agent => "agent",
        LinkKind::AgencyContact => "agency_contact",
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    pub(crate) kind: String,
    pub(crate) turris_id: String,
    pub(crate) hubspot_id: String,
}

impl LinkRow {
    pub(crate) fn into_link(self) -> DbResult<Link> {
        let bad = |e: turris_core::Error| DbError::corrupt(e);
        let turris = match self.kind.as_str() {
            "agency" => TurrisRef::Agency(AgencyId::parse(&self.turris_id).map_err(bad)?),
            "agent" => TurrisRef::Agent(AgentId::parse(&self.turris_id).map_err(bad)?),
            "agency_contact" => {
                TurrisRef::AgencyContact(AgencyContactId::parse(&self.turris_id).map_err(bad)?)
            }
            other => return Err(DbError::corrupt(format!("link kind {other}"))),
        };
        Ok(Link {
            turris,
            hubspot_id: HubSpotId::parse(&self.hubspot_id).map_err(bad)?,
        })
    }
}

impl SqlStore {
    async fn find_link(
        &self,
        org: &OrganizationId,
        kind: LinkKind,
        column: &str,
        value: &str,
    ) -> DbResult<Option<Link>> {
        let sql = format!(
            "SELECT kind, turris_id, hubspot_id FROM links
             WHERE organization_id = $1 AND kind = $2 AND {column} = $3"
        );
        let row: Option<LinkRow> = with_pool!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(org.as_str())
                .bind(kind_text(kind))
                .bind(value)
                .fetch_optional(pool)
                .await?
        });
        row.map(LinkRow::into_link).transpose()
    }
}

#[async_trait]
impl LinkStore for SqlStore {
    async fn put_link(&self, org: &OrganizationId, link: &Link) -> StoreResult<()> {
        let kind = link.turris.kind();
        let inserted: DbResult<()> = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO links (organization_id, kind, turris_id, hubspot_id)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(org.as_str())
            .bind(kind_text(kind))
            .bind(link.turris.id())
            .bind(link.hubspot_id.as_str())
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(DbError::from)
        });
        match inserted {
            Err(DbError::Conflict(conflict)) => {
                // Relinking the same pair is a no-op; anything else keeps its conflict.
                if self.link_by_turris(org, &link.turris).await?.as_ref() == Some(link) {
                    Ok(())
                } else {
                    Err(DbError::Conflict(conflict).into())
                }
            }
            other => Ok(other?),
        }
    }

    async fn link_by_turris(
        &self,
        org: &OrganizationId,
        turris: &TurrisRef,
    ) -> StoreResult<Option<Link>> {
        Ok(self
            .find_link(org, turris.kind(), "turris_id", turris.id())
            .await?)
    }

    async fn link_by_hubspot(
        &self,
        org: &OrganizationId,
        kind: LinkKind,
        hubspot_id: &HubSpotId,
    ) -> StoreResult<Option<Link>> {
        Ok(self
            .find_link(org, kind, "hubspot_id", hubspot_id.as_str())
            .await?)
    }

    async fn delete_link(&self, org: &OrganizationId, turris: &TurrisRef) -> StoreResult<bool> {
        let deleted = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "DELETE FROM links WHERE organization_id = $1 AND kind = $2 AND turris_id = $3",
            )
            .bind(org.as_str())
            .bind(kind_text(turris.kind()))
            .bind(turris.id())
            .execute(pool)
            .await
            .map_err(DbError::from)?
            .rows_affected()
        });
        Ok(deleted > 0)
    }

    async fn delete_all_links(&self, org: &OrganizationId) -> StoreResult<u64> {
        Ok(with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM links WHERE organization_id = $1")
                .bind(org.as_str())
                .execute(pool)
                .await
                .map_err(DbError::from)?
                .rows_affected()
        }))
    }
}
