//! CSRF tokens: every form carries `_csrf`, derived from the session id (which only the
//! server and the cookie, `HttpOnly`, know), so nothing more is stored and a page from another
//! site cannot forge it.

use crate::crypto::{TokenHash, constant_time_eq};

/// The form field.
pub const FIELD: &str = "_csrf";

/// The CSRF token of a session.
pub fn token(session_id: &str) -> String {
    hex::encode(TokenHash::of(&format!("turris-console-csrf:{session_id}")).as_bytes())
}

/// Whether `presented` is the session's token (constant time).
pub fn verify(session_id: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token(session_id).as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_for_its_own_session() {
        let t = token("session-a");
        assert!(verify("session-a", Some(&t)));
        assert!(!verify("session-b", Some(&t)));
        assert!(!verify("session-a", None));
        assert!(!verify("session-a", Some("")));
        assert_ne!(t, "session-a", "the token is not the session id");
    }
}
