//! A minimal HTML page under `/_sandbox/ui` for the demo and manual exploration: browse
//! records, edit them as a person would (the edits send `CRM_UI` webhooks), create and delete
//! them, and see the counters and webhook attempts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::control::Control;
use super::state::{ObjectKind, Record, Shared};

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t} · HubSpot sandbox</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}}\
         input[type=text]{{width:28rem}}nav a{{margin-right:1rem}}</style></head><body>\
         <nav><a href=\"/_sandbox/ui\">Home</a><a href=\"/_sandbox/ui/companies\">Companies</a>\
         <a href=\"/_sandbox/ui/contacts\">Contacts</a><a href=\"/_sandbox/ui/notes\">Notes</a></nav>\
         <h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    ))
    .into_response()
}

fn control(shared: &Arc<Shared>) -> Control {
    Control {
        shared: Arc::clone(shared),
        portal: shared.identity.default_portal,
    }
}

/// The record a page's path names, with its kind and the default portal's control.
fn record_of(
    shared: &Arc<Shared>,
    object: &str,
    id: &str,
) -> Option<(ObjectKind, Control, Record)> {
    let k = kind(object)?;
    let c = control(shared);
    let record = c.record(k, id)?;
    Some((k, c, record))
}

fn kind(raw: &str) -> Option<ObjectKind> {
    ObjectKind::parse(raw)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Html("not found")).into_response()
}

async fn home(State(shared): State<Arc<Shared>>) -> Response {
    let c = control(&shared);
    let stats = c.stats();
    let mut body = String::new();
    let id = &shared.identity;
    let _ = write!(
        body,
        "<p>Portal <b>{}</b>, app <b>{}</b>, API at <code>{}</code>.</p><ul>",
        id.default_portal,
        id.app_id,
        esc(&id.base_url)
    );
    for k in ObjectKind::ALL {
        let _ = write!(
            body,
            "<li><a href=\"/_sandbox/ui/{p}\">{p}</a>: {n}</li>",
            p = k.plural(),
            n = c.count(k)
        );
    }
    let _ = write!(
        body,
        "</ul><h2>API calls</h2><p>{} calls, {} answered 429 by the rate limits.</p><table><tr><th>endpoint</th><th>calls</th></tr>",
        stats.total_calls(),
        stats.rate_limited
    );
    for (endpoint, n) in &stats.calls {
        let _ = write!(body, "<tr><td>{}</td><td>{n}</td></tr>", esc(endpoint));
    }
    body.push_str("</table><h2>Webhook attempts (latest 20)</h2><table><tr><th>at</th><th>attempt</th><th>events</th><th>status</th></tr>");
    for a in c.webhook_attempts().iter().rev().take(20) {
        let status = a
            .status
            .map(|s| s.to_string())
            .or_else(|| a.error.clone())
            .unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.at.format("%H:%M:%S%.3f"),
            a.attempt_number,
            a.event_ids.len(),
            esc(&status)
        );
    }
    body.push_str("</table>");
    page("Overview", &body)
}

fn summary(kind: ObjectKind, r: &Record) -> String {
    let fields: &[&str] = match kind {
        ObjectKind::Companies => &["name", "domain", "state"],
        ObjectKind::Contacts => &["firstname", "lastname", "email"],
        ObjectKind::Notes => &["hs_timestamp", "hs_note_body"],
    };
    fields
        .iter()
        .map(|f| format!("<td>{}</td>", esc(r.property(f).unwrap_or_default())))
        .collect()
}

async fn list(State(shared): State<Arc<Shared>>, Path(object): Path<String>) -> Response {
    let Some(k) = kind(&object) else {
        return not_found();
    };
    let c = control(&shared);
    let mut body = String::from("<table><tr><th>id</th><th colspan=3>properties</th></tr>");
    for r in c.records(k).iter().rev().take(500) {
        let _ = write!(
            body,
            "<tr><td><a href=\"/_sandbox/ui/{p}/{id}\">{id}</a></td>{s}</tr>",
            p = k.plural(),
            id = esc(&r.id),
            s = summary(k, r)
        );
    }
    let _ = write!(
        body,
        "</table><h2>Create</h2><form method=\"post\" action=\"/_sandbox/ui/{p}\">\
         <p>One <code>property=value</code> per line.</p>\
         <textarea name=\"properties\" rows=\"6\" cols=\"60\"></textarea><br>\
         <button>Create as a HubSpot user</button></form>",
        p = k.plural()
    );
    page(k.plural(), &body)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<p>{}</p><p><a href=\"javascript:history.back()\">Back</a></p>",
        esc(message)
    );
    let mut r = page("Refused", &body);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

