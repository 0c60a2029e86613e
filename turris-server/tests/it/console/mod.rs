//! The browser console: sessions, CSRF and permissions over plain HTTP on both databases
//! (`http`), and the pages in real headless Chromium over WebDriver (`browser`; skipped with
//! one line when `chromium`/`chromedriver` are not installed, as CI installs them).

mod browser;
mod crm;
mod http;
mod webhooks;

use reqwest::{Method, StatusCode};

use crate::support::app::TestApp;

/// A browser-less console client: the session cookie and the page's CSRF token by hand.
pub struct Console<'a> {
    pub app: &'a TestApp,
    pub cookie: Option<String>,
}

/// A page answer.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookie: Option<String>,
    pub html: String,
}

impl Page {
    /// The first CSRF token in the page's forms.
    pub fn csrf(&self) -> String {
        let marker = "name=\"_csrf\" value=\"";
        let start = self.html.find(marker).expect("a form with a CSRF token") + marker.len();
        self.html[start..].split('"').next().unwrap().to_owned()
    }
}

impl<'a> Console<'a> {
    /// Not signed in.
    pub fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None }
    }

    /// Signs in by pasting `token`; panics unless it works.
    pub async fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let mut console = Self::new(app);
        let page = console.sign_in(token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
        console
    }

    /// Posts the sign-in form and keeps the cookie it sets.
    pub async fn sign_in(&mut self, token: &str) -> Page {
        // The form's token and its cookie come from the sign-in page (double submit).
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        let cookie = form
            .set_cookie
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let before = self.cookie.replace(cookie);
        let page = self
            .request(
                Method::POST,
                "/console/login",
                Some(vec![("token", token), ("_csrf", &csrf)]),
            )
            .await;
        self.cookie = before;
        if let Some(cookie) = &page.set_cookie {
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
        }
        page
    }

    /// Any request with the session cookie (if any) and an optional form.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        form: Option<Vec<(&str, &str)>>,
    ) -> Page {
        let mut request = self
            .app
            .http
            .request(method, format!("{}{path}", self.app.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(form) = form {
            request = request.form(&form);
        }
        let response = request.send().await.expect("the server answers");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Page {
            status: response.status(),
            location: header("location"),
            set_cookie: header("set-cookie"),
            html: response.text().await.unwrap_or_default(),
        }
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    /// Posts a form with the CSRF token of the page at `from`.
    pub async fn post(&self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut form: Vec<(&str, &str)> = vec![("_csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        self.request(Method::POST, path, Some(form)).await
    }
}

/// A token of a new user whose role only reads integrations and webhooks.
pub async fn read_only_token(app: &TestApp) -> String {
    app.token_with(
        &app.org,
        "viewer",
        &["integrations:read".to_owned(), "webhooks:read".to_owned()],
    )
    .await
}
