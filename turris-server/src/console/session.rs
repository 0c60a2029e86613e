//! Server-side console sessions and one-time sign-in links, on either database.
//!
//! A session acts as the API token it was opened with: each request re-authenticates that
//! token's hash through the same [`crate::store::TenantStore::authenticate`] as the API, so a
//! revoked token or a changed role takes effect at once. Session ids, sign-in codes and OAuth
//! states are random secrets: only their SHA-256 is stored.

use chrono::{DateTime, Duration, Utc};

use crate::crypto::{TokenHash, random_token_text};
use crate::store::sql::{Dialect, from_ns, ns, with_pool};
use crate::store::{Database, DbError, DbResult};

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// A session ends this long after sign-in, however active.
pub const MAX_AGE: Duration = Duration::hours(12);
/// A sign-in link is valid this long, once.
pub const LOGIN_LINK_TTL: Duration = Duration::minutes(15);
/// `last_seen_at` is written at most this often.
const TOUCH_EVERY: Duration = Duration::seconds(30);

/// A live session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The API token the session acts as.
    pub token_hash: TokenHash,
    /// When it started.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    token_hash: Vec<u8>,
    created_at: i64,
    last_seen_at: i64,
}

fn hash(secret: &str) -> Vec<u8> {
    TokenHash::of(secret).as_bytes().to_vec()
}

fn token_hash(bytes: &[u8]) -> DbResult<TokenHash> {
    TokenHash::from_slice(bytes).ok_or_else(|| DbError::Corrupt("token hash length".into()))
}

/// Opens a session for the token with `token_hash`; returns the session id (the cookie).
pub async fn create(db: &Database, token_hash: &TokenHash, now: DateTime<Utc>) -> DbResult<String> {
    let id = random_token_text()?;
    let (now_ns, expires) = (ns(now)?, ns(now + MAX_AGE)?);
    let idle_before = ns(now - IDLE_TIMEOUT)?;
    with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        // Sessions that ended are removed as new ones start.
        sqlx::query("DELETE FROM console_sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now_ns)
            .bind(idle_before)
            .execute(pool)
            .await?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, token_hash, created_at, last_seen_at,
             expires_at) VALUES ($1, $2, $3, $3, $4)",
        )
        .bind(hash(&id))
        .bind(&token_hash.as_bytes()[..])
        .bind(now_ns)
        .bind(expires)
        .execute(pool)
        .await?;
    });
    Ok(id)
}

/// The live session with this id, noting the activity; `None` when unknown, idle too long
/// or past its maximum age.
pub async fn load(db: &Database, id: &str, now: DateTime<Utc>) -> DbResult<Option<SessionRow>> {
    let now_ns = ns(now)?;
    let idle_before = ns(now - IDLE_TIMEOUT)?;
    let row: Option<Row> = with_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT token_hash, created_at, last_seen_at FROM console_sessions
             WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $3",
        )
        .bind(hash(id))
        .bind(now_ns)
        .bind(idle_before)
        .fetch_optional(pool)
        .await?
    });
    let Some(row) = row else {
        return Ok(None);
    };
    if from_ns(row.last_seen_at) + TOUCH_EVERY < now {
        with_pool!(db, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE id_hash = $1")
                .bind(hash(id))
                .bind(now_ns)
                .execute(pool)
                .await?;
        });
    }
    Ok(Some(SessionRow {
        token_hash: token_hash(&row.token_hash)?,
        created_at: from_ns(row.created_at),
    }))
}

