//! Errors as pages: the one [`ApiError`] of the server rendered in HTML, never as JSON.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::ApiError;

/// Why a console request failed.
pub enum ConsoleError {
    /// No live session: sign in first.
    SignIn,
    /// A form without this session's CSRF token.
    Csrf,
    /// What the API would have answered.
    Api(ApiError),
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl From<crate::store::DbError> for ConsoleError {
    fn from(e: crate::store::DbError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ConsoleError::Api(ApiError::internal("rendering a page", &e))
    }
}

/// Console results.
pub type ConsoleResult<T = Response> = Result<T, ConsoleError>;

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    become_customer: bool,
}

/// Renders a template, or the internal-error page.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => ConsoleError::from(e).into_response(),
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            ConsoleError::SignIn => {
                let mut response = Redirect::to("/console/login").into_response();
                // htmx follows redirects inside XHR; make it load the sign-in page itself.
                response
                    .headers_mut()
                    .insert("HX-Redirect", HeaderValue::from_static("/console/login"));
                response
            }
            ConsoleError::Csrf => page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is missing this session's CSRF token (it expired or did not come from this console). Reload the page and try again.",
                false,
            ),
            ConsoleError::Api(e) => {
                let body = e.body();
                let status = e.status_code();
                let title = match status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::PAYMENT_REQUIRED => "Become a Customer",
                    StatusCode::CONFLICT => "Cannot do that now",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "Request refused",
                };
                let mut message = body.message.clone();
                for d in &body.details {
                    message.push_str(&format!(" {}: {}.", d.path, d.message));
                }
                page(
                    status,
                    title,
                    &message,
                    status == StatusCode::PAYMENT_REQUIRED,
                )
            }
        }
    }
}

fn page(status: StatusCode, title: &str, message: &str, become_customer: bool) -> Response {
    let html = ErrorPage {
        status: status.as_u16(),
        title,
        message,
        become_customer,
    }
    .render()
    .unwrap_or_else(|_| "<!doctype html><title>Error</title><p>Something went wrong.</p>".into());
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
