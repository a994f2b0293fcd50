//! # PUT vs PATCH: replace, merge, and never lose an update
//!
//! Read `README.md` first. The table is in `schema.sql`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
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
    // RFC 7396 §2, the whole algorithm: recursion on objects, replacement for everything else.
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let object = target.as_object_mut().expect("made an object just above");
    for (name, value) in members {
        if value.is_null() {
            object.remove(name);
        } else {
            merge_patch(object.entry(name).or_insert(Value::Null), value);
        }
    }
}

/// `GET`, `PUT` and `PATCH` on `/notes/{id}`; every success answers 200 with the note and
/// `ETag: "<version>"`.
pub fn app(pool: PgPool) -> Router {
    Router::new()
        .route(
            "/notes/{id}",
            get(notes_get).put(notes_replace).patch(notes_patch),
        )
        .with_state(pool)
}

macro_rules! columns {
    () => {
        "id, title, body, tags, meta, version, \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS created_at"
    };
}

/// The note as a response: the representation plus its ETag.
fn with_etag(note: Note) -> Response {
    let etag = format!("\"{}\"", note.version);
    ([(header::ETAG, etag)], Json(note)).into_response()
}

async fn load(pool: &PgPool, id: i64) -> Result<Note, ApiError> {
    let sql = concat!("SELECT ", columns!(), " FROM notes WHERE id = $1");
    let note = sqlx::query_as(sql).bind(id).fetch_optional(pool).await?;
    note.ok_or(ApiError::NotFound)
}

/// The version `If-Match` asks for: `None` without the header or with `*`.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value == "*" {
        return Ok(None);
    }
    // Our ETags are strong and look like "7": anything else matches no version of the note.
    let version = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
    let version = version.and_then(|v| v.parse().ok());
    version.map(Some).ok_or(ApiError::PreconditionFailed)
}

/// The body as a JSON object, after checking its media type and its read-only members.
fn json_object(
    headers: &HeaderMap,
    media_type: &'static str,
    body: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE);
    let content_type = content_type
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(media_type) {
        return Err(ApiError::UnsupportedMediaType(media_type));
    }
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    match READ_ONLY_FIELDS.iter().find(|f| object.contains_key(**f)) {
        Some(field) => Err(ApiError::ReadOnlyField(field.to_string())),
        None => Ok(object),
    }
}

/// Writes `fields` if the note still has `version` (any version when `None`), bumping it.
/// `None` when no row matched.
async fn write(
    pool: &PgPool,
    id: i64,
    version: Option<i64>,
    fields: &NoteFields,
) -> Result<Option<Note>, ApiError> {
    // Compare-and-set in ONE statement: Postgres re-checks `version = $2` after waiting for a
    // concurrent writer's row lock, so of two writers holding the same ETag only one matches.
    let sql = concat!(
        "UPDATE notes SET title = $3, body = $4, tags = $5, meta = $6, version = version + 1 \
         WHERE id = $1 AND ($2::int8 IS NULL OR version = $2) RETURNING ",
        columns!()
    );
    let note = sqlx::query_as(sql)
        .bind(id)
        .bind(version)
        .bind(&fields.title)
        .bind(&fields.body)
        .bind(&fields.tags)
        .bind(sqlx::types::Json(&fields.meta))
        .fetch_optional(pool)
        .await?;
    Ok(note)
}

/// `GET /notes/{id}`: the note and its ETag, or 404.
pub async fn notes_get(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    Ok(with_etag(load(&pool, id).await?))
}

/// `PUT /notes/{id}` (`application/json`): replaces every writable field; omitted optional
/// fields are reset. Honours `If-Match`.
pub async fn notes_replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let object = json_object(&headers, "application/json", &body)?;
    // Deserialising the body alone (never merged with the stored note) is what makes PUT a
    // replacement: `#[serde(default)]` resets what the client left out.
    let fields: NoteFields = serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::InvalidBody(e.to_string()))?;
    match write(&pool, id, if_match(&headers)?, &fields).await? {
        Some(note) => Ok(with_etag(note)),
        None => {
            load(&pool, id).await?; // 404 if it does not exist...
            Err(ApiError::PreconditionFailed) // ...otherwise the version did not match
        }
    }
}

/// `PATCH /notes/{id}` (`application/merge-patch+json`): merges the patch into the stored
/// fields (RFC 7396). Honours `If-Match`; never loses a concurrent update.
pub async fn notes_patch(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let patch = json_object(&headers, "application/merge-patch+json", &body)?;
    let patch = Value::Object(patch);
    let wanted = if_match(&headers)?;
    loop {
        let current = load(&pool, id).await?;
        if wanted.is_some_and(|version| version != current.version) {
            return Err(ApiError::PreconditionFailed);
        }
        let mut document = serde_json::to_value(&current.fields).expect("fields serialise");
        merge_patch(&mut document, &patch);
        let fields: NoteFields =
            serde_json::from_value(document).map_err(|e| ApiError::InvalidBody(e.to_string()))?;
        // Written only if nobody wrote since we read: otherwise the merge was based on stale
        // data. Then read again: with `If-Match` the ETag is now stale (412); without it, the
        // write is unconditional, so the patch is merged into the newer note.
        if let Some(note) = write(&pool, id, Some(current.version), &fields).await? {
            return Ok(with_etag(note));
        }
    }
}