/// Ends a session (sign-out).
pub async fn delete(db: &Database, id: &str) -> DbResult<()> {
    with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1")
            .bind(hash(id))
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Binds an OAuth `state` (as HubSpot will send it back) to the session that started it.
pub async fn bind_oauth_state(db: &Database, id: &str, state: &str) -> DbResult<()> {
    with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        sqlx::query("UPDATE console_sessions SET oauth_state_hash = $2 WHERE id_hash = $1")
            .bind(hash(id))
            .bind(hash(state))
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Who started the OAuth flow with this `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateOwner {
    /// The API (no console session bound it).
    Api,
    /// The console session with the presented id.
    ThisSession,
    /// Another console session (or a browser without the session's cookie).
    OtherSession,
}

/// Which session bound `state`, compared with the presented session id; clears the binding
/// when it is this session's.
pub async fn oauth_state_owner(
    db: &Database,
    state: &str,
    presented: Option<&str>,
) -> DbResult<StateOwner> {
    let owner: Option<(Vec<u8>,)> = with_pool!(db, |pool| {
        sqlx::query_as("SELECT id_hash FROM console_sessions WHERE oauth_state_hash = $1")
            .bind(hash(state))
            .fetch_optional(pool)
            .await?
    });
    let Some((owner,)) = owner else {
        return Ok(StateOwner::Api);
    };
    let presented = presented.map(hash);
    if presented
        .as_deref()
        .is_some_and(|p| crate::crypto::constant_time_eq(p, &owner))
    {
        with_pool!(db, |pool| {
            let _turn = pool.turn().await;
            sqlx::query("UPDATE console_sessions SET oauth_state_hash = NULL WHERE id_hash = $1")
                .bind(&owner)
                .execute(pool)
                .await?;
        });
        Ok(StateOwner::ThisSession)
    } else {
        Ok(StateOwner::OtherSession)
    }
}

/// A notice shown once on the session's next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// `success` or `error`.
    pub kind: String,
    /// The text.
    pub text: String,
}

/// Leaves a notice for the next page.
pub async fn set_flash(db: &Database, id: &str, kind: &str, text: &str) -> DbResult<()> {
    let value = format!("{kind}\t{text}");
    with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        sqlx::query("UPDATE console_sessions SET flash = $2 WHERE id_hash = $1")
            .bind(hash(id))
            .bind(&value)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Takes the waiting notice, if any.
pub async fn take_flash(db: &Database, id: &str) -> DbResult<Option<Flash>> {
    // RETURNING gives the new (cleared) value: read, then clear what was read.
    let value: Option<(Option<String>,)> = with_pool!(db, |pool| {
        sqlx::query_as("SELECT flash FROM console_sessions WHERE id_hash = $1")
            .bind(hash(id))
            .fetch_optional(pool)
            .await?
    });
    if let Some((Some(flash),)) = &value {
        with_pool!(db, |pool| {
            let _turn = pool.turn().await;
            sqlx::query(
                "UPDATE console_sessions SET flash = NULL WHERE id_hash = $1 AND flash = $2",
            )
            .bind(hash(id))
            .bind(flash)
            .execute(pool)
            .await?;
        });
    }
    Ok(value.and_then(|(v,)| v).map(|v| match v.split_once('\t') {
        Some((kind, text)) => Flash {
            kind: kind.to_owned(),
            text: text.to_owned(),
        },
        None => Flash {
            kind: "success".into(),
            text: v,
        },
    }))
}

/// Mints a one-time sign-in code for the token with `token_hash`, valid [`LOGIN_LINK_TTL`].
pub async fn create_login_link(
    db: &Database,
    token_hash: &TokenHash,
    now: DateTime<Utc>,
) -> DbResult<String> {
    let code = random_token_text()?;
    let (now_ns, expires) = (ns(now)?, ns(now + LOGIN_LINK_TTL)?);
    with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        sqlx::query(
            "INSERT INTO console_login_links (code_hash, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash(&code))
        .bind(&token_hash.as_bytes()[..])
        .bind(now_ns)
        .bind(expires)
        .execute(pool)
        .await?;
    });
    Ok(code)
}

/// Uses a sign-in code: the token it signs in as, exactly once and before it expires.
pub async fn consume_login_link(
    db: &Database,
    code: &str,
    now: DateTime<Utc>,
) -> DbResult<Option<TokenHash>> {
    let now_ns = ns(now)?;
    let row: Option<(Vec<u8>,)> = with_pool!(db, |pool| {
        let _turn = pool.turn().await;
        sqlx::query_as(
            "UPDATE console_login_links SET used_at = $2
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
             RETURNING token_hash",
        )
        .bind(hash(code))
        .bind(now_ns)
        .fetch_optional(pool)
        .await?
    });
    row.map(|(bytes,)| token_hash(&bytes)).transpose()
}
