//! The token endpoints' HTTP client (no redirects, no proxy from the environment), the form
//! posts of introspection and revoke, and the transport handed to `oauth2`; every call is
//! reported to the observer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use http::Method;

use super::OAuthClient;
use crate::auth::Secret;
use crate::client::ApiCall;
use crate::{Error, HubSpotError, Result};

/// A transport error of the closure handed to `oauth2`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct TransportError(String);

/// The HTTP client of the token endpoints: no redirects, no proxy from the environment, and
/// the configured timeout.
pub(super) fn token_endpoint_http(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| Error::Config(format!("oauth http client: {}", crate::error::redacted(e))))
}

impl OAuthClient {
    /// Posts `client_id`, `client_secret` and `token` (with `token_type_hint`) as a form to
    /// `path`, reporting the call; the answer's body on 2xx.
    pub(super) async fn post_form(
        &self,
        path: &str,
        token: &Secret,
        hint: Option<&str>,
    ) -> Result<Vec<u8>> {
        let inner = &*self.inner;
        let mut form = vec![
            ("client_id", inner.config.client_id.as_str()),
            ("client_secret", inner.config.client_secret.expose()),
            ("token", token.expose()),
        ];
        if let Some(hint) = hint {
            form.push(("token_type_hint", hint));
        }
        let started = Instant::now();
        let result = inner
            .http
            .post(format!("{}{path}", inner.api_base))
            .header(http::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await;
        let (status, body) = match result {
            Ok(resp) if resp.status().is_redirection() => {
                let status = resp.status();
                let message = redirect_refused(status);
                self.report_message(path, Some(status.as_u16()), started, &message);
                return Err(Error::OAuth(message));
            }
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(b) => (status, b.to_vec()),
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        self.report(path, Some(status), None, started, Some(&e));
                        return Err(Error::transport(e));
                    }
                }
            }
            Err(e) => {
                let e = crate::error::redacted(e);
                self.report(path, None, None, started, Some(&e));
                return Err(Error::transport(e));
            }
        };
        if !(200..300).contains(&status) {
            let err = HubSpotError::from_response(status, &body);
            self.report(path, Some(status), Some(&err), started, None);
            return Err(Error::Api(Box::new(err)));
        }
        self.report(path, Some(status), None, started, None);
        Ok(body)
    }

    fn report_message(&self, path: &str, status: Option<u16>, started: Instant, message: &str) {
        self.inner.observer.on_call(&ApiCall {
            method: Method::POST,
            path: path.to_owned(),
            status,
            category: None,
            correlation_id: None,
            error: Some(message.to_owned()),
            duration: started.elapsed(),
            attempt: 1,
            object_id: None,
        });
    }

    fn report(
        &self,
        path: &str,
        status: Option<u16>,
        err: Option<&HubSpotError>,
        started: Instant,
        transport: Option<&reqwest::Error>,
    ) {
        self.inner.observer.on_call(&ApiCall {
            method: Method::POST,
            path: path.to_owned(),
            status,
            category: err.and_then(|e| e.category.clone()),
            correlation_id: err.and_then(|e| e.correlation_id.clone()),
            error: err
                .map(|e| e.to_string())
                .or_else(|| transport.map(|e| e.to_string())),
            duration: started.elapsed(),
            attempt: 1,
            object_id: None,
        });
    }

    /// The HTTP function handed to `oauth2`: our reqwest client, reporting to the observer and
    /// remembering the status (to tell a dead refresh token from an outage).
    pub(super) fn http_fn(
        &self,
        status_out: Arc<AtomicU16>,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send>,
    > {
        let this = self.clone();
        move |request: oauth2::HttpRequest| {
            let this = this.clone();
            let status_out = status_out.clone();
            Box::pin(async move {
                let (parts, body) = request.into_parts();
                let path = parts.uri.path().to_owned();
                let started = Instant::now();
                let sent = this
                    .inner
                    .http
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await;
                let resp = match sent {
                    Ok(resp) => resp,
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        this.report(&path, None, None, started, Some(&e));
                        return Err(TransportError(e.to_string()));
                    }
                };
                let status = resp.status();
                if status.is_redirection() {
                    let message = redirect_refused(status);
                    this.report_message(&path, Some(status.as_u16()), started, &message);
                    return Err(TransportError(message));
                }
                let headers = resp.headers().clone();
                let bytes = match resp.bytes().await {
                    Ok(b) => b.to_vec(),
                    Err(e) => {
                        let e = crate::error::redacted(e);
                        this.report(&path, Some(status.as_u16()), None, started, Some(&e));
                        return Err(TransportError(e.to_string()));
                    }
                };
                status_out.store(status.as_u16(), Ordering::Relaxed);
                let err = (!status.is_success())
                    .then(|| HubSpotError::from_response(status.as_u16(), &bytes));
                this.report(&path, Some(status.as_u16()), err.as_ref(), started, None);
                let mut response = http::Response::builder().status(status);
                if let Some(h) = response.headers_mut() {
                    *h = headers;
                }
                response
                    .body(bytes)
                    .map_err(|e| TransportError(e.to_string()))
            })
        }
    }
}

/// The message of a token endpoint that answered a redirect: it is not followed, since the
/// request carries the client secret and a token.
fn redirect_refused(status: reqwest::StatusCode) -> String {
    format!("oauth endpoint answered a redirect ({status}); redirects are not followed")
}
