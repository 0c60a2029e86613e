//! Every sealed value of the database, for key management: the startup check that the
//! configured keys open what the database holds, and `rotate-key`, which re-seals every value
//! under the current key.
//!
//! Sealed values live in `webhook_endpoints.secret_sealed` (associated data
//! `webhook-secret:<id>`), `webhook_endpoints.previous_secret_sealed` during a rotation's
//! overlap (`webhook-previous-secret:<id>`) and `hubspot_credentials.auth_sealed`
//! (`hubspot-auth:<organization>`).
//! `encryption_key_checks` holds one known value per key that has been current, so a wrong key
//! is caught at start even on a database that holds no secret yet.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::WebhookId;
use uuid::Uuid;

use super::error::{DbError, DbResult};
use super::sql::{Dialect, SqlStore, ns, with_pool};
use crate::crypto::{CryptoError, KeyId, KeyRing, SealedWith};

/// What a key check value holds.
const CHECK_PLAINTEXT: &[u8] = b"turris encryption key check";
const CHECK_AAD: &[u8] = b"encryption-key-check";

/// Why the configured keys do not fit the database. Messages name keys by id, never by value.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    /// A configured key does not open the check value stored for its id.
    #[error(
        "{which} does not open the check value the database holds for it: the key file or variable was altered"
    )]
    CheckFailed {
        /// The key, described ("the current key (id …)").
        which: String,
    },
    /// Sealed values name a key that is not configured.
    #[error(
        "{count} sealed value(s) in {table} were sealed with key id {missing}, which is not configured (the current key is id {current}): the current key is not this database's key, or a previous key is missing from TURRIS_ENCRYPTION_KEY_FILE"
    )]
    MissingKey {
        /// The key id the values name.
        missing: KeyId,
        /// How many.
        count: usize,
        /// Where.
        table: &'static str,
        /// The configured current key's id.
        current: KeyId,
    },
    /// Values from before key ids were recorded open with no configured key.
    #[error(
        "no configured key (ids {ids}) opens the sealed values in {table} written before key ids were recorded: TURRIS_ENCRYPTION_KEY is not this database's key"
    )]
    UnversionedUnreadable {
        /// The configured ids.
        ids: String,
        /// Where.
        table: &'static str,
    },
    /// The database failed.
    #[error("database")]
    Database(#[from] DbError),
}

/// What `rotate-key` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResealReport {
    /// Values re-sealed under the current key.
    pub resealed: usize,
    /// Values already under the current key.
    pub current: usize,
    /// Values changed by a running server while being re-sealed (already current when read
    /// again, or re-sealed on a later try).
    pub raced: usize,
}

/// One sealed value: where it lives and its bytes.
struct Sealed {
    table: &'static str,
    key: RowKey,
    bytes: Vec<u8>,
}

#[derive(Clone)]
enum RowKey {
    Webhook(Uuid),
    PreviousWebhook(Uuid),
    Credentials(String),
}

impl RowKey {
    fn aad(&self) -> DbResult<Vec<u8>> {
        Ok(match self {
            RowKey::Webhook(id) => super::webhooks::aad(WebhookId(*id)),
            RowKey::PreviousWebhook(id) => super::webhooks::previous_aad(WebhookId(*id)),
            RowKey::Credentials(org) => {
                let org = OrganizationId::parse(org).map_err(DbError::corrupt)?;
                super::credentials::aad(&org)
            }
        })
    }
}

const WEBHOOKS: &str = "webhook_endpoints";
const CREDENTIALS: &str = "hubspot_credentials";

