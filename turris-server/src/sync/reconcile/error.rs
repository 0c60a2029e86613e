//! Why a reconciliation page failed, and whether reading it again may help.

use chrono::Utc;

use crate::hubspot::ConnectionError;

/// Why a page failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store failed.
    #[error("storage")]
    Db(#[from] crate::store::DbError),
    /// HubSpot refused, for a reason a retry does not change.
    #[error("{0}")]
    Connection(#[from] ConnectionError),
    /// HubSpot failed in a way that may pass: 429, 5xx, or no answer.
    #[error("{0}")]
    Transient(ConnectionError),
    /// HubSpot is not connected.
    #[error("HubSpot is not connected")]
    NotConnected,
}

impl From<turris_core::store::StoreError> for ReconcileError {
    fn from(error: turris_core::store::StoreError) -> Self {
        ReconcileError::Db(error.into())
    }
}

impl ReconcileError {
    /// Until when HubSpot's daily limit blocks the portal, when that is why the page failed.
    pub fn daily_limit_until(&self) -> Option<chrono::DateTime<Utc>> {
        match self {
            ReconcileError::Connection(c) | ReconcileError::Transient(c) => c.daily_limit_until(),
            _ => None,
        }
    }
}

impl From<turris_hubspot::Error> for ReconcileError {
    fn from(e: turris_hubspot::Error) -> Self {
        let transient = match (&e, e.status()) {
            (turris_hubspot::Error::DailyLimit { .. }, _) => false,
            (turris_hubspot::Error::DailyLimitBlocked { .. }, _) => false,
            (_, Some(status)) => status == 429 || status >= 500,
            (turris_hubspot::Error::Transport(_), None) => true,
            _ => false,
        };
        let connection = ConnectionError::from(e);
        if transient {
            ReconcileError::Transient(connection)
        } else {
            ReconcileError::Connection(connection)
        }
    }
}

impl ReconcileError {
    /// Whether reading the page again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, ReconcileError::Transient(_))
    }
}
