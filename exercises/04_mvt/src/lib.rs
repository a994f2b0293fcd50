//! Model - View - Template: a news site whose pages are rendered on the server. The model is a
//! row of `articles` mapped to a struct, the views are axum handlers, the templates are
//! minijinja (Jinja2/Django-style) files under `src/templates/`.

#![allow(unused_variables)] // The stub does not use its arguments yet: delete this line when done.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Environment, Value};
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
    // TODO: `Environment::new()`, then `add_template(name, include_str!("templates/..."))`
    // for each of the four files. Mind the names: see the hint.
    todo!("register the templates")
}

/// The router: `GET /articles`, `GET /articles/{id}`, and the 404 page for everything else.
pub fn app(state: AppState) -> Router {
    // TODO: two routes, a fallback, and the state.
    todo!("build the router")
}

/// `GET /articles`: every article, newest first (`published_at`, then `id`, descending).
pub async fn articles_list(State(state): State<AppState>) -> Response {
    // TODO: load the articles (the model), render "list.html" (the template).
    todo!("the list view")
}

/// `GET /articles/{id}`: one article; an id that is not a number or not in the table is the
/// 404 page.
pub async fn articles_show(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    // TODO: parse the id, load the article, render "article.html" or the 404 page.
    todo!("the article view")
}

/// The 404 page, rendered from `not_found.html` with status 404.
pub async fn not_found(State(state): State<AppState>) -> Response {
    // TODO
    todo!("the 404 page")
}

/// Renders `name` with `ctx` as an HTML response (`text/html; charset=utf-8`) with `status`.
/// A template error is a 500 that names no internals.
pub fn render(env: &Environment<'static>, status: StatusCode, name: &str, ctx: Value) -> Response {
    // TODO: get the template, render it, wrap the page so it is served as HTML.
    todo!("render a template")
}
