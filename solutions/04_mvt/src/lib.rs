//! Model - View - Template: a news site whose pages are rendered on the server. The model is a
//! row of `articles` mapped to a struct, the views are axum handlers, the templates are
//! minijinja (Jinja2/Django-style) files under `src/templates/`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;
use sqlx::PgPool;

/// The model: one row of `articles` (see `schema.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Article {
    pub id: i64,
    pub title: String,
    pub author: String,
    pub body: String,
}

/// What every handler needs: the database and the templates, loaded once at start-up.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub templates: Arc<Environment<'static>>,
}

/// The template environment with the four templates of `src/templates/`, registered under
/// their file names (`"base.html"`, `"article.html"`, `"list.html"`, `"not_found.html"`).
pub fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    // minijinja escapes HTML in templates whose name ends in `.html`: the name is the switch.
    for (name, source) in [
        ("base.html", include_str!("templates/base.html")),
        ("article.html", include_str!("templates/article.html")),
        ("list.html", include_str!("templates/list.html")),
        ("not_found.html", include_str!("templates/not_found.html")),
    ] {
        env.add_template(name, source)
            .expect("the templates under src/templates/ parse");
    }
    env
}

/// The router: `GET /articles`, `GET /articles/{id}`, and the 404 page for everything else.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/articles", get(articles_list))
        .route("/articles/{id}", get(articles_show))
        .fallback(not_found)
        .with_state(state)
}

/// `GET /articles`: every article, newest first (`published_at`, then `id`, descending).
pub async fn articles_list(State(state): State<AppState>) -> Response {
    let articles = sqlx::query_as::<_, Article>(
        "SELECT id, title, author, body FROM articles ORDER BY published_at DESC, id DESC",
    )
    .fetch_all(&state.pool)
    .await;
    match articles {
        Ok(articles) => render(
            &state.templates,
            StatusCode::OK,
            "list.html",
            context! { articles => Serde(articles) },
        ),
        Err(e) => server_error(e),
    }
}

/// `GET /articles/{id}`: one article; an id that is not a number or not in the table is the
/// 404 page.
pub async fn articles_show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    // A path segment is text: parse it ourselves so "abc" is a 404 page, not a 400.
    let Ok(id) = id.parse::<i64>() else {
        return not_found(State(state)).await;
    };
    let article =
        sqlx::query_as::<_, Article>("SELECT id, title, author, body FROM articles WHERE id = $1")
            .bind(id)
            .fetch_optional(&state.pool)
            .await;
    match article {
        Ok(Some(article)) => render(
            &state.templates,
            StatusCode::OK,
            "article.html",
            context! { article => Serde(article) },
        ),
        Ok(None) => not_found(State(state)).await,
        Err(e) => server_error(e),
    }
}

/// The 404 page, rendered from `not_found.html` with status 404.
pub async fn not_found(State(state): State<AppState>) -> Response {
    render(
        &state.templates,
        StatusCode::NOT_FOUND,
        "not_found.html",
        context! {},
    )
}

/// Renders `name` with `ctx` as an HTML response (`text/html; charset=utf-8`) with `status`.
/// A template error is a 500 that names no internals.
pub fn render(env: &Environment<'static>, status: StatusCode, name: &str, ctx: Value) -> Response {
    // `Html` sets the content type; a bare `String` would be served as text/plain.
    match env.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(page) => (status, Html(page)).into_response(),
        Err(e) => server_error(e),
    }
}

/// A 500 with a generic body: the details go to the server's log, never to the visitor.
fn server_error(error: impl std::fmt::Display) -> Response {
    eprintln!("internal error: {error}");
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error").into_response()
}
