//! The console in real headless Chromium over WebDriver (fantoccini). Each test starts its own
//! `chromedriver` on a free port and a fresh profile. Without `chromium`/`chromedriver` (a
//! developer machine without them) each test prints one line and passes; CI installs them.
//!
//! `TURRIS_SCREENSHOTS=$PWD/docs/screenshots cargo test -p turris-server --test it console::browser`
//! also writes a PNG of every page (and of the steps of each flow) into that folder.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::read_only_token;
use crate::support::app::{Backend, TestApp};

/// WebDriver key codes.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ARROW_DOWN: &str = "\u{E015}";

/// How long to wait for something to appear on a page.
pub const PATIENCE: Duration = Duration::from_secs(30);

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Chromium driven over WebDriver.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (after one line saying so) when
    /// they are not installed.
    pub async fn start(test: &str) -> Option<Self> {
        let driver = find_program(&["chromedriver"]);
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            assert_ne!(
                std::env::var("TURRIS_TEST_REQUIRE_BROWSER").as_deref(),
                Ok("1"),
                "{test}: chromium and chromedriver are required"
            );
            println!(
                "{test}: skipped, chromium and chromedriver are not installed (CI installs them)"
            );
            return None;
        };
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver listens"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        client.set_window_size(1280, 800).await.unwrap();
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Opens `path` of the app.
    pub async fn open(&self, app: &TestApp, path: &str) {
        self.client
            .goto(&format!("{}{path}", app.base))
            .await
            .unwrap();
    }

    /// Waits for an element.
    pub async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while self.client.find(Locator::Css(css)).await.is_ok() {
            if tokio::time::Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                panic!("{css} never went away; page: {source}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element's text contains `needle`; returns the text.
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
                && text.contains(needle)
            {
                return text;
            }
            if tokio::time::Instant::now() > deadline {
                let source = self.client.source().await.unwrap_or_default();
                panic!("{css} never said {needle:?}; page: {source}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    /// Types into an input.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.wait(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// Presses keys (WebDriver key codes, e.g. TAB) on whatever has the focus.
    pub async fn keys(&self, keys: &str) {
        let focused = self.client.active_element().await.unwrap();
        focused.send_keys(keys).await.unwrap();
    }

    /// Whether the focused element matches `css`.
    pub async fn focused(&self, css: &str) -> bool {
        let matched = self
            .client
            .execute(
                "return document.activeElement !== null && document.activeElement.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .unwrap();
        matched == json!(true)
    }

    /// Presses Tab until the element matching `css` has the focus (at most 60 times).
    pub async fn tab_to(&self, css: &str) {
        for _ in 0..60 {
            if self.focused(css).await {
                return;
            }
            self.keys(TAB).await;
        }
        panic!("Tab never reached {css}");
    }

    /// The page's HTML.
    pub async fn html(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// A browser and a server whose public base URL is its own, on SQLite; `None` as
    /// [`Browser::start`] says.
    pub async fn with_app(test: &str) -> Option<(Self, TestApp)> {
        let browser = Self::start(test).await?;
        let app = TestApp::spawn_public(Backend::Sqlite, |_| {}).await;
        Some((browser, app))
    }

    /// [`Browser::with_app`], signed in as the organization's admin.
    pub async fn signed_in(test: &str) -> Option<(Self, TestApp)> {
        let (browser, app) = Self::with_app(test).await?;
        browser.sign_in(&app, &app.token).await;
        Some((browser, app))
    }

    /// Signs out with the header's button, and waits for the signed-out page.
    pub async fn sign_out(&self, app: &TestApp) {
        self.open(app, "/console/integrations").await;
        self.click("form[action='/console/logout'] button").await;
        self.wait_text("main", "You are signed out.").await;
    }

    /// Signs in by pasting a token, and waits for the console.
    pub async fn sign_in(&self, app: &TestApp, token: &str) {
        self.open(app, "/console/login").await;
        self.fill("#token", token).await;
        self.click("form[action='/console/login'] button[type=submit]")
            .await;
        self.wait("header.top nav").await;
    }

    /// With `TURRIS_SCREENSHOTS=DIR`, saves the page as `DIR/name.png`.
    pub async fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("TURRIS_SCREENSHOTS") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        // The whole page: grow the window to the document's height first.
        let height = self
            .client
            .execute("return document.documentElement.scrollHeight", vec![])
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(800)
            .clamp(800, 4000) as u32;
        let (width, _) = self.size().await;
        self.client
            .set_window_size(width, height + 140)
            .await
            .unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        self.client.set_window_size(width, 800).await.unwrap();
    }

    async fn size(&self) -> (u32, u32) {
        let (_, _, w, h) = self.client.get_window_rect().await.unwrap();
        (w as u32, h as u32)
    }

    /// Closes the browser.
    pub async fn close(self) {
        let client = self.client.clone();
        let _ = client.close().await;
    }
}

/// An agency and a NIPR result about it: one `entity_compliance_data_synchronized` event.
async fn nipr_event(app: &TestApp) {
    let agency = app
        .create_agency(json!({"name": "Acme Agency", "npn": "12345"}))
        .await;
    app.create_nipr_sync(json!({"entity_type": "agency", "entity_id": agency.body["id"], "kind": "fetch", "outcome": "success"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_added_with_its_secret_shown_once_then_resent_and_deleted() {
    let Some((browser, app)) =
        Browser::signed_in("a_webhook_is_added_with_its_secret_shown_once_then_resent_and_deleted")
            .await
    else {
        return;
    };
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("thanks"))
        .mount(&receiver)
        .await;
    browser.open(&app, "/console/webhooks").await;
    browser
        .wait_text("#webhooks-empty", "No webhooks configured yet.")
        .await;
    browser.screenshot("webhooks-empty").await;

    // A URL that is not a URL is refused inline, and the form keeps what was typed.
    browser.click("#add-webhook summary").await;
    browser
        .click("input[name=webhook_type][value=entity_compliance_data_synchronized]")
        .await;
    browser.fill("#webhook-url", "not a url").await;
    browser.click("#add-webhook-submit").await;
    browser.wait_text("#url-error", "").await;
    let html = browser.html().await;
    assert!(
        html.contains("aria-invalid=\"true\""),
        "the URL field is marked"
    );

    let url = format!("{}/hook", receiver.uri());
    browser.fill("#webhook-url", &url).await;
    browser.click("#add-webhook-submit").await;
    let secret = browser.wait_text("#webhook-secret", "").await;
    assert_eq!(secret.trim().len(), 64, "the full secret, once: {secret}");
    browser
        .wait_text("#webhook-created", "will only be shown once")
        .await;
    browser.wait("#copy-secret").await;
    browser.screenshot("webhook-created").await;

    // After a reload only the last four characters remain.
    browser.client.refresh().await.unwrap();
    let masked = browser.wait_text("td[data-secret]", "••••").await;
    assert!(masked.ends_with(&secret.trim()[60..]), "{masked}");
    assert!(!browser.html().await.contains(secret.trim()));
    browser.screenshot("webhooks-masked").await;

    // An event waits for its first attempt; Resend delivers it, then is disabled.
    nipr_event(&app).await;
    browser.click("#webhooks-table a.chip").await;
    browser.wait("#history-table").await;
    browser.click("button[data-resend]").await;
    browser
        .wait_text("#flash", "Webhook resend is in progress")
        .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        browser.client.refresh().await.unwrap();
        browser.wait("#history-table").await;
        if browser.html().await.contains("pill-success") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the resend was delivered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        browser
            .client
            .find(Locator::Css("button[data-resend]"))
            .await
            .is_err(),
        "no Resend for a delivered event"
    );
    browser.screenshot("webhook-history-delivered").await;
    browser.click("#history-table a[href$='/logs']").await;
    let status = browser.wait_text("td[data-status-code]", "200").await;
    assert_eq!(status.trim(), "200");
    assert!(
        browser.html().await.contains("thanks"),
        "the response excerpt"
    );
    browser.screenshot("webhook-logs").await;

    // Rotate the secret, confirmed: the new one is shown once.
    browser.open(&app, "/console/webhooks").await;
    browser.click("details[data-rotate] summary").await;
    browser.click("button[data-rotate-submit]").await;
    browser.wait_text("#created-title", "Secret Rotated").await;
    browser.wait_text("#rotation-overlap", "both").await;
    browser.screenshot("webhook-secret-rotated").await;

    // Delete, confirmed.
    browser.open(&app, "/console/webhooks").await;
    browser.click("details[data-delete] summary").await;
    browser
        .click("details[data-delete] form button.danger")
        .await;
    browser
        .wait_text("#flash", "Webhook deleted successfully")
        .await;
    browser.wait("#webhooks-empty").await;
    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_role_sees_no_create_or_delete_controls_and_a_forged_post_gets_403() {
    let Some((browser, app)) = Browser::with_app(
        "a_read_only_role_sees_no_create_or_delete_controls_and_a_forged_post_gets_403",
    )
    .await
    else {
        return;
    };
    app.api(
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.example.com/turris"})),
    )
    .await
    .expect(201);
    let token = read_only_token(&app).await;
    browser.sign_in(&app, &token).await;
    browser.open(&app, "/console/webhooks").await;
    browser.wait("#webhooks-table").await;
    let html = browser.html().await;
    assert!(!html.contains("Add Webhook") && !html.contains("details class=\"confirm\""));
    browser.open(&app, "/console/integrations").await;
    browser
        .wait_text("#connect-reason", "does not grant integrations:create")
        .await;
    let disabled = browser.wait("[data-card=hubspot] button").await;
    assert!(!disabled.is_enabled().await.unwrap());
    // A forged form, with this session's own CSRF token, is still refused by the server.
    let status = browser
        .client
        .execute(
            "const csrf = document.querySelector('input[name=_csrf]').value;
             const body = new URLSearchParams({_csrf: csrf, webhook_type: 'producer_agreement_executed', url: 'https://hooks.example.com/forged'});
             return fetch('/console/webhooks', {method: 'POST', body}).then(r => r.status);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    // A form without the CSRF token is refused too.
    let status = browser
        .client
        .execute(
            "const body = new URLSearchParams({webhook_type: 'producer_agreement_executed', url: 'https://hooks.example.com/forged'});
             return fetch('/console/webhooks', {method: 'POST', body}).then(r => r.status);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status, json!(403));
    let listed = app.get("/api/v1/webhooks").await.expect(200);
    assert_eq!(listed.body["webhooks"].as_array().unwrap().len(), 1);
    browser.close().await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_connects_through_oauth_in_the_browser_and_settings_show_errors_inline() {
    let Some((browser, app)) = Browser::signed_in(
        "hubspot_connects_through_oauth_in_the_browser_and_settings_show_errors_inline",
    )
    .await
    else {
        return;
    };
    browser.open(&app, "/console/integrations").await;
    browser
        .wait_text("[data-card=hubspot] [data-status]", "Not Connected")
        .await;
    browser.screenshot("integrations-not-connected").await;

    // Connect: to the sandbox's consent page and back to the HubSpot page, with a banner.
    browser.click("#connect-hubspot").await;
    browser.wait_text("#flash", "HubSpot is connected").await;
    assert!(
        browser
            .client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/integrations/hubspot")
    );
    browser.wait_text("#hubspot-status", "Connected").await;
    browser
        .wait_text("#mapping-warning", "Configure the Agency Identifier")
        .await;

    // Agency inbound is not offered until its prerequisites are met, and says which.
    let toggle = browser.wait("#toggle-agency\\.inbound").await;
    assert!(!toggle.is_enabled().await.unwrap());
    let why = browser
        .wait_text("[data-missing='agency.inbound']", "Needs:")
        .await;
    assert!(why.to_lowercase().contains("identifier"), "{why}");
    // A forged request that turns it on anyway is refused by the server, naming it.
    let refused = browser
        .client
        .execute(
            "const csrf = document.querySelector('input[name=_csrf]').value;
             const body = new URLSearchParams({_csrf: csrf, 'agency.inbound': 'on'});
             return fetch('/console/integrations/hubspot/sync', {method: 'POST', body})
               .then(async r => [r.status, await r.text()]);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(refused[0], json!(422));
    let text = refused[1].as_str().unwrap();
    assert!(text.contains("data-error-for=\"agency.inbound\""), "{text}");

    // A half-configured identifier filter is shown at the field, then fixed.
    browser.click("#mapping-editor summary").await;
    browser
        .click("input[name='agency.identifier.mode'][value=apply_filter]")
        .await;
    browser
        .wait("select[name='agency.identifier.property']")
        .await
        .select_by_value("type")
        .await
        .unwrap();
    browser
        .wait("select[name='agency.identifier.operator']")
        .await
        .select_by_value("equals")
        .await
        .unwrap();
    browser.click("#save-mapping").await;
    let error = browser
        .wait_text("[data-error-for='agency.identifier.value']", "")
        .await;
    assert!(!error.trim().is_empty());
    browser.wait("#mapping-errors").await;
    let summary = browser
        .wait_text("#agency-mapping-table", "Agency Identifier")
        .await;
    assert!(
        summary.contains("Not configured"),
        "a refused save changes nothing: {summary}"
    );
    browser.screenshot("hubspot-mapping-error").await;
    browser
        .fill("input[name='agency.identifier.value']", "PARTNER")
        .await;
    browser.click("#save-mapping").await;
    browser.wait_text("#flash", "Field mapping saved.").await;
    assert!(browser.html().await.contains("type equals PARTNER"));

    // Now the toggle is offered; turning it on is saved.
    let toggle = browser.wait("#toggle-agency\\.inbound").await;
    assert!(toggle.is_enabled().await.unwrap());
    toggle.click().await.unwrap();
    browser.click("#save-sync").await;
    browser.wait_text("#flash", "Sync settings saved.").await;
    let matrix = app
        .get("/api/v1/integrations/hubspot/sync")
        .await
        .expect(200);
    assert_eq!(matrix.body["agency"]["inbound"], true);
    browser.wait("#invitations-form").await;

    // Invitations: a contract rule is added (not saved yet), refused without its template,
    // then removed and the settings saved.
    browser.click("input[name=mode][value=invite_all]").await;
    browser.click("#add-rule").await;
    browser.wait("[data-rule='0']").await;
    browser.click("input[name=mode][value=invite_all]").await;
    browser.click("#save-invitations").await;
    browser
        .wait_text("[data-error-for='rules[0].template']", "template")
        .await;
    browser
        .click("[data-rule='0'] button[value='remove:0']")
        .await;
    // The form is re-rendered without the rule (its "Add rule" button is there before too).
    browser.wait_gone("[data-rule='0']").await;
    browser.click("input[name=mode][value=invite_all]").await;
    browser.click("#save-invitations").await;
    browser
        .wait_text("#flash", "Agency invitation settings saved.")
        .await;
    let invitations = app
        .get("/api/v1/integrations/hubspot/invitations")
        .await
        .expect(200);
    assert_eq!(invitations.body["mode"], "invite_all");

    // Bulk reconciliation: started from the page, its card follows it (htmx polls) to the end.
    browser.click("input[name=create_missing_in_turris]").await;
    browser.click("#start-reconciliation").await;
    browser
        .wait_text("#flash", "Bulk reconciliation started.")
        .await;
    browser.wait_text("[data-recon-status]", "completed").await;
    browser.screenshot("hubspot-configured").await;
    browser.close().await;
    app.finish().await;
}

/// A one-time sign-in link opens a confirmation page; its button signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_asks_to_confirm_then_signs_in() {
    let Some((browser, app)) =
        Browser::with_app("a_sign_in_link_asks_to_confirm_then_signs_in").await
    else {
        return;
    };
    let token = turris_server::crypto::ApiToken::from_presented(app.token.clone());
    let link =
        turris_server::console::login::login_link_for(app.state.database(), &app.base, &token)
            .await
            .unwrap();
    browser.client.goto(&link).await.unwrap();
    browser
        .wait_text("#link-form", "one-time sign-in link")
        .await;
    browser.screenshot("login-link").await;
    browser.click("#use-link").await;
    browser.wait("header.top nav").await;
    browser.close().await;
    app.finish().await;
}

/// The console works without a mouse: the first Tab reaches "Skip to content", focus is always
/// visible, and a webhook is added with Tab, arrow keys, typing and Enter alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_added_with_the_keyboard_alone_and_focus_is_always_visible() {
    let Some((browser, app)) = Browser::signed_in(
        "a_webhook_is_added_with_the_keyboard_alone_and_focus_is_always_visible",
    )
    .await
    else {
        return;
    };
    browser.open(&app, "/console/webhooks").await;
    browser.wait("#add-webhook").await;
    browser.keys(TAB).await;
    assert!(
        browser.focused("a.skip").await,
        "the first stop is the skip link"
    );
    let outline = browser
        .client
        .execute(
            "return getComputedStyle(document.activeElement).outlineStyle;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(outline, json!("solid"), "the focused element shows it");
    browser.tab_to("#add-webhook summary").await;
    browser.keys(ENTER).await;
    browser.tab_to("input[name=webhook_type]").await;
    browser.keys(ARROW_DOWN).await;
    let chosen = browser
        .client
        .execute(
            "return document.querySelector('input[name=webhook_type]:checked').value;",
            vec![],
        )
        .await
        .unwrap();
    assert!(chosen.as_str().is_some_and(|v| !v.is_empty()), "{chosen}");
    browser.tab_to("#webhook-url").await;
    browser.keys("https://hooks.example.com/turris").await;
    browser.keys(ENTER).await;
    let secret = browser.wait_text("#webhook-secret", "").await;
    assert_eq!(secret.trim().len(), 64, "added, with its secret shown once");
    let listed = app.get("/api/v1/webhooks").await.expect(200);
    assert_eq!(listed.body["webhooks"][0]["webhook_type"], chosen);
    browser.close().await;
    app.finish().await;
}

/// The condition editor's pickers: the property list narrows as one types, and a dropdown
/// property offers its options for the value (a suggestion list) and for "Is one of" (an "Add
/// an option" list that appends a line), so nobody has to know HubSpot's internal values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn condition_pickers_search_properties_and_offer_a_dropdowns_options() {
    let Some((browser, app)) =
        Browser::signed_in("condition_pickers_search_properties_and_offer_a_dropdowns_options")
            .await
    else {
        return;
    };
    app.connect_hubspot().await.expect(200);
    browser.open(&app, "/console/integrations/hubspot").await;
    browser.click("#mapping-editor summary").await;
    browser
        .click("input[name='agency.identifier.mode'][value=apply_filter]")
        .await;
    browser
        .fill("[aria-controls='agency.identifier.property']", "(type")
        .await;
    let visible: Vec<String> = serde_json::from_value(
        browser
            .client
            .execute(
                "return Array.from(document.getElementById('agency.identifier.property').options)
                   .filter(o => !o.hidden && o.value).map(o => o.value);",
                vec![],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(visible.contains(&"type".to_owned()), "{visible:?}");
    assert!(
        !visible.contains(&"name".to_owned()),
        "the search hides what does not match: {visible:?}"
    );
    browser
        .wait("select[name='agency.identifier.property']")
        .await
        .select_by_value("type")
        .await
        .unwrap();
    let suggested: Vec<String> = serde_json::from_value(
        browser
            .client
            .execute(
                "return Array.from(document.getElementById('agency.identifier.choices').options)
                   .map(o => o.value);",
                vec![],
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(suggested.contains(&"PARTNER".to_owned()), "{suggested:?}");
    browser
        .wait("select[name='agency.identifier.operator']")
        .await
        .select_by_value("is_one_of")
        .await
        .unwrap();
    let add = browser
        .wait("[data-operand=values] select[data-add-choice]")
        .await;
    add.select_by_value("PARTNER").await.unwrap();
    add.select_by_value("VENDOR").await.unwrap();
    browser.screenshot("hubspot-condition-pickers").await;
    browser.click("#save-mapping").await;
    browser.wait_text("#flash", "Field mapping saved.").await;
    let mapping = app
        .get("/api/v1/integrations/hubspot/mapping")
        .await
        .expect(200);
    assert_eq!(
        mapping.body["agency"]["identifier"],
        json!({"mode": "apply_filter", "property": "type", "operator": "is_one_of", "values": ["PARTNER", "VENDOR"]})
    );
    browser.close().await;
    app.finish().await;
}

/// Every page, with readable sample data, at a desktop and a phone size: each input has a
/// label and nothing is wider than the phone's screen. With `TURRIS_SCREENSHOTS=DIR`, one PNG
/// per page and size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_at_desktop_and_phone_sizes_with_a_label_on_every_input() {
    let Some((browser, app)) = Browser::with_app(
        "every_page_renders_at_desktop_and_phone_sizes_with_a_label_on_every_input",
    )
    .await
    else {
        return;
    };
    let org = "acme";
    app.admin(
        Method::POST,
        "/api/v1/admin/organizations",
        Some(json!({"id": org, "name": "Acme Insurance", "subscription_active": true})),
    )
    .await
    .expect(201);
    let grants: Vec<String> = ["integrations", "webhooks", "records"]
        .iter()
        .flat_map(|a| ["read", "create", "update", "delete"].map(|c| format!("{a}:{c}")))
        .collect();
    let role = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/roles"),
            Some(json!({"name": "admin", "grants": grants})),
        )
        .await
        .expect(201);
    let user = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/users"),
            Some(json!({"email": "ops@acme.example", "name": "Ops"})),
        )
        .await
        .expect(201);
    let token = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/organizations/{org}/tokens"),
            Some(
                json!({"user_id": user.body["id"], "role_id": role.body["id"], "label": "console"}),
            ),
        )
        .await
        .expect(201);
    let token = token.body["token"].as_str().unwrap().to_owned();
    let api = |method: Method, path: &'static str, body: serde_json::Value| {
        let app = &app;
        let token = token.clone();
        async move { app.call(method, path, Some(&token), Some(body)).await }
    };
    // HubSpot connected with a private app (the OAuth round trip has its own test), a mapping,
    // inbound agency sync, a contract template and rules; a webhook with a delivery.
    api(
        Method::POST,
        "/api/v1/integrations/hubspot/private-app",
        json!({"portal_id": app.sandbox.portal_id(), "token": app.sandbox.private_app_token()}),
    )
    .await
    .expect(200);
    api(Method::PUT, "/api/v1/integrations/hubspot/mapping", json!({
        "agency": {"identifier": {"mode": "apply_filter", "property": "type", "operator": "equals", "value": "PARTNER"}, "name": "name", "city": "city", "state_code": "state"},
        "agent": {"identifier": {"mode": "sync_all"}, "first_name": "firstname", "last_name": "lastname", "email": "email"}
    })).await.expect(200);
    api(
        Method::PUT,
        "/api/v1/integrations/hubspot/sync",
        json!({"agency": {"inbound": true, "outbound": true}}),
    )
    .await
    .expect(200);
    api(
        Method::POST,
        "/api/v1/contract-templates",
        json!({"id": "standard-2026", "name": "Standard producer agreement"}),
    )
    .await
    .expect(201);
    api(Method::PUT, "/api/v1/integrations/hubspot/invitations", json!({
        "mode": "invite_all",
        "rules": [{"condition": {"property": "state", "operator": "equals", "value": "NY"}, "template": "standard-2026"}],
        "default_template": "standard-2026"
    })).await.expect(200);
    let agency = api(Method::POST, "/api/v1/agencies", json!({"name": "Harbor Insurance Agency", "npn": "8812345", "city": "Albany", "state_code": "NY"})).await.expect(201);
    api(Method::POST, "/api/v1/agents", json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@harbor.example", "npn": "7712345"})).await.expect(201);
    api(Method::POST, "/api/v1/webhooks", json!({"webhook_type": "entity_compliance_data_synchronized", "url": "https://hooks.acme.example/turris/compliance"})).await.expect(201);
    api(Method::POST, "/api/v1/webhooks", json!({"webhook_type": "producer_agreement_executed", "url": "https://hooks.acme.example/turris/agreements"})).await.expect(201);
    api(Method::POST, "/api/v1/nipr-syncs", json!({"entity_type": "agency", "entity_id": agency.body["id"], "kind": "fetch", "outcome": "success"})).await.expect(201);

    browser.sign_in(&app, &token).await;
    // Outbound agency sync pushes the agency to HubSpot; its record links to the company.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        browser.open(&app, "/console/records/agencies").await;
        browser.wait("#records-table").await;
        if browser
            .client
            .find(Locator::Css("[data-hubspot-id]"))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agency was linked to HubSpot"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let link = browser
        .wait("[data-hubspot-id]")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.starts_with(&format!(
            "https://app.hubspot.com/contacts/{}/record/0-2/",
            app.sandbox.portal_id()
        )),
        "{link}"
    );
    let webhook = app
        .call(Method::GET, "/api/v1/webhooks", Some(&token), None)
        .await
        .expect(200);
    let webhook_id = webhook.body["webhooks"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pages = [
        (
            "integrations",
            "/console/integrations".to_owned(),
            "[data-card=hubspot]",
        ),
        (
            "hubspot",
            "/console/integrations/hubspot".to_owned(),
            "#danger",
        ),
        (
            "crm",
            "/console/integrations/hubspot/crm".to_owned(),
            "#tag-catalog",
        ),
        (
            "webhooks",
            "/console/webhooks".to_owned(),
            "#webhooks-table",
        ),
        (
            "webhook-history",
            format!("/console/webhooks/{webhook_id}"),
            "#history-table",
        ),
        (
            "records-agencies",
            "/console/records/agencies".to_owned(),
            "#records-table",
        ),
        (
            "records-agents",
            "/console/records/agents".to_owned(),
            "#records-table",
        ),
        (
            "records-invitations",
            "/console/records/invitations".to_owned(),
            "main",
        ),
        ("login", "/console/login".to_owned(), "#token"),
    ];
    for (width, height, suffix) in [(1280, 800, ""), (390, 844, "-phone")] {
        browser.client.set_window_size(width, height).await.unwrap();
        for (name, path, ready) in &pages {
            if *name == "login" {
                // Sign out last: the login page is for strangers.
                continue;
            }
            browser.open(&app, path).await;
            browser.wait(ready).await;
            let unlabeled = browser
                .client
                .execute(
                    "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                       .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label'))
                       .map(e => e.name || e.id);",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(unlabeled, json!([]), "{name}: inputs without a label");
            let overflow = browser
                .client
                .execute(
                    "return document.documentElement.scrollWidth - window.innerWidth;",
                    vec![],
                )
                .await
                .unwrap();
            assert!(
                overflow.as_i64().unwrap() <= 0,
                "{name} is wider than {width}px by {overflow}"
            );
            browser.screenshot(&format!("{name}{suffix}")).await;
            browser.client.set_window_size(width, height).await.unwrap();
        }
    }
    browser.client.set_window_size(1280, 800).await.unwrap();
    browser.sign_out(&app).await;
    browser.screenshot("login").await;
    browser.close().await;
    app.finish().await;
}
