//! The demo's HTTP client of the server's public API, and the reads the steps wait on.

use std::future::Future;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::{DemoError, H, PATIENCE, fail};

/// The names of every agency or agent (`first last` for agents).
pub(super) async fn names(api: &Api, list: &str) -> Option<Vec<String>> {
    let page = api.get(&format!("{list}?limit=100")).await.ok()?;
    Some(
        page["items"]
            .as_array()?
            .iter()
            .map(|item| match item["name"].as_str() {
                Some(name) => name.to_owned(),
                None => format!(
                    "{} {}",
                    item["first_name"].as_str().unwrap_or_default(),
                    item["last_name"].as_str().unwrap_or_default()
                ),
            })
            .collect(),
    )
}

pub(super) async fn agency_id(api: &Api, name: &str) -> Result<String, DemoError> {
    let page = api.get("/api/v1/agencies?limit=100").await?;
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|a| a["name"] == name))
        .and_then(|a| a["id"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| fail(format!("no agency named {name}")))
}

pub(super) async fn activity(api: &Api) -> Option<Vec<Value>> {
    let page = api.get(&format!("{H}/activity?limit=100")).await.ok()?;
    page["entries"].as_array().cloned()
}

pub(super) async fn titled(api: &Api, title: &str) -> Option<usize> {
    Some(
        activity(api)
            .await?
            .iter()
            .filter(|e| e["title"] == title)
            .count(),
    )
}

pub(super) async fn skip_reasons(api: &Api) -> Option<Vec<String>> {
    Some(
        activity(api)
            .await?
            .iter()
            .filter_map(|e| e["details"]["skip_reason"].as_str().map(str::to_owned))
            .collect(),
    )
}

/// Polls `check` until it answers, for at most 90 s (the demo's patience).
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> Result<T, DemoError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(fail(format!("timed out waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server's public API as one organization's admin, the way a script or a settings page
/// would call it (also used by the load tools).
pub struct Api {
    http: reqwest::Client,
    base: String,
    pub(super) token: String,
}

impl Api {
    /// A client of the server at `base` with an API token.
    pub fn new(base: &str, token: &str) -> Result<Self, DemoError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| fail(format!("http client: {e}")))?;
        Ok(Self {
            http,
            base: base.to_owned(),
            token: token.to_owned(),
        })
    }

    /// Sends `body` (none when `Null`) and reads the JSON answer; a non-2xx is an error.
    pub async fn send(&self, method: Method, path: &str, body: Value) -> Result<Value, DemoError> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| fail(format!("{method} {path}: {e}")))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(fail(format!("{method} {path} answered {status}: {text}")));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Result<Value, DemoError> {
        self.send(Method::GET, path, Value::Null).await
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, DemoError> {
        self.send(Method::POST, path, body).await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Result<Value, DemoError> {
        self.send(Method::PUT, path, body).await
    }

    /// A browser's visit to `url` (no token, redirects not followed).
    pub(super) async fn browser(&self, url: &str) -> Result<reqwest::Response, DemoError> {
        self.http
            .get(url)
            .send()
            .await
            .map_err(|e| fail(format!("GET {url}: {e}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Progress
