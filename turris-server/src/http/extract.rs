//! Extractors whose rejections are [`ApiError`], so malformed requests get the error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorDetail};

/// A JSON body (request) or JSON answer (response). Malformed JSON is a 400, a body of the
/// wrong shape (wrong types, unknown or missing fields) a 422, a missing content type a 415 and
/// an oversized body a 413, each with the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "the JSON body does not have the expected shape",
        )
        .with_details([ErrorDetail {
            path: data_error_path(&e.body_text()),
            message: serde_message(&e.body_text()),
        }]),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not valid JSON",
        )
        .with_details([ErrorDetail {
            path: String::new(),
            message: serde_message(&e.body_text()),
        }]),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::from_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        }
        other => ApiError::new(other.status(), "bad_request", "the body could not be read"),
    }
}

/// axum's text is `Failed to deserialize the JSON body into the target type: <path>: <msg>`;
/// keep serde's part only.
fn serde_message(text: &str) -> String {
    let text = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    let text = text
        .split_once("Failed to parse the request body as JSON: ")
        .map_or(text, |(_, rest)| rest);
    match text.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest.to_owned(),
        _ => text.to_owned(),
    }
}

/// The path axum found (it reports one for nested data errors), or the unknown field's name.
fn data_error_path(text: &str) -> String {
    let rest = text
        .split_once("target type: ")
        .map_or(text, |(_, rest)| rest);
    if let Some((path, _)) = rest.split_once(": ")
        && !path.contains(' ')
        && path != "."
    {
        return path.to_owned();
    }
    if let Some(field) = rest
        .split_once("unknown field `")
        .and_then(|(_, r)| r.split_once('`'))
        .map(|(f, _)| f)
    {
        return field.to_owned();
    }
    if let Some(field) = rest
        .split_once("missing field `")
        .and_then(|(_, r)| r.split_once('`'))
        .map(|(f, _)| f)
    {
        return field.to_owned();
    }
    String::new()
}

/// Query parameters; a bad query string is a 400 with the error shape.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        "the query string is invalid",
    )
    .with_details([ErrorDetail {
        path: String::new(),
        message: serde_message(&rejection.body_text()),
    }])
}

/// Path parameters; a malformed id is a 404 (it names nothing that exists).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    match rejection {
        PathRejection::FailedToDeserializePathParams(_) => ApiError::not_found("resource"),
        other => ApiError::internal("path parameters", &other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_error_paths_come_from_axum_or_the_unknown_field() {
        fn check(text: &str, path: &str, message: &str) {
            assert_eq!(data_error_path(text), path, "{text}");
            assert_eq!(serde_message(text), message, "{text}");
        }
        check(
            "Failed to deserialize the JSON body into the target type: url: invalid type: integer `5`, expected a string at line 1 column 8",
            "url",
            "invalid type: integer `5`, expected a string at line 1 column 8",
        );
        check(
            "Failed to deserialize the JSON body into the target type: unknown field `extra`, expected `url` at line 1 column 9",
            "extra",
            "unknown field `extra`, expected `url` at line 1 column 9",
        );
        check(
            "Failed to deserialize the JSON body into the target type: missing field `url` at line 1 column 2",
            "url",
            "missing field `url` at line 1 column 2",
        );
    }
}
