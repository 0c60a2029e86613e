//! The server store's error, and the one place where database constraint violations become
//! typed conflicts (realworld-axum-sqlx's `on_constraint`).

use std::fmt;

/// Which uniqueness rule a write broke. The HTTP layer answers 409 with a message per case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Conflict {
    /// An organization with that id exists.
    Organization,
    /// The organization has a role with that name.
    RoleName,
    /// The organization has a user with that email.
    UserEmail,
    /// The organization already has a HubSpot connection (connect again: 409).
    AlreadyConnected,
    /// Another organization is connected to that HubSpot portal.
    PortalInUse,
    /// A webhook with that id exists.
    Webhook,
    /// The organization has a contract template with that id.
    ContractTemplate,
    /// An invitation with that id exists.
    Invitation,
    /// A NIPR sync result with that id exists.
    NiprSync,
    /// A producer agreement with that id exists.
    ProducerAgreement,
    /// A Turris record (agency, agent, agency contact) with that id exists.
    Record,
    /// The Turris record is already linked to another HubSpot object.
    TurrisLinked,
    /// The HubSpot object is already linked to another Turris record.
    HubSpotLinked,
    /// A job of that kind is already running for the organization.
    JobRunning,
    /// The organization has a support ticket with that number.
    TicketNumber,
    /// Another uniqueness rule, named by the database.
    Other,
}

