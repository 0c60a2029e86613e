//! The transactional outbox: every write that produces webhooks runs in one transaction with
//! its outbox rows. The [`write_outbox!`] macro inserts one delivery event per webhook of the
//! type, inside the caller's transaction, so a committed change always has its queued
//! deliveries and a rolled back one has none.

use chrono::{DateTime, Utc};
use turris_core::ids::OrganizationId;
use turris_webhooks::delivery::{EventId, WebhookId};
use turris_webhooks::{Envelope, EnvelopeError, Payload, WebhookType};

/// An outbound webhook event written in the same transaction as the change that caused it: the
/// store writes one delivery event (a fresh [`EventId`], due at `created_at`) for every
/// webhook of `webhook_type` in the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The type; webhooks of this type receive it.
    pub webhook_type: WebhookType,
    /// The serialized envelope (`Envelope::to_bytes`), sent unchanged on every attempt.
    pub body: Vec<u8>,
    /// Creation time: the first attempt is due then.
    pub created_at: DateTime<Utc>,
}

impl OutboxEvent {
    /// `payload` in its envelope for organization `org`, serialized once, due at `at`.
    pub fn of(
        org: &OrganizationId,
        payload: Payload,
        at: DateTime<Utc>,
    ) -> Result<Self, EnvelopeError> {
        let envelope = Envelope::for_payload(org.as_str(), payload);
        let body = envelope.to_bytes()?;
        Ok(Self {
            webhook_type: envelope.webhook_type,
            body: body.to_vec(),
            created_at: at,
        })
    }
}

/// A delivery event the outbox wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The event id.
    pub event_id: EventId,
    /// The endpoint it goes to.
    pub webhook_id: WebhookId,
}

/// Writes `$outbox` (a slice of [`OutboxEvent`]) for organization `$org` inside the open
/// transaction `$tx`: one delivery event per webhook of each event's type. Evaluates to the
/// `Vec<Enqueued>` written; `?` propagates database errors as `DbError`.
///
/// With `$lease` (an `Option<Lease>`, see `SqlStore::handoff_lease`) the events are written
/// already leased to this process and pushed to `$handed` (a `&mut Vec<LeasedDelivery>`), so
/// the caller can hand them to the local delivery worker after the commit without another
/// round trip; if the process dies first, the lease expires and any worker takes them.
macro_rules! write_outbox {
    ($tx:expr, $org:expr, $outbox:expr, $lease:expr, $handed:expr) => {{
        let mut enqueued: Vec<$crate::store::Enqueued> = Vec::new();
        let lease: Option<turris_webhooks::delivery::Lease> = $lease;
        let lease_expires = match &lease {
            Some(l) => Some($crate::store::sql::ns(l.expires_at)?),
            None => None,
        };
        for item in $outbox {
            // A disabled or paused (Retry-After) endpoint's events are stored but not handed
            // off: they wait until it may be sent to again.
            let created = $crate::store::sql::ns(item.created_at)?;
            let webhooks: Vec<(uuid::Uuid, bool)> = sqlx::query_as(
                "SELECT id, (disabled_at IS NOT NULL
                             OR COALESCE(paused_until, 0) > $3) AS held
                 FROM webhook_endpoints
                 WHERE organization_id = $1 AND webhook_type = $2 ORDER BY id",
            )
            .bind($org.as_str())
            .bind(item.webhook_type.as_str())
            .bind(created)
            .fetch_all(&mut *$tx)
            .await?;
            for (webhook, held) in webhooks {
                let lease = lease.filter(|_| !held);
                let lease_expires = lease_expires.filter(|_| !held);
                let event_id = turris_webhooks::delivery::EventId::new();
                sqlx::query(
                    "INSERT INTO delivery_events (event_id, webhook_id, webhook_type, body,
                     created_at, status, next_attempt_at, lease_id, lease_kind, lease_expires_at,
                     organization_id)
                     VALUES ($1, $2, $3, $4, $5, 'pending', $5, $6, $7, $8, $9)",
                )
                .bind(event_id.0)
                .bind(webhook)
                .bind(item.webhook_type.as_str())
                .bind(&item.body[..])
                .bind(created)
                .bind(lease.map(|l| l.id.0))
                .bind(lease.map(|_| "scheduled"))
                .bind(lease_expires)
                .bind($org.as_str())
                .execute(&mut *$tx)
                .await?;
                let webhook_id = turris_webhooks::delivery::WebhookId(webhook);
                if let Some(lease) = lease {
                    let handed: &mut Vec<turris_webhooks::delivery::LeasedDelivery> = $handed;
                    handed.push(turris_webhooks::delivery::LeasedDelivery {
                        event: turris_webhooks::delivery::EventRecord {
                            event_id,
                            webhook_id,
                            webhook_type: item.webhook_type,
                            body: axum::body::Bytes::from(item.body.clone()),
                            created_at: $crate::store::sql::from_ns(created),
                            status: turris_webhooks::delivery::EventStatus::Pending,
                            attempt_count: 0,
                            automatic_attempts: 0,
                            next_attempt_at: Some($crate::store::sql::from_ns(created)),
                        },
                        lease,
                    });
                }
                enqueued.push($crate::store::Enqueued {
                    event_id,
                    webhook_id,
                });
            }
        }
        enqueued
    }};
}
pub(crate) use write_outbox;

/// The end of every write that produces webhooks: writes `$outbox` for `$org` in the open
/// transaction `$tx` ([`write_outbox!`], leased to this process), commits, then hands the
/// leased events to the local delivery worker and wakes it. Evaluates to the `Vec<Enqueued>`
/// written; `?` propagates database errors as `DbError`.
macro_rules! commit_with_outbox {
    ($store:expr, $tx:ident, $org:expr, $outbox:expr) => {{
        let mut handed = Vec::new();
        let enqueued = $crate::store::inputs::write_outbox!(
            $tx,
            $org,
            $outbox,
            $store.handoff_lease(),
            &mut handed
        );
        $tx.commit().await?;
        $store.hand_off(handed).await;
        $store.signal_enqueued(enqueued.len());
        enqueued
    }};
}
pub(crate) use commit_with_outbox;
