//! Helpers for the put_vs_patch tests: a request sender, a seeded database, assertions.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kata_testkit::TestDb;
use put_vs_patch::app;
use serde_json::{Value, json};
use sqlx::PgConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tower::ServiceExt;

const SCHEMA: &str = include_str!("../../schema.sql");
pub const MERGE: &str = "application/merge-patch+json";
pub const JSON: &str = "application/json";

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("expected a JSON body, but got {:?} ({e})", self.body))
    }

    pub fn etag(&self) -> &str {
        let value = self.headers.get(header::ETAG).map(|v| v.to_str());
        value.map_or("(none)", |v| v.expect("an ASCII ETag"))
    }
}

/// Sends `method uri` with a body of `content_type` (if any) and an `If-Match` (if any).
pub async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    if_match: Option<&str>,
    body: &str,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    if let Some(etag) = if_match {
        request = request.header(header::IF_MATCH, etag);
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

/// A database with one note (version 1); returns it, the app and the note's URI.
pub async fn setup() -> (TestDb, Router, String) {
    let db = TestDb::new(SCHEMA).await;
    let id: i64 = sqlx::query_scalar(
        r#"INSERT INTO notes (title, body, tags, meta)
           VALUES ('Groceries', 'milk, eggs', '{home,weekly}', '{"color": "red", "pinned": true}')
           RETURNING id"#,
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("seeding a note");
    let app = app(db.pool_with_max(20).await);
    (db, app, format!("/notes/{id}"))
}

/// The stored note's writable fields and version, read behind the API's back (`meta` as the
/// API represents it, whether or not its defaults are stored).
pub async fn stored(db: &TestDb) -> Value {
    let row: (Value, i64) = sqlx::query_as(
        "SELECT json_build_object('title', title, 'body', body, 'tags', tags, 'meta', \
         json_build_object('color', meta->'color', 'pinned', coalesce(meta->'pinned', 'false'))), \
         version FROM notes",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("reading the note");
    json!({"fields": row.0, "version": row.1})
}

pub fn seeded() -> Value {
    json!({"fields": {"title": "Groceries", "body": "milk, eggs", "tags": ["home", "weekly"],
                      "meta": {"color": "red", "pinned": true}}, "version": 1})
}

/// Asserts a 200 whose body has these writable `fields` and `version`, and the ETag to match.
pub fn assert_note(reply: &Reply, fields: Value, version: i64, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "expected {what} to answer 200, body: {:?}",
        reply.body
    );
    let note = reply.json();
    let got = json!({"title": note["title"], "body": note["body"], "tags": note["tags"],
                     "meta": note["meta"], "version": note["version"]});
    let mut want = fields;
    want["version"] = json!(version);
    assert_eq!(got, want, "expected {what} to answer this note");
    let etag = format!("\"{version}\"");
    assert_eq!(reply.etag(), etag, "expected {what} to send `ETag: {etag}`");
}

/// Starts, on a connection of the test's own, a transaction that runs `write` on the note and
/// holds its row lock until the caller sends `COMMIT` on the returned connection: "another
/// client" whose write lands while a request is between its read and its write.
pub async fn hold_a_write(db: &TestDb, write: &'static str) -> PgConnection {
    let mut other = db.admin().await;
    for sql in ["BEGIN", write] {
        let done = sqlx::raw_sql(sql).execute(&mut other).await;
        done.expect("the test's own write to the note");
    }
    other
}

/// Waits until each of `requests` waits for a lock inside Postgres (or has finished).
pub async fn wait_until_blocked<T>(db: &TestDb, requests: &[&JoinHandle<T>]) {
    db.wait_for_lock_waiters(
        "every request to wait for the row lock the test holds (or to finish)",
        |waiting| {
            let finished = requests.iter().filter(|r| r.is_finished()).count();
            waiting + finished >= requests.len()
        },
    )
    .await;
}

/// Checks that `created_at` is RFC 3339 in UTC (`2026-01-31T12:00:00.000000Z`, any fraction,
/// `Z` or `+00:00`); `None` if it is, else why not.
pub fn not_rfc3339_utc(created_at: &str) -> Option<&'static str> {
    let utc = created_at.strip_suffix(['Z', 'z']);
    let Some(time) = utc.or_else(|| created_at.strip_suffix("+00:00")) else {
        return Some("it does not end with `Z` (UTC)");
    };
    let (seconds, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let shape = seconds.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T' || b == b't',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if seconds.len() != 19 || !shape {
        return Some("its date and time are not `YYYY-MM-DDTHH:MM:SS`");
    }
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Some("its fraction of a second is not digits");
    }
    None
}

/// Waits until `total` PATCHes have finished or wait for a lock inside Postgres.
pub async fn wait_until_all_blocked(db: &TestDb, total: usize, finished: impl Fn() -> usize) {
    db.wait_for_lock_waiters(
        "every PATCH to wait for the row lock the test holds (or to finish)",
        |waiting| waiting + finished() >= total,
    )
    .await;
}

/// RFC 7396 Appendix A: (target, patch, result).
pub fn rfc_7396_appendix_a() -> Vec<(Value, Value, Value)> {
    vec![
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (
            json!({"a": "b"}),
            json!({"b": "c"}),
            json!({"a": "b", "b": "c"}),
        ),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (
            json!({"a": "b", "b": "c"}),
            json!({"a": null}),
            json!({"b": "c"}),
        ),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (
            json!({"a": [{"b": "c"}]}),
            json!({"a": [1]}),
            json!({"a": [1]}),
        ),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
        (
            json!([1, 2]),
            json!({"a": "b", "c": null}),
            json!({"a": "b"}),
        ),
        (
            json!({}),
            json!({"a": {"bb": {"ccc": null}}}),
            json!({"a": {"bb": {}}}),
        ),
    ]
}

/// A raw HTTP/1.1 merge-patch PATCH over TCP; returns the whole response.
pub async fn raw_patch(addr: SocketAddr, uri: &str, if_match: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "PATCH {uri} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {MERGE}\r\nIf-Match: {if_match}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        stream.read_to_string(&mut response),
    );
    let read = read.await.expect("expected an answer within 30 s");
    read.expect("expected a readable response");
    response
}
