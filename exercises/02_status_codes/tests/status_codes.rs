//! Hidden tests for the status codes kata: every failure through axum's real router (and once
//! over a real TCP socket), on a real Postgres database, must be the right status code with an
//! RFC 9457 `application/problem+json` body.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kata_testkit::TestDb;
use serde_json::{Value, json};
use status_codes::{AppState, RateLimiter, Role, app};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const SCHEMA: &str = include_str!("../schema.sql");
const MEMBER: &str = "member-token";
const ADMIN: &str = "admin-token";

async fn setup_with_limit(limit: u32) -> (TestDb, Router) {
    let db = TestDb::new(SCHEMA).await;
    let tokens = HashMap::from([
        (MEMBER.to_owned(), Role::Member),
        (ADMIN.to_owned(), Role::Admin),
    ]);
    let state = AppState {
        pool: db.pool().await,
        tokens: Arc::new(tokens),
        limiter: Arc::new(RateLimiter::new(limit, Duration::from_secs(60))),
    };
    (db, app(state))
}

async fn setup() -> (TestDb, Router) {
    setup_with_limit(1_000).await
}

async fn seed_user(db: &TestDb, username: &str) -> i64 {
    sqlx::query_scalar("INSERT INTO users (username, email) VALUES ($1, $2) RETURNING id")
        .bind(username)
        .bind(format!("{username}@example.com"))
        .fetch_one(&mut db.admin().await)
        .await
        .expect("seeding a user")
}

async fn user_count(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut db.admin().await)
        .await
        .expect("counting users")
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        let value = self.headers.get(&name).map(|v| v.to_str());
        value.map_or("(none)", |v| v.expect("an ASCII header value"))
    }
}

/// Sends a request with an optional bearer token, content type and body.
async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request
        .body(Body::from(body.to_owned()))
        .expect("a valid request");
    let response = app.clone().oneshot(request).await;
    let (parts, body) = response.expect("the router is infallible").into_parts();
    let body = body.collect().await.expect("a readable body").to_bytes();
    let body = String::from_utf8_lossy(&body).into_owned();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A member's `POST /users` with `body` as `application/json`.
async fn create(app: &Router, body: &str) -> Reply {
    let json = Some("application/json");
    send(app, Method::POST, "/users", Some(MEMBER), json, body).await
}

/// Asserts an RFC 9457 answer with `status` and returns its JSON body.
fn assert_problem(reply: &Reply, status: StatusCode, what: &str) -> Value {
    assert_eq!(
        reply.status, status,
        "expected {what} to answer {status}, body: {:?}",
        reply.body
    );
    let content_type = reply.header(header::CONTENT_TYPE);
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected {what} to have Content-Type application/problem+json (RFC 9457), but got \
         {content_type:?} with the body {:?}",
        reply.body
    );
    let problem: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    let strings =
        ["type", "title", "detail"].map(|k| problem[k].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        strings.iter().all(|ok| *ok) && problem["status"] == json!(status.as_u16()),
        "expected {what} to send a problem object with non-empty string type, title and \
         detail and \"status\": {}, but got {:?}",
        status.as_u16(),
        reply.body
    );
    problem
}

#[tokio::test]
async fn a_valid_user_is_created_with_201() {
    let (db, app) = setup().await;

    let reply = create(
        &app,
        r#"{"username": "ann_42", "email": "ann@example.com"}"#,
    )
    .await;

    let user: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    assert!(
        reply.status == StatusCode::CREATED && user["username"] == "ann_42",
        "expected 201 with the new user, but got {} with {:?}",
        reply.status,
        reply.body
    );
    assert_eq!(user_count(&db).await, 1, "expected the user stored");
}