impl Conflict {
    /// A short, client-safe description.
    pub fn message(self) -> &'static str {
        match self {
            Conflict::Organization => "organization already exists",
            Conflict::RoleName => "a role with this name already exists",
            Conflict::UserEmail => "a user with this email already exists",
            Conflict::AlreadyConnected => "hubspot is already connected",
            Conflict::PortalInUse => "this hubspot portal is connected to another organization",
            Conflict::Webhook => "webhook already exists",
            Conflict::ContractTemplate => "contract template already exists",
            Conflict::Invitation => "invitation already exists",
            Conflict::NiprSync => "nipr sync result already exists",
            Conflict::ProducerAgreement => "producer agreement already exists",
            Conflict::Record => "id already exists",
            Conflict::TurrisLinked => "turris record is already linked",
            Conflict::HubSpotLinked => "hubspot object is already linked",
            Conflict::JobRunning => "a job of this kind is already running",
            Conflict::TicketNumber => "a support ticket with this number exists",
            Conflict::Other => "already exists",
        }
    }

    /// The conflict a unique index stands for. Index names are unique across both schemas
    /// (PostgreSQL reports the name; SQLite reports `table.column, ...`, matched below).
    fn from_constraint(name: &str) -> Self {
        const BY_NAME: &[(&str, Conflict)] = &[
            ("organizations_pkey", Conflict::Organization),
            ("organizations.id", Conflict::Organization),
            ("roles_org_name", Conflict::RoleName),
            ("roles.organization_id, roles.name", Conflict::RoleName),
            ("users_org_email", Conflict::UserEmail),
            ("users.organization_id, users.email", Conflict::UserEmail),
            ("hubspot_credentials_pkey", Conflict::AlreadyConnected),
            (
                "hubspot_credentials.organization_id",
                Conflict::AlreadyConnected,
            ),
            ("hubspot_credentials_portal", Conflict::PortalInUse),
            ("hubspot_credentials.portal_id", Conflict::PortalInUse),
            ("webhook_endpoints_pkey", Conflict::Webhook),
            ("webhook_endpoints.id", Conflict::Webhook),
            ("contract_templates_pkey", Conflict::ContractTemplate),
            (
                "contract_templates.organization_id, contract_templates.id",
                Conflict::ContractTemplate,
            ),
            ("invitations_pkey", Conflict::Invitation),
            (
                "invitations.organization_id, invitations.id",
                Conflict::Invitation,
            ),
            ("nipr_syncs_pkey", Conflict::NiprSync),
            (
                "nipr_syncs.organization_id, nipr_syncs.id",
                Conflict::NiprSync,
            ),
            ("support_tickets_number", Conflict::TicketNumber),
            (
                "support_tickets.organization_id, support_tickets.number",
                Conflict::TicketNumber,
            ),
            ("producer_agreements_pkey", Conflict::ProducerAgreement),
            (
                "producer_agreements.organization_id, producer_agreements.id",
                Conflict::ProducerAgreement,
            ),
            ("agencies_pkey", Conflict::Record),
            ("agencies.organization_id, agencies.id", Conflict::Record),
            ("agents_pkey", Conflict::Record),
            ("agents.organization_id, agents.id", Conflict::Record),
            ("agency_contacts_pkey", Conflict::Record),
            (
                "agency_contacts.organization_id, agency_contacts.id",
                Conflict::Record,
            ),
            ("links_pkey", Conflict::TurrisLinked),
            (
                "links.organization_id, links.kind, links.turris_id",
                Conflict::TurrisLinked,
            ),
            ("links_hubspot", Conflict::HubSpotLinked),
            ("jobs_one_running", Conflict::JobRunning),
            ("jobs.organization_id, jobs.kind", Conflict::JobRunning),
            (
                "links.organization_id, links.kind, links.hubspot_id",
                Conflict::HubSpotLinked,
            ),
        ];
        BY_NAME
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .unwrap_or(Conflict::Other)
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// A server storage failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The thing does not exist (in this organization).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken.
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// A stored value does not decode or decrypt (wrong key, damaged row).
    #[error("stored data is unreadable")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The value cannot be stored (for example a timestamp outside 1677..2262).
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// The database failed.
    #[error("database error")]
    Backend(#[source] sqlx::Error),
    /// Running the migrations failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The claim or lease the write was fenced by is no longer this process's: it lapsed and
    /// another process took the work over, so nothing was written.
    #[error("the claim is held by another process")]
    LeaseLost,
    /// Another store (core's in-memory one, say) failed.
    #[error("storage failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DbError {
    /// A stored value that does not decode, with why.
    pub fn corrupt(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DbError::Corrupt(cause.into())
    }
}

/// The storage result type.
pub type DbResult<T, E = DbError> = Result<T, E>;

impl From<sqlx::Error> for DbError {
    /// Every sqlx error goes through here: unique violations become [`DbError::Conflict`].
    fn from(error: sqlx::Error) -> Self {
        match constraint_conflict(&error) {
            Some(conflict) => DbError::Conflict(conflict),
            None => DbError::Backend(error),
        }
    }
}

impl From<crate::crypto::CryptoError> for DbError {
    fn from(error: crate::crypto::CryptoError) -> Self {
        DbError::corrupt(error)
    }
}

impl From<serde_json::Error> for DbError {
    fn from(error: serde_json::Error) -> Self {
        DbError::corrupt(error)
    }
}

/// The conflict behind a unique-constraint violation, if `error` is one.
pub fn constraint_conflict(error: &sqlx::Error) -> Option<Conflict> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    if let Some(name) = db.constraint() {
        return Some(Conflict::from_constraint(name));
    }
    // SQLite: "UNIQUE constraint failed: table.a, table.b".
    let message = db.message();
    let columns = message
        .strip_prefix("UNIQUE constraint failed: ")
        .unwrap_or(message);
    Some(Conflict::from_constraint(columns))
}

/// A foreign-key violation means a referenced row (organization, agency, ...) is missing:
/// [`DbError::NotFound`]. Anything else goes through `From<sqlx::Error>`.
pub(crate) fn foreign_key_is_not_found(error: sqlx::Error) -> DbError {
    match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => DbError::NotFound,
        _ => error.into(),
    }
}

/// `.on_constraint(...)`: replace one kind of conflict with a more specific error.
pub trait ResultExt<T> {
    /// Maps a [`DbError::Conflict`] of `conflict` to `f()`, leaving other errors alone.
    fn on_conflict(self, conflict: Conflict, f: impl FnOnce() -> DbError) -> DbResult<T>;
}