impl SqlStore {
    async fn sealed_values(&self) -> DbResult<Vec<Sealed>> {
        let webhooks: Vec<(Uuid, Vec<u8>)> = with_pool!(self, |pool| {
            sqlx::query_as("SELECT id, secret_sealed FROM webhook_endpoints ORDER BY id")
                .fetch_all(pool)
                .await?
        });
        let previous: Vec<(Uuid, Vec<u8>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, previous_secret_sealed FROM webhook_endpoints
                 WHERE previous_secret_sealed IS NOT NULL ORDER BY id",
            )
            .fetch_all(pool)
            .await?
        });
        let credentials: Vec<(String, Vec<u8>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT organization_id, auth_sealed FROM hubspot_credentials
                 ORDER BY organization_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(webhooks
            .into_iter()
            .map(|(id, bytes)| Sealed {
                table: WEBHOOKS,
                key: RowKey::Webhook(id),
                bytes,
            })
            .chain(previous.into_iter().map(|(id, bytes)| Sealed {
                table: WEBHOOKS,
                key: RowKey::PreviousWebhook(id),
                bytes,
            }))
            .chain(credentials.into_iter().map(|(org, bytes)| Sealed {
                table: CREDENTIALS,
                key: RowKey::Credentials(org),
                bytes,
            }))
            .collect())
    }

    async fn read_sealed(&self, key: &RowKey) -> DbResult<Option<Vec<u8>>> {
        Ok(match key {
            RowKey::Webhook(id) => with_pool!(self, |pool| {
                sqlx::query_scalar("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1")
                    .bind(*id)
                    .fetch_optional(pool)
                    .await?
            }),
            RowKey::PreviousWebhook(id) => with_pool!(self, |pool| {
                sqlx::query_scalar::<_, Option<Vec<u8>>>(
                    "SELECT previous_secret_sealed FROM webhook_endpoints WHERE id = $1",
                )
                .bind(*id)
                .fetch_optional(pool)
                .await?
                .flatten()
            }),
            RowKey::Credentials(org) => with_pool!(self, |pool| {
                sqlx::query_scalar(
                    "SELECT auth_sealed FROM hubspot_credentials WHERE organization_id = $1",
                )
                .bind(org)
                .fetch_optional(pool)
                .await?
            }),
        })
    }

    /// Replaces `old` by `new` only if the row still holds `old` (a running server may have
    /// written a fresh value meanwhile).
    async fn swap_sealed(&self, key: &RowKey, old: &[u8], new: &[u8]) -> DbResult<bool> {
        let updated = match key {
            RowKey::Webhook(id) => with_pool!(self, |pool| {
                let _turn = pool.turn().await;
                sqlx::query(
                    "UPDATE webhook_endpoints SET secret_sealed = $2
                     WHERE id = $1 AND secret_sealed = $3",
                )
                .bind(*id)
                .bind(new)
                .bind(old)
                .execute(pool)
                .await?
                .rows_affected()
            }),
            RowKey::PreviousWebhook(id) => with_pool!(self, |pool| {
                let _turn = pool.turn().await;
                sqlx::query(
                    "UPDATE webhook_endpoints SET previous_secret_sealed = $2
                     WHERE id = $1 AND previous_secret_sealed = $3",
                )
                .bind(*id)
                .bind(new)
                .bind(old)
                .execute(pool)
                .await?
                .rows_affected()
            }),
            RowKey::Credentials(org) => with_pool!(self, |pool| {
                let _turn = pool.turn().await;
                sqlx::query(
                    "UPDATE hubspot_credentials SET auth_sealed = $2
                     WHERE organization_id = $1 AND auth_sealed = $3",
                )
                .bind(org)
                .bind(new)
                .bind(old)
                .execute(pool)
                .await?
                .rows_affected()
            }),
        };
        Ok(updated > 0)
    }

    async fn key_checks(&self) -> DbResult<Vec<(String, Vec<u8>)>> {
        Ok(with_pool!(self, |pool| {
            sqlx::query_as("SELECT key_id, sealed FROM encryption_key_checks")
                .fetch_all(pool)
                .await?
        }))
    }

    async fn add_key_check(&self, now: DateTime<Utc>) -> DbResult<()> {
        let id = self.cipher().current_key().to_string();
        let sealed = self.cipher().encrypt(CHECK_PLAINTEXT, CHECK_AAD)?;
        let at = ns(now)?;
        with_pool!(self, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "INSERT INTO encryption_key_checks (key_id, sealed, created_at)
                 VALUES ($1, $2, $3) ON CONFLICT (key_id) DO NOTHING",
            )
            .bind(&id)
            .bind(&sealed)
            .bind(at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Checks that `ring` (this store's keys) opens what the database holds, then records a
    /// check value for the current key. Run at start, before serving.
    pub async fn check_keys(&self, ring: &KeyRing) -> Result<(), KeyCheckError> {
        for (id, sealed) in self.key_checks().await? {
            let Some(key) = ring.all().find(|k| k.id().to_string() == id) else {
                continue; // a key no longer configured; the values below say if it is needed
            };
            let opened = crate::crypto::Cipher::new(key).decrypt(&sealed, CHECK_AAD);
            if opened.as_deref() != Ok(CHECK_PLAINTEXT) {
                return Err(KeyCheckError::CheckFailed {
                    which: ring.describe(key.id()).unwrap_or_default(),
                });
            }
        }
        let configured: Vec<KeyId> = ring.all().map(|k| k.id()).collect();
        let mut missing: BTreeMap<(KeyId, &'static str), usize> = BTreeMap::new();
        let mut unversioned_checked: Vec<&'static str> = Vec::new();
        for value in self.sealed_values().await? {
            match SealedWith::of(&value.bytes) {
                SealedWith::Key(id) if configured.contains(&id) => {}
                SealedWith::Key(id) => *missing.entry((id, value.table)).or_default() += 1,
                SealedWith::Unversioned => {
                    // One per table is enough to tell a wrong key from the right one.
                    if unversioned_checked.contains(&value.table) {
                        continue;
                    }
                    unversioned_checked.push(value.table);
                    match self.cipher().decrypt(&value.bytes, &value.key.aad()?) {
                        Ok(_) => {}
                        Err(CryptoError::Decrypt | CryptoError::UnknownKey(_)) => {
                            return Err(KeyCheckError::UnversionedUnreadable {
                                ids: configured
                                    .iter()
                                    .map(KeyId::to_string)
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                table: value.table,
                            });
                        }
                        Err(e) => return Err(DbError::from(e).into()),
                    }
                }
            }
        }
        if let Some(((id, table), count)) = missing.into_iter().next() {
            return Err(KeyCheckError::MissingKey {
                missing: id,
                count,
                table,
                current: ring.current().id(),
            });
        }
        self.add_key_check(Utc::now()).await?;
        Ok(())
    }

    /// Re-seals every sealed value that is not under the current key. Idempotent and
    /// resumable (values already current are skipped), and safe beside running servers: each
    /// value is replaced only if unchanged since it was read, else read again.
    pub async fn reseal_all(&self) -> DbResult<ResealReport> {
        let mut report = ResealReport::default();
        for value in self.sealed_values().await? {
            let aad = value.key.aad()?;
            let mut bytes = Some(value.bytes);
            let mut tries = 0;
            while let Some(old) = bytes.take() {
                if self.cipher().is_current(&old) {
                    if tries == 0 {
                        report.current += 1;
                    }
                    break;
                }
                let plain = self.cipher().decrypt(&old, &aad)?;
                let new = self.cipher().encrypt(&plain, &aad)?;
                if self.swap_sealed(&value.key, &old, &new).await? {
                    report.resealed += 1;
                    break;
                }
                // Changed (or deleted) meanwhile: look again.
                if tries == 0 {
                    report.raced += 1;
                }
                tries += 1;
                if tries > 5 {
                    return Err(DbError::corrupt(format!(
                        "a sealed value in {} keeps changing; run rotate-key again",
                        value.table
                    )));
                }
                bytes = self.read_sealed(&value.key).await?;
            }
        }
        self.add_key_check(Utc::now()).await?;
        Ok(report)
    }
}