#[tokio::test]
async fn invalid_fields_are_400_with_one_error_per_field() {
    let (db, app) = setup().await;

    let reply = create(&app, r#"{"username": "a!", "email": "not-an-address"}"#).await;

    let problem = assert_problem(
        &reply,
        StatusCode::BAD_REQUEST,
        "an invalid username and email",
    );
    let mut fields: Vec<&str> = (problem["errors"].as_array().into_iter().flatten())
        .filter_map(|e| e["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["email", "username"],
        "expected one entry per invalid field in \"errors\", body: {:?}",
        reply.body
    );
    assert_eq!(user_count(&db).await, 0, "expected nothing stored");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_not_axums_plain_text() {
    let (_db, app) = setup().await;

    for body in [
        r#"{"username": "ann_42", "email": "#,
        r#"{"username": 42, "email": "ann@example.com"}"#,
        r#"{"email": "ann@example.com"}"#,
    ] {
        let reply = create(&app, body).await;

        assert_problem(&reply, StatusCode::BAD_REQUEST, &format!("the body {body}"));
    }
}

#[tokio::test]
async fn a_missing_or_wrong_content_type_is_415() {
    let (db, app) = setup().await;
    let body = r#"{"username": "ann_42", "email": "ann@example.com"}"#;

    for content_type in [None, Some("text/plain")] {
        let reply = send(
            &app,
            Method::POST,
            "/users",
            Some(MEMBER),
            content_type,
            body,
        )
        .await;

        let what = format!("a JSON body with Content-Type {content_type:?}");
        assert_problem(&reply, StatusCode::UNSUPPORTED_MEDIA_TYPE, &what);
    }
    assert_eq!(user_count(&db).await, 0, "expected nothing stored");
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401_with_a_bearer_challenge() {
    let (_db, app) = setup().await;

    for authorization in [
        None,
        Some("Bearer not-a-token"),
        Some("Basic YW5uOnNlY3JldA=="),
    ] {
        let mut request = Request::get("/users/1");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request.body(Body::empty()).expect("a valid request");
        let response = app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a readable body").to_bytes();
        let reply = Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };

        let what = format!("GET /users/1 with Authorization {authorization:?}");
        assert_problem(&reply, StatusCode::UNAUTHORIZED, &what);
        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            challenge.starts_with("Bearer"),
            "expected {what} to carry a `WWW-Authenticate: Bearer` challenge (a 401 must say \
             how to authenticate), but got {challenge:?}"
        );
    }
}

#[tokio::test]
async fn a_member_may_not_delete_a_user_but_an_admin_may() {
    let (db, app) = setup().await;
    let id = seed_user(&db, "ann_42").await;
    let uri = format!("/users/{id}");

    let member = send(&app, Method::DELETE, &uri, Some(MEMBER), None, "").await;
    assert_problem(&member, StatusCode::FORBIDDEN, "a member's DELETE");
    assert_eq!(user_count(&db).await, 1, "expected a 403 to delete nothing");

    let admin = send(&app, Method::DELETE, &uri, Some(ADMIN), None, "").await;
    assert_eq!(
        admin.status,
        StatusCode::NO_CONTENT,
        "expected an admin's DELETE to answer 204"
    );
}

#[tokio::test]
async fn an_unknown_user_is_404() {
    let (_db, app) = setup().await;

    let get = send(&app, Method::GET, "/users/4242", Some(MEMBER), None, "").await;
    let delete = send(&app, Method::DELETE, "/users/4242", Some(ADMIN), None, "").await;

    assert_problem(&get, StatusCode::NOT_FOUND, "GET of an unknown user");
    assert_problem(&delete, StatusCode::NOT_FOUND, "DELETE of an unknown user");
}

#[tokio::test]
async fn a_taken_username_is_409() {
    let (db, app) = setup().await;
    seed_user(&db, "ann_42").await;

    let reply = create(
        &app,
        r#"{"username": "ann_42", "email": "other@example.com"}"#,
    )
    .await;

    assert_problem(
        &reply,
        StatusCode::CONFLICT,
        "creating a user with a taken username",
    );
    assert_eq!(user_count(&db).await, 1, "expected no second user");
}

#[tokio::test]
async fn too_many_requests_are_429_with_retry_after() {
    let (_db, app) = setup_with_limit(3).await;

    for i in 1..=3 {
        let reply = send(&app, Method::GET, "/users/4242", Some(MEMBER), None, "").await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "expected request {i} of 3 allowed"
        );
    }
    let reply = send(&app, Method::GET, "/users/4242", Some(MEMBER), None, "").await;

    assert_problem(
        &reply,
        StatusCode::TOO_MANY_REQUESTS,
        "a 4th request with a limit of 3",
    );
    let retry_after = reply.header(header::RETRY_AFTER);
    let seconds = retry_after.parse::<u64>();
    assert!(
        seconds.as_ref().is_ok_and(|s| (1..=60).contains(s)),
        "expected `Retry-After` in whole seconds, 1 to 60 for a 60 s window, but got {retry_after:?}"
    );
}

#[tokio::test]
async fn a_database_failure_is_500_and_leaks_nothing() {
    let (db, app) = setup().await;
    let id = seed_user(&db, "ann_42").await;
    sqlx::raw_sql("DROP TABLE users")
        .execute(&mut db.admin().await)
        .await
        .expect("the test drops the table");

    let reply = send(
        &app,
        Method::GET,
        &format!("/users/{id}"),
        Some(MEMBER),
        None,
        "",
    )
    .await;

    assert_problem(
        &reply,
        StatusCode::INTERNAL_SERVER_ERROR,
        "a query on a dropped table",
    );
    let body = reply.body.to_lowercase();
    let leaks: Vec<&str> = [
        "relation",
        "\\\"users\\\"",
        "does not exist",
        "sqlx",
        "error returned",
    ]
    .into_iter()
    .filter(|internal| body.contains(internal))
    .collect();
    assert!(
        leaks.is_empty(),
        "expected a generic 500 body, but it leaks the internal error ({leaks:?}): {:?}",
        reply.body
    );
}

#[tokio::test]
async fn errors_over_a_real_socket_are_problem_json() {
    let (_db, app) = setup().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /users/1 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        stream.read_to_string(&mut response),
    );
    read.await
        .expect("expected an answer within 30 s")
        .expect("a readable response");

    let lower = response.to_ascii_lowercase();
    assert!(
        lower.starts_with("http/1.1 401")
            && lower.contains("\r\nwww-authenticate: bearer")
            && lower.contains("\r\ncontent-type: application/problem+json"),
        "expected `HTTP/1.1 401` with `WWW-Authenticate: Bearer` and an application/problem+json \
         body, but got {response:?}"
    );
    server.abort();
}
