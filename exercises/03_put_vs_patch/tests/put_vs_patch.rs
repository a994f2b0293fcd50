//! Hidden tests for the PUT vs PATCH kata: axum's real router (and once a real TCP socket) on
//! a real Postgres database. The lost-update race is forced, not hoped for: the test holds the
//! note's row lock while ten PATCHes carrying the same ETag pile up behind it.

#[path = "put_vs_patch/helpers.rs"]
mod helpers;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode};
use helpers::{JSON, MERGE, assert_note, seeded, send, setup, stored, wait_until_all_blocked};
use put_vs_patch::merge_patch;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[tokio::test]
async fn get_returns_the_note_with_its_etag() {
    let (_db, app, uri) = setup().await;

    let reply = send(&app, Method::GET, &uri, None, None, "").await;

    assert_note(&reply, seeded()["fields"].clone(), 1, "GET");
    let note = reply.json();
    assert!(
        note["id"].is_i64() && note["created_at"].is_string(),
        "expected the read-only id and created_at in the representation, but got {note}"
    );
}

#[tokio::test]
async fn put_replaces_the_whole_note_and_resets_omitted_fields() {
    let (db, app, uri) = setup().await;

    let reply = send(
        &app,
        Method::PUT,
        &uri,
        Some(JSON),
        None,
        r#"{"title": "Shopping"}"#,
    )
    .await;

    let reset = json!({"title": "Shopping", "body": null, "tags": [],
                       "meta": {"color": null, "pinned": false}});
    assert_note(
        &reply,
        reset.clone(),
        2,
        "a PUT of only a title (the rest reset)",
    );
    assert_eq!(
        stored(&db).await,
        json!({"fields": reset, "version": 2}),
        "expected it stored"
    );
}

#[tokio::test]
async fn put_without_the_required_title_is_400() {
    let (db, app, uri) = setup().await;

    for body in [
        r#"{"body": "bread"}"#,
        r#"{"title": null}"#,
        r#"{"title": "#,
    ] {
        let reply = send(&app, Method::PUT, &uri, Some(JSON), None, body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "expected PUT {body} to answer 400"
        );
    }
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");
}

#[tokio::test]
async fn patch_changes_only_the_members_it_names() {
    let (db, app, uri) = setup().await;

    let reply = send(
        &app,
        Method::PATCH,
        &uri,
        Some(MERGE),
        None,
        r#"{"title": "Shopping"}"#,
    )
    .await;

    let mut want = seeded()["fields"].clone();
    want["title"] = json!("Shopping");
    assert_note(&reply, want.clone(), 2, "a PATCH of the title");
    assert_eq!(
        stored(&db).await,
        json!({"fields": want, "version": 2}),
        "expected it stored"
    );
}

#[tokio::test]
async fn patch_with_null_clears_a_member() {
    let (db, app, uri) = setup().await;

    let patch = r#"{"body": null, "meta": {"color": null}}"#;
    let reply = send(&app, Method::PATCH, &uri, Some(MERGE), None, patch).await;

    let want = json!({"title": "Groceries", "body": null, "tags": ["home", "weekly"],
                      "meta": {"color": null, "pinned": true}});
    assert_note(&reply, want.clone(), 2, format!("PATCH {patch}").as_str());
    assert_eq!(
        stored(&db).await,
        json!({"fields": want, "version": 2}),
        "expected it stored"
    );
}

#[tokio::test]
async fn patch_merges_nested_objects_and_replaces_arrays() {
    let (_db, app, uri) = setup().await;

    let patch = r#"{"meta": {"color": "blue"}, "tags": ["urgent"]}"#;
    let reply = send(&app, Method::PATCH, &uri, Some(MERGE), None, patch).await;

    let want = json!({"title": "Groceries", "body": "milk, eggs", "tags": ["urgent"],
                      "meta": {"color": "blue", "pinned": true}});
    assert_note(
        &reply,
        want,
        2,
        format!("PATCH {patch} (meta.pinned kept)").as_str(),
    );
}

#[test]
fn merge_patch_follows_rfc_7396_appendix_a() {
    let cases = helpers::rfc_7396_appendix_a();
    for (target, patch, want) in cases {
        let mut got = target.clone();

        merge_patch(&mut got, &patch);

        assert_eq!(got, want, "expected merge_patch({target}, {patch})");
    }
}

#[tokio::test]
async fn patch_needs_the_merge_patch_content_type() {
    let (db, app, uri) = setup().await;

    for content_type in [Some(JSON), Some("text/plain"), None] {
        let reply = send(
            &app,
            Method::PATCH,
            &uri,
            content_type,
            None,
            r#"{"title": "X"}"#,
        )
        .await;

        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a PATCH with Content-Type {content_type:?} to answer 415 (only {MERGE} is a merge patch)"
        );
    }
    let put = send(
        &app,
        Method::PUT,
        &uri,
        Some("text/plain"),
        None,
        r#"{"title": "X"}"#,
    )
    .await;
    assert_eq!(
        put.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "expected a text/plain PUT to be 415"
    );
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");
}

