//! Helpers for the put_vs_patch tests: a request sender, a seeded database, assertions.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kata_testkit::TestDb;
use kata_testkit::http::{self, Reply};
use put_vs_patch::app;
use serde_json::{Value, json};
use sqlx::Executor;
use sqlx::postgres::PgPoolOptions;

const SCHEMA: &str = include_str!("../../schema.sql");
pub const MERGE: &str = "application/merge-patch+json";
pub const JSON: &str = "application/json";

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
    http::send(app, request).await
}

/// The session time zone of the app's connections: not UTC (sqlx asks for UTC, a pool or server
/// may say otherwise), so a `created_at` formatted in the session's zone shows the offset.
pub const SESSION_TIME_ZONE: &str = "-03:30";

/// A database with one note (version 1); returns it, the app and the note's URI. The app's
/// connections use the session time zone [`SESSION_TIME_ZONE`].
pub async fn setup() -> (TestDb, Router, String) {
    let db = TestDb::new(SCHEMA).await;
    let id: i64 = sqlx::query_scalar(
        // created_at fixed in the afternoon (UTC), where a 12-hour clock reads otherwise.
        r#"INSERT INTO notes (title, body, tags, meta, created_at)
           VALUES ('Groceries', 'milk, eggs', '{home,weekly}', '{"color": "red", "pinned": true}',
                   '2026-01-31 15:04:05.123456+00')
           RETURNING id"#,
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("seeding a note");
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET TIME ZONE INTERVAL '-03:30' HOUR TO MINUTE")
                    .await?;
                Ok(())
            })
        })
        .connect_with(db.options())
        .await
        .expect("could not connect to the test database");
    (db, app(pool), format!("/notes/{id}"))
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
        reply.text()
    );
    let note = reply.json();
    let got = json!({"title": note["title"], "body": note["body"], "tags": note["tags"],
                     "meta": note["meta"], "version": note["version"]});
    let mut want = fields;
    want["version"] = json!(version);
    assert_eq!(got, want, "expected {what} to answer this note");
    let etag = format!("\"{version}\"");
    assert_eq!(
        reply.header(header::ETAG),
        etag,
        "expected {what} to send `ETag: {etag}`"
    );
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
    let head = format!("PATCH {uri} HTTP/1.1\r\nContent-Type: {MERGE}\r\nIf-Match: {if_match}");
    http::raw(addr, &head, body).await
}
