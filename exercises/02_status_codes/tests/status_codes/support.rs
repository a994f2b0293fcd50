//! What every status codes test shares: a router on a fresh database, requests, and the check
//! that an answer is an RFC 9457 problem.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kata_testkit::TestDb;
pub use kata_testkit::http::Reply;
use serde_json::{Value, json};
use sqlx::PgPool;
use status_codes::{AppState, RateLimiter, Role, app};

pub const SCHEMA: &str = include_str!("../../schema.sql");
pub const MEMBER: &str = "member-token";
pub const ADMIN: &str = "admin-token";

fn app_on(pool: PgPool, limit: u32) -> Router {
    let tokens = HashMap::from([
        (MEMBER.to_owned(), Role::Member),
        (ADMIN.to_owned(), Role::Admin),
    ]);
    let state = AppState {
        pool,
        tokens: Arc::new(tokens),
        limiter: Arc::new(RateLimiter::new(limit, Duration::from_secs(60))),
    };
    app(state)
}

pub async fn setup_with_limit(limit: u32) -> (TestDb, Router) {
    let db = TestDb::new(SCHEMA).await;
    let pool = db.pool().await;
    (db, app_on(pool, limit))
}

pub async fn setup() -> (TestDb, Router) {
    setup_with_limit(1_000).await
}

/// The app for requests that must be answered before any query: its pool never connects (a
/// query would fail, and the answer be a 500).
pub fn setup_without_database() -> Router {
    setup_without_database_with_limit(1_000)
}

/// The same, with a limit of `limit` requests per token per 60 s.
pub fn setup_without_database_with_limit(limit: u32) -> Router {
    app_on(kata_testkit::postgres::unreachable_pool(), limit)
}

pub async fn seed_user(db: &TestDb, username: &str) -> i64 {
    sqlx::query_scalar("INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id")
        .bind(username)
        .bind(format!("{username}@example.com"))
        .fetch_one(&mut db.admin().await)
        .await
        .expect("seeding a user")
}

pub async fn user_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db.admin().await)
        .await
        .expect("counting users")
}

/// The body as JSON, `null` when it is not JSON: the problem checks show the body themselves.
pub fn json_or_null(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body).unwrap_or(Value::Null)
}

/// Sends a request with a raw `Authorization` value, an optional content type and a body.
pub async fn send_raw(
    app: &Router,
    method: Method,
    uri: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Body::from(body.to_owned()))
        .expect("a valid request");
    kata_testkit::http::send(app, request).await
}

/// Sends a request with an optional bearer token, content type and body.
pub async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    send_raw(
        app,
        method,
        uri,
        authorization.as_deref(),
        content_type,
        body,
    )
    .await
}

/// A member's `POST /users` with `body` as `application/json`.
pub async fn create(app: &Router, body: &str) -> Reply {
    let json = Some("application/json");
    send(app, Method::POST, "/users", Some(MEMBER), json, body).await
}

/// A member's `POST /users` of this username and email.
pub async fn create_user(app: &Router, username: &str, email: &str) -> Reply {
    create(
        app,
        &json!({"username": username, "email": email}).to_string(),
    )
    .await
}

/// Asserts an RFC 9457 answer with `status` and returns its JSON body.
pub fn assert_problem(reply: &Reply, status: StatusCode, what: &str) -> Value {
    assert_eq!(
        reply.status,
        status,
        "expected {what} to answer {status}, body: {:?}",
        reply.text()
    );
    let content_type = reply.header(header::CONTENT_TYPE).to_ascii_lowercase();
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected {what} to have Content-Type application/problem+json (RFC 9457), but got \
         {content_type:?} with the body {:?}",
        reply.text()
    );
    let problem = json_or_null(reply);
    let strings =
        ["type", "title", "detail"].map(|k| problem[k].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        strings.iter().all(|ok| *ok) && problem["status"] == json!(status.as_u16()),
        "expected {what} to send a problem object with non-empty string type, title and \
         detail and \"status\": {}, but got {:?}",
        status.as_u16(),
        reply.text()
    );
    let reason = status.canonical_reason().unwrap_or_default();
    assert!(
        problem["type"] != "about:blank" || problem["title"] == reason,
        "expected {what}'s problem of type \"about:blank\" to have the status's reason phrase \
         {reason:?} as its title, but got {:?}",
        problem["title"]
    );
    problem
}

/// The `field` of every entry in a 400 problem's `errors`, sorted; each must have a message.
pub fn error_fields(reply: &Reply, what: &str) -> Vec<String> {
    let problem = assert_problem(reply, StatusCode::BAD_REQUEST, what);
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    let mut fields = Vec::new();
    for error in &errors {
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "expected every entry of {what}'s \"errors\" to have a non-empty \"message\", but \
             got {error}"
        );
        fields.push(error["field"].as_str().unwrap_or("(no field)").to_owned());
    }
    fields.sort_unstable();
    fields
}

/// The values of a comma-separated header such as `Allow`.
pub fn list(value: &str) -> Vec<String> {
    value.split(',').map(|m| m.trim().to_owned()).collect()
}