#[tokio::test]
async fn read_only_members_are_refused_with_422() {
    let (db, app, uri) = setup().await;
    let bodies = [
        (Method::PATCH, MERGE, r#"{"version": 99}"#),
        (Method::PATCH, MERGE, r#"{"id": 7, "title": "X"}"#),
        (
            Method::PATCH,
            MERGE,
            r#"{"created_at": "2000-01-01T00:00:00Z"}"#,
        ),
        (Method::PUT, JSON, r#"{"title": "X", "version": 1}"#),
    ];

    for (method, content_type, body) in bodies {
        let reply = send(&app, method.clone(), &uri, Some(content_type), None, body).await;

        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {method} {body} to answer 422 (id, version and created_at are read-only)"
        );
    }
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_the_first_write_wins() {
    let (db, app, uri) = setup().await;
    let etag = send(&app, Method::GET, &uri, None, None, "")
        .await
        .etag()
        .to_owned();

    let first = send(
        &app,
        Method::PATCH,
        &uri,
        Some(MERGE),
        Some(&etag),
        r#"{"title": "A"}"#,
    )
    .await;
    let second = send(
        &app,
        Method::PATCH,
        &uri,
        Some(MERGE),
        Some(&etag),
        r#"{"title": "B"}"#,
    )
    .await;
    let stale_put = send(
        &app,
        Method::PUT,
        &uri,
        Some(JSON),
        Some(&etag),
        r#"{"title": "C"}"#,
    )
    .await;

    let (first, second, stale_put) = (first.status, second.status, stale_put.status);
    assert_eq!(
        (first, second, stale_put),
        (
            StatusCode::OK,
            StatusCode::PRECONDITION_FAILED,
            StatusCode::PRECONDITION_FAILED
        ),
        "expected two writes with the same If-Match {etag}: the first 200, the second (PATCH, then PUT) 412"
    );
    assert_eq!(
        stored(&db).await["fields"]["title"],
        "A",
        "expected the first write kept"
    );
    let fresh = send(
        &app,
        Method::PUT,
        &uri,
        Some(JSON),
        Some("\"2\""),
        r#"{"title": "D"}"#,
    )
    .await;
    assert_eq!(
        fresh.status,
        StatusCode::OK,
        "expected a PUT with the current ETag \"2\" to succeed"
    );
}

#[tokio::test]
async fn an_unknown_note_is_404() {
    let (_db, app, _uri) = setup().await;

    for (method, content_type) in [
        (Method::GET, None),
        (Method::PUT, Some(JSON)),
        (Method::PATCH, Some(MERGE)),
    ] {
        let reply = send(
            &app,
            method.clone(),
            "/notes/4242",
            content_type,
            None,
            r#"{"title": "X"}"#,
        )
        .await;

        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "expected {method} /notes/4242 to answer 404"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_patches_with_one_etag_let_exactly_one_through() {
    let (db, app, uri) = setup().await;
    let mut lock = db.admin().await;
    sqlx::raw_sql("BEGIN; SELECT id FROM notes FOR UPDATE")
        .execute(&mut lock)
        .await
        .expect("locking the note");
    let done = Arc::new(AtomicUsize::new(0));
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let (app, uri, done) = (app.clone(), uri.clone(), done.clone());
            tokio::spawn(async move {
                let patch = format!(r#"{{"title": "writer {i}"}}"#);
                let reply = send(
                    &app,
                    Method::PATCH,
                    &uri,
                    Some(MERGE),
                    Some("\"1\""),
                    &patch,
                )
                .await;
                done.fetch_add(1, Ordering::SeqCst);
                reply.status
            })
        })
        .collect();
    wait_until_all_blocked(&db, 10, || done.load(Ordering::SeqCst)).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut lock)
        .await
        .expect("releasing the lock");

    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.expect("a PATCH panicked"));
    }

    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::PRECONDITION_FAILED)
        .count();
    assert_eq!(
        (ok, refused),
        (1, 9),
        "expected 10 concurrent PATCHes with If-Match \"1\" to give exactly one 200 and nine 412 \
         (a check-then-write lets them all through: lost updates), but got {statuses:?}"
    );
    assert_eq!(
        stored(&db).await["version"],
        2,
        "expected exactly one write to the note"
    );
}

#[tokio::test]
async fn patch_works_over_a_real_socket() {
    let (_db, app, uri) = setup().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let body = r#"{"tags": null}"#;

    let response = helpers::raw_patch(addr, &uri, "\"1\"", body).await;

    let lower = response.to_ascii_lowercase();
    let note: Value = serde_json::from_str(response.split_once("\r\n\r\n").map_or("", |p| p.1))
        .unwrap_or_default();
    assert!(
        lower.starts_with("http/1.1 200")
            && lower.contains("\r\netag: \"2\"")
            && note["tags"] == json!([]),
        "expected `HTTP/1.1 200` with `ETag: \"2\"` and the tags cleared, but got {response:?}"
    );
    server.abort();
}