async fn create(
    State(shared): State<Arc<Shared>>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let Some(k) = kind(&object) else {
        return not_found();
    };
    let f = form(&body);
    let props: Vec<(String, String)> = f
        .get("properties")
        .map(String::as_str)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .filter(|(n, _)| !n.is_empty())
        .collect();
    match control(&shared).create_record(k, props) {
        Ok(r) => Redirect::to(&format!("/_sandbox/ui/{}/{}", k.plural(), r.id)).into_response(),
        Err(e) => error_page(&e.to_string()),
    }
}

async fn show(
    State(shared): State<Arc<Shared>>,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let Some((k, c, record)) = record_of(&shared, &object, &id) else {
        return not_found();
    };
    let catalog: Vec<(String, bool)> = {
        let world = shared.world();
        match world.portal(c.portal_id()) {
            Ok(p) => p
                .props(k)
                .values()
                .map(|d| (d.name.clone(), d.read_only_value))
                .collect(),
            Err(_) => Vec::new(),
        }
    };
    let mut body = format!(
        "<form method=\"post\" action=\"/_sandbox/ui/{p}/{id}\"><table><tr><th>property</th><th>value</th></tr>",
        p = k.plural(),
        id = esc(&record.id)
    );
    for (name, read_only) in &catalog {
        let value = esc(record.property(name).unwrap_or_default());
        let input = if *read_only {
            value
        } else {
            format!(
                "<input type=\"text\" name=\"p.{n}\" value=\"{value}\">",
                n = esc(name)
            )
        };
        let _ = write!(body, "<tr><td>{}</td><td>{input}</td></tr>", esc(name));
    }
    body.push_str("</table><button>Save as a HubSpot user</button></form>");
    for other in ObjectKind::ALL.into_iter().filter(|o| *o != k) {
        let ids = c.associated_ids(k, &record.id, other);
        if ids.is_empty() {
            continue;
        }
        let _ = write!(body, "<h2>Associated {}</h2><ul>", other.plural());
        for i in ids {
            let _ = write!(
                body,
                "<li><a href=\"/_sandbox/ui/{p}/{i}\">{i}</a></li>",
                p = other.plural(),
                i = esc(&i)
            );
        }
        body.push_str("</ul>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/_sandbox/ui/{p}/{id}/delete\"><button>Delete</button></form>",
        p = k.plural(),
        id = esc(&record.id)
    );
    page(&format!("{} {}", k.singular(), record.id), &body)
}

async fn save(
    State(shared): State<Arc<Shared>>,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some((k, c, record)) = record_of(&shared, &object, &id) else {
        return not_found();
    };
    // Only what changed, so each edit produces the webhooks of that edit alone.
    let changed: Vec<(String, String)> = form(&body)
        .into_iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("p.")?.to_string(), v)))
        .filter(|(n, v)| record.property(n).unwrap_or_default() != v)
        .collect();
    if !changed.is_empty() {
        if let Err(e) = c.update_record(k, &id, changed) {
            return error_page(&e.to_string());
        }
    }
    Redirect::to(&format!("/_sandbox/ui/{}/{}", k.plural(), id)).into_response()
}

async fn delete(
    State(shared): State<Arc<Shared>>,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let Some(k) = kind(&object) else {
        return not_found();
    };
    match control(&shared).delete_record(k, &id) {
        Ok(()) => Redirect::to(&format!("/_sandbox/ui/{}", k.plural())).into_response(),
        Err(e) => error_page(&e.to_string()),
    }
}

async fn index_redirect() -> Response {
    (StatusCode::FOUND, [(header::LOCATION, "/_sandbox/ui")]).into_response()
}

/// `/_sandbox/ui/...`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index_redirect))
        .route("/_sandbox/ui", get(home))
        .route("/_sandbox/ui/{object}", get(list).post(create))
        .route("/_sandbox/ui/{object}/{id}", get(show).post(save))
        .route("/_sandbox/ui/{object}/{id}/delete", post(delete))
}
