//! API documentation generated from the code: the routes, the request and response types and
//! their constraints are described once, in Rust, and the OpenAPI document served at
//! `/openapi.json` is derived from them (what FastAPI does for Python), so it cannot drift.

#![allow(unused_variables)] // The stub does not use its arguments yet: delete this line when done.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// How urgent a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
}

/// A task as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: u64,
    pub title: String,
    pub priority: Priority,
    pub done: bool,
}

/// The body of `POST /tasks`.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateTask {
    /// 1 to 100 characters.
    pub title: String,
    /// `normal` when absent.
    pub priority: Option<Priority>,
}

/// Every error body of the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
    /// The request field at fault, for validation errors.
    pub field: Option<String>,
}

/// The answer of `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
}

#[derive(Clone, Default)]
pub struct AppState {
    pub tasks: Arc<RwLock<BTreeMap<u64, Task>>>,
}

/// The API and its documentation, built together: every route is registered with the
/// description of its handler (`routes!`), so an undocumented route cannot be added by mistake.
///
/// TODO, before `app`: derive `utoipa::ToSchema` on the five types (with the title's length
/// rule), describe each handler with `#[utoipa::path(...)]` (every status it can answer and
/// its body), and describe the document (`#[derive(OpenApi)]`: title and version).
pub fn app(state: AppState) -> Router {
    // TODO: an `OpenApiRouter` (utoipa-axum) with the five handlers registered by `routes!`,
    // the state, `split_for_parts()`, and the document served at GET /openapi.json.
    todo!("build the documented router")
}

/// List every task, oldest first.
pub async fn tasks_list(State(state): State<AppState>) -> Json<Vec<Task>> {
    Json(state.tasks.read().unwrap().values().cloned().collect())
}

/// Create a task.
pub async fn tasks_create(
    State(state): State<AppState>,
    body: Result<Json<CreateTask>, JsonRejection>,
) -> Response {
    let input = match body {
        Ok(Json(input)) => input,
        Err(rejection) => return invalid(None, &rejection.body_text()),
    };
    if !(1..=100).contains(&input.title.chars().count()) {
        return invalid(Some("title"), "title must be 1 to 100 characters");
    }
    let mut tasks = state.tasks.write().unwrap();
    let id = tasks.keys().next_back().map_or(1, |last| last + 1);
    let task = Task {
        id,
        title: input.title,
        priority: input.priority.unwrap_or_default(),
        done: false,
    };
    tasks.insert(id, task.clone());
    (StatusCode::CREATED, Json(task)).into_response()
}

/// One task.
pub async fn tasks_show(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let Path(id) = match id {
        Ok(id) => id,
        Err(rejection) => return bad_id(&rejection),
    };
    match state.tasks.read().unwrap().get(&id) {
        Some(task) => Json(task.clone()).into_response(),
        None => not_found(id),
    }
}

/// Delete a task.
pub async fn tasks_delete(
    State(state): State<AppState>,
    id: Result<Path<u64>, PathRejection>,
) -> Response {
    let Path(id) = match id {
        Ok(id) => id,
        Err(rejection) => return bad_id(&rejection),
    };
    match state.tasks.write().unwrap().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(id),
    }
}

/// Liveness.
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

fn invalid(field: Option<&str>, message: &str) -> Response {
    let error = ApiError {
        error: message.to_string(),
        field: field.map(str::to_string),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response()
}

/// A path id that is not a `u64` (`/tasks/abc`, `/tasks/-1`): 400 with an `ApiError`, like
/// every other error of the API (axum's own rejection would be plain text).
fn bad_id(rejection: &PathRejection) -> Response {
    let error = ApiError {
        error: rejection.body_text(),
        field: Some("id".to_string()),
    };
    (StatusCode::BAD_REQUEST, Json(error)).into_response()
}

fn not_found(id: u64) -> Response {
    let error = ApiError {
        error: format!("no task {id}"),
        field: None,
    };
    (StatusCode::NOT_FOUND, Json(error)).into_response()
}