impl<T> ResultExt<T> for DbResult<T> {
    fn on_conflict(self, conflict: Conflict, f: impl FnOnce() -> DbError) -> DbResult<T> {
        match self {
            Err(DbError::Conflict(c)) if c == conflict => Err(f()),
            other => other,
        }
    }
}

impl From<turris_core::store::StoreError> for DbError {
    /// Core's storage errors, as the server's: an error this store raised comes back as it was.
    fn from(error: turris_core::store::StoreError) -> Self {
        use turris_core::store::StoreError;
        match error {
            StoreError::NotFound => DbError::NotFound,
            StoreError::Conflict(_) => DbError::Conflict(Conflict::Other),
            StoreError::Backend(source) => match source.downcast::<DbError>() {
                Ok(own) => *own,
                Err(other) => DbError::Other(other),
            },
            other => DbError::Other(Box::new(other)),
        }
    }
}

impl From<DbError> for turris_core::store::StoreError {
    fn from(error: DbError) -> Self {
        use turris_core::store::StoreError;
        match error {
            DbError::NotFound => StoreError::NotFound,
            DbError::Conflict(c) => StoreError::Conflict(c.message().to_owned()),
            other => StoreError::Backend(Box::new(other)),
        }
    }
}

impl From<DbError> for turris_webhooks::delivery::StoreError {
    fn from(error: DbError) -> Self {
        use turris_webhooks::delivery::StoreError;
        match error {
            DbError::NotFound => StoreError::NotFound,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every named unique rule of the PostgreSQL schema, with the columns SQLite reports.
    fn unique_rules(schema: &str) -> Vec<(String, String)> {
        let code: String = schema
            .lines()
            .map(|l| l.split("--").next().unwrap())
            .collect::<Vec<_>>()
            .join(" ");
        let mut rules = Vec::new();
        for statement in code.split(';') {
            let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
            let mut found = |name: &str, table: &str, columns: &str| {
                let sqlite = columns
                    .split(')')
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|c| format!("{table}.{}", c.trim()))
                    .collect::<Vec<_>>()
                    .join(", ");
                rules.push((name.to_owned(), sqlite));
            };
            if let Some(rest) = statement.strip_prefix("CREATE TABLE ") {
                let table = rest.split_whitespace().next().unwrap();
                for part in rest.split("CONSTRAINT ").skip(1) {
                    if let Some((name, columns)) = part.split_once(" PRIMARY KEY (") {
                        found(name.trim(), table, columns);
                    }
                }
            } else if let Some(rest) = statement.strip_prefix("CREATE UNIQUE INDEX ") {
                let (name, rest) = rest.split_once(" ON ").unwrap();
                let (table, columns) = rest.split_once(" (").unwrap();
                found(name.trim(), table.trim(), columns);
            }
        }
        rules
    }

    #[test]
    fn both_backends_report_each_unique_rule_as_the_same_conflict() {
        let schema = [
            include_str!("../../migrations/postgres/20261122000001_init.sql"),
            include_str!("../../migrations/postgres/20261122000002_echo_jobs.sql"),
        ]
        .concat();
        let rules = unique_rules(&schema);
        assert!(rules.len() >= 15, "the parser found the rules: {rules:?}");
        for (name, sqlite) in &rules {
            assert_eq!(
                Conflict::from_constraint(name),
                Conflict::from_constraint(sqlite),
                "{name} and {sqlite} must map to the same conflict"
            );
        }
        for expected in [
            ("organizations_pkey", Conflict::Organization),
            ("roles_org_name", Conflict::RoleName),
            ("hubspot_credentials_portal", Conflict::PortalInUse),
            ("links_hubspot", Conflict::HubSpotLinked),
            ("jobs_one_running", Conflict::JobRunning),
        ] {
            assert!(
                rules.iter().any(|(n, _)| n == expected.0),
                "{} exists",
                expected.0
            );
            assert_eq!(Conflict::from_constraint(expected.0), expected.1);
        }
    }
}
