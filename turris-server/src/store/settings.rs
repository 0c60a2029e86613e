//! turris-core's [`SettingsStore`]: one JSON document per organization. Partial updates
//! read, change and write the document in one transaction (the row locked on PostgreSQL), so
//! a schema refresh cannot clobber a concurrent mapping edit.

use async_trait::async_trait;
use turris_core::ids::OrganizationId;
use turris_core::integration::{Connection, IntegrationSettings, WebhookStatus};
use turris_core::notes::NoteKind;
use turris_core::property::{ObjectSchema, ObjectType};
use turris_core::store::{SettingsStore, StoreResult};

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, for_update, with_pool};

/// The CRM writes `settings` turn on, as the `crm_features` column holds them beside the
/// document (what queueing a note or a tags push checks, `queue_note!`, `queue_tags_push!`):
/// `,` then `tags` and each note kind logged, each followed by `,`.
pub(crate) fn crm_features(settings: &IntegrationSettings) -> String {
    let crm = &settings.crm;
    let mut features = String::from(",");
    if crm.tags {
        features.push_str("tags,");
    }
    for kind in NoteKind::ALL {
        if crm.notes.allows(kind) {
            features.push_str(kind.as_str());
            features.push(',');
        }
    }
    features
}

impl SqlStore {
    /// Loads, changes and saves the settings document atomically; `NotFound` without one.
    async fn update_settings(
        &self,
        org: &OrganizationId,
        change: impl FnOnce(&mut IntegrationSettings) + Send,
    ) -> DbResult<()> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let select = format!(
                "SELECT document FROM integration_settings WHERE organization_id = $1 {}",
                for_update(pool)
            );
            let document: Option<String> = sqlx::query_scalar(&select)
                .bind(org.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let mut settings: IntegrationSettings =
                serde_json::from_str(&document.ok_or(DbError::NotFound)?)?;
            change(&mut settings);
            sqlx::query(
                "UPDATE integration_settings SET document = $2, crm_features = $3
                 WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .bind(serde_json::to_string(&settings)?)
            .bind(crm_features(&settings))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}

#[async_trait]
impl SettingsStore for SqlStore {
    async fn load_settings(
        &self,
        org: &OrganizationId,
    ) -> StoreResult<Option<IntegrationSettings>> {
        let document: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT document FROM integration_settings WHERE organization_id = $1",
            )
            .bind(org.as_str())
            .fetch_optional(pool)
            .await
            .map_err(DbError::from)?
        });
        Ok(document
            .map(|d| serde_json::from_str(&d).map_err(DbError::from))
            .transpose()?)
    }

    async fn save_settings(
        &self,
        org: &OrganizationId,
        settings: &IntegrationSettings,
    ) -> StoreResult<()> {
        let document = serde_json::to_string(settings).map_err(DbError::from)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO integration_settings (organization_id, document, crm_features)
                 VALUES ($1, $2, $3) ON CONFLICT (organization_id)
                 DO UPDATE SET document = excluded.document, crm_features = excluded.crm_features",
            )
            .bind(org.as_str())
            .bind(&document)
            .bind(crm_features(settings))
            .execute(pool)
            .await
            .map_err(DbError::from)?;
        });
        Ok(())
    }

    async fn delete_settings(&self, org: &OrganizationId) -> StoreResult<bool> {
        let deleted = with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("DELETE FROM integration_settings WHERE organization_id = $1")
                .bind(org.as_str())
                .execute(pool)
                .await
                .map_err(DbError::from)?
                .rows_affected()
        });
        Ok(deleted > 0)
    }

    async fn set_connection(
        &self,
        org: &OrganizationId,
        connection: &Connection,
    ) -> StoreResult<()> {
        let connection = connection.clone();
        Ok(self
            .update_settings(org, move |s| s.connection = connection)
            .await?)
    }

    async fn save_property_schema(
        &self,
        org: &OrganizationId,
        schema: &ObjectSchema,
    ) -> StoreResult<()> {
        let schema = schema.clone();
        Ok(self
            .update_settings(org, move |s| s.set_property_schema(schema))
            .await?)
    }

    async fn set_subscription_status(
        &self,
        org: &OrganizationId,
        object: ObjectType,
        property: &str,
        status: WebhookStatus,
    ) -> StoreResult<()> {
        let property = property.to_owned();
        Ok(self
            .update_settings(org, move |s| {
                s.set_subscription_status(object, &property, status)
            })
            .await?)
    }
}
