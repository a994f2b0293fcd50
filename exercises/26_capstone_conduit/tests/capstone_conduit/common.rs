//! The test client: a fresh database per test, requests through the real router, and the
//! RealWorld error shape (`{"errors": {"<key>": ["<message>"]}}`) checked in one place.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use capstone_conduit::AppState;
use http_body_util::BodyExt;
use kata_testkit::TestDb;
use serde_json::{Value, json};
use tower::ServiceExt;

/// The secret the tests give `app()`; tokens signed with anything else must be refused.
pub const SECRET: &[u8] = b"capstone-conduit-test-secret-0123456789";

/// The ISO 8601 shape the official collection checks `createdAt`/`updatedAt` against.
pub fn is_iso8601(value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        range
            .clone()
            .all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    b.len() >= 21
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && (s.ends_with('Z') || s[s.len() - 6..].starts_with(['+', '-']))
}

pub struct Api {
    pub db: TestDb,
    /// The service's state, kept to read its count of password checks.
    pub state: AppState,
    pub app: Router,
}

/// A response: its status and its JSON body (`Value::Null` for an empty body).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub what: String,
}

impl Reply {
    /// Asserts the status, naming the request and showing the body when it differs.
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(
            self.status, status,
            "{}: expected {status}, but got {} with the body {}",
            self.what, self.status, self.body
        );
        self.body
    }

    /// Asserts an error status with the spec's body `{"errors": {"<key>": ["..."]}}` and
    /// returns the messages under `key`, joined with `; `.
    pub fn expect_error(self, status: StatusCode, key: &str) -> String {
        let what = self.what.clone();
        let body = self.expect(status);
        let messages = body["errors"][key].as_array().unwrap_or_else(|| {
            panic!(
                "{what}: expected the RealWorld error body {{\"errors\": {{\"{key}\": [\"...\"]}}}}, but got {body}"
            )
        });
        assert!(
            !messages.is_empty() && messages.iter().all(Value::is_string),
            "{what}: expected errors.{key} to hold at least one message string, but got {body}"
        );
        messages
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Asserts an error status and the exact body `{"errors": {key: [message]}}`.
    pub fn expect_exact_error(self, status: StatusCode, key: &str, message: &str) {
        let what = self.what.clone();
        let body = self.expect(status);
        assert_eq!(
            body,
            serde_json::json!({"errors": {key: [message]}}),
            "{what}: expected the body {{\"errors\": {{\"{key}\": [\"{message}\"]}}}}, but got {body}"
        );
    }
}

impl Api {
    pub async fn new() -> Api {
        let db = TestDb::new(crate::SCHEMA).await;
        let state = AppState::new(db.pool().await, SECRET)
            .unwrap_or_else(|e| panic!("AppState::new failed: {e}"));
        let app = capstone_conduit::app(state.clone());
        Api { db, state, app }
    }

    /// Sends one request through the router (with `Authorization: Token <token>` if given).
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Token {token}"));
        }
        let request = match &body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("a valid request");
        self.send(request, format!("{method} {uri}")).await
    }

    /// Starts one request on a task of its own (to run requests at once); returns its handle.
    pub fn spawn(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
    ) -> tokio::task::JoinHandle<Reply> {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Token {token}"));
        }
        let request = request.body(Body::empty()).expect("a valid request");
        let (app, what) = (self.app.clone(), format!("{method} {uri}"));
        tokio::spawn(send_to(app, request, what))
    }

    /// Sends a prepared request (for custom headers).
    pub async fn send(&self, request: Request<Body>, what: String) -> Reply {
        send_to(self.app.clone(), request, what).await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, uri, token, Some(body)).await
    }

    pub async fn put(&self, uri: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PUT, uri, token, Some(body)).await
    }

    pub async fn delete(&self, uri: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, uri, token, None).await
    }

    /// Registers `name` (email `name@mail.test`, password `password-of-name`); returns the token.
    pub async fn register(&self, name: &str) -> String {
        let body = self
            .post(
                "/api/users",
                None,
                json!({"user": {"username": name, "email": format!("{name}@mail.test"),
                                "password": format!("password-of-{name}")}}),
            )
            .await
            .expect(StatusCode::CREATED);
        body["user"]["token"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("expected user.token in the registration of {name}, but got {body}")
            })
            .to_owned()
    }

    /// Creates an article as `token`; returns the `article` object.
    pub async fn article(&self, token: &str, title: &str, tags: &[&str]) -> Value {
        let body = self
            .post(
                "/api/articles",
                Some(token),
                json!({"article": {"title": title, "description": format!("About {title}"),
                                   "body": format!("The body of {title}"), "tagList": tags}}),
            )
            .await
            .expect(StatusCode::CREATED);
        body["article"].clone()
    }

    /// How many statements the service's database role has run so far.
    pub async fn statements(&self) -> i64 {
        self.db.statements_executed().await.expect(
            "this test counts the statements your code runs with Postgres's pg_stat_statements \
             extension, but this server does not provide it; start Postgres with \
             shared_preload_libraries = 'pg_stat_statements' (the servers the tests and \
             `cargo xtask` start do)",
        )
    }
}

/// Sends `request` through `app` and reads the JSON answer.
pub async fn send_to(app: Router, request: Request<Body>, what: String) -> Reply {
    let response = app
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("{what}: the router failed: {e}"));
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{what}: could not read the body: {e}"))
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{what}: expected a JSON body, but got {:?}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    Reply { status, body, what }
}

/// The `slug` of an article object.
pub fn slug(article: &Value) -> String {
    article["slug"]
        .as_str()
        .unwrap_or_else(|| panic!("expected the article to have a string slug, but got {article}"))
        .to_owned()
}

/// The titles of `{"articles": [...]}`, in order.
pub fn titles(body: &Value) -> Vec<String> {
    body["articles"]
        .as_array()
        .unwrap_or_else(|| panic!("expected an `articles` array, but got {body}"))
        .iter()
        .map(|a| a["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}
