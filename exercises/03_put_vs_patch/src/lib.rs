//! # PUT vs PATCH: replace, merge, and never lose an update
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;

/// The fields a client may write: what `PUT` replaces and what `PATCH` merges into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
#[serde(deny_unknown_fields)]
pub struct NoteFields {
    /// Required: a body without it (or with `null`) is invalid.
    pub title: String,
    /// Optional: omitted or `null` is `null`.
    #[serde(default)]
    pub body: Option<String>,
    /// Optional: omitted is `[]`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Optional: omitted is `{"color": null, "pinned": false}`. Stored as `jsonb`.
    #[serde(default)]
    #[sqlx(json)]
    pub meta: Meta,
}

/// A nested object inside a note.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub pinned: bool,
}

/// A note as the API represents it: `{"id", "title", "body", "tags", "meta", "version",
/// "created_at"}`. `id`, `version` and `created_at` are read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Note {
    pub id: i64,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub fields: NoteFields,
    pub version: i64,
    /// RFC 3339 in UTC, e.g. `2026-01-31T12:00:00.000000Z`.
    pub created_at: String,
}

/// The members a client may not write.
pub const READ_ONLY_FIELDS: [&str; 3] = ["id", "version", "created_at"];

/// Why a request failed. Given: the status codes are the lesson of kata 02.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such note")]
    NotFound,
    #[error("unsupported content type: expected {0}")]
    UnsupportedMediaType(&'static str),
    #[error("invalid body: {0}")]
    InvalidBody(String),
    #[error("{0:?} is read-only")]
    ReadOnlyField(String),
    #[error("the note has changed since the ETag in If-Match")]
    PreconditionFailed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidBody(_) => StatusCode::BAD_REQUEST,
            ApiError::ReadOnlyField(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &self {
            ApiError::Database(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        (status, Json(serde_json::json!({ "error": detail }))).into_response()
    }
}

/// Applies `patch` to `target` as RFC 7396 JSON Merge Patch: members of a patch object replace
/// the target's, `null` removes a member, nested objects merge recursively, anything that is not
/// an object (arrays included) replaces the target as a whole.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    // TODO: RFC 7396 §2: a patch that is not an object replaces the target; otherwise make the
    // target an object if it is not one, then for each member of the patch: `null` removes
    // the member, anything else is merged recursively into the target's member.
    todo!("apply a JSON merge patch")
}

/// `GET`, `PUT` and `PATCH` on `/notes/{id}`; every success answers 200 with the note and
/// `ETag: "<version>"`.
pub fn app(pool: PgPool) -> Router {
    // TODO: route GET, PUT and PATCH on `/notes/{id}` to the handlers below.
    todo!("build the router")
}

/// `GET /notes/{id}`: the note and its ETag, or 404.
pub async fn notes_get(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    // TODO: the note as JSON with `ETag: "<version>"`, or NotFound. (A helper that selects a
    // note, with `to_char(created_at AT TIME ZONE 'UTC', ...)` for created_at, will serve all
    // three handlers.)
    todo!("read a note")
}

/// `PUT /notes/{id}` (`application/json`): replaces every writable field; omitted optional
/// fields are reset. Honours `If-Match`.
pub async fn notes_replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // TODO: 415 unless `Content-Type: application/json`; the body must be a JSON object (400)
    // without read-only members (422); deserialise it ALONE into NoteFields (400 if invalid),
    // so that omitted fields take their defaults. With `If-Match: "<n>"`, write only if the
    // note is still at version n (412 otherwise). 404 for no such note.
    todo!("replace a note")
}

/// `PATCH /notes/{id}` (`application/merge-patch+json`): merges the patch into the stored
/// fields (RFC 7396). Honours `If-Match`; never loses a concurrent update.
pub async fn notes_patch(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    // TODO: 415 unless `Content-Type: application/merge-patch+json`; a JSON object (400)
    // without read-only members (422). Read the note (404), 412 if `If-Match` names another
    // version, merge the patch into the note's fields with `merge_patch`, deserialise the
    // result into NoteFields (400), and write it only if the note is still at the version
    // you read, atomically: a concurrent writer may have been faster. Then, with `If-Match`,
    // 412; without it (an unconditional write), read the newer note and merge again.
    todo!("patch a note")
}
