//! The session cookie: `HttpOnly`, `SameSite=Lax` (the OAuth redirect back from HubSpot is a
//! top-level navigation, so it still carries the cookie), `Secure` when the public URL is https.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie's name.
pub const SESSION: &str = "turris_session";

/// `Set-Cookie` for a new session.
pub fn session(id: &str, secure: bool) -> String {
    let max_age = super::session::MAX_AGE.num_seconds();
    format!(
        "{SESSION}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear(secure: bool) -> String {
    format!(
        "{SESSION}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session id the request presents, if any.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_http_only_lax_and_secure_only_over_https() {
        let plain = session("abc", false);
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Lax"));
        assert!(!plain.contains("Secure"));
        assert!(session("abc", true).ends_with("; Secure"));
    }

    #[test]
    fn the_session_id_is_read_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, "a=1; turris_session=xyz; b=2".parse().unwrap());
        assert_eq!(session_id(&headers).as_deref(), Some("xyz"));
        headers.insert(COOKIE, "turris_session=".parse().unwrap());
        assert_eq!(session_id(&headers), None);
    }
}
