//! `If-Match` and concurrent writers: preconditions on every write, a write overtaken while it
//! waits for the row, and ten PATCHes racing with one ETag.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use super::helpers::{JSON, MERGE, assert_note, seeded, send, setup, stored};

#[tokio::test]
async fn if_match_guards_every_write_and_without_it_or_with_a_star_writes_go_through() {
    let (db, app, uri) = setup().await;
    // Other versions, a weak tag of this one (If-Match compares strongly) and no ETag at all.
    for other in ["\"2\"", "\"0\"", "\"10\"", "W/\"1\"", "1", "abc"] {
        for (method, content_type) in [(Method::PATCH, MERGE), (Method::PUT, JSON)] {
            let reply = send(
                &app,
                method.clone(),
                &uri,
                Some(content_type),
                Some(other),
                r#"{"title": "Z"}"#,
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::PRECONDITION_FAILED,
                "expected {method} with If-Match {other} on a note at version 1 to answer 412 (only \
                 the strong ETag \"1\" matches: another version, a weak tag or a value that is \
                 not an ETag fails the precondition)"
            );
        }
    }
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");
    let etag = send(&app, Method::GET, &uri, None, None, "")
        .await
        .header(header::ETAG)
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
    let reset = json!({"title": "D", "body": null, "tags": [],
                       "meta": {"color": null, "pinned": false}});
    assert_note(&fresh, reset, 3, "a PUT with the current ETag \"2\"");

    let writes = [
        (Method::PATCH, MERGE, None, r#"{"title": "A"}"#),
        (Method::PATCH, MERGE, Some("*"), r#"{"body": "B"}"#),
        (
            Method::PUT,
            JSON,
            Some("*"),
            r#"{"title": "C", "body": "C"}"#,
        ),
        (Method::PUT, JSON, None, r#"{"title": "D", "tags": ["d"]}"#),
        (Method::PATCH, MERGE, None, r#"{"body": "E"}"#),
    ];

    for (n, (method, content_type, if_match, body)) in writes.into_iter().enumerate() {
        let reply = send(
            &app,
            method.clone(),
            &uri,
            Some(content_type),
            if_match,
            body,
        )
        .await;

        let version = n as i64 + 4;
        let what = format!(
            "{method} {body} with If-Match {if_match:?} at version {}",
            n + 3
        );
        assert_eq!(
            (reply.status, reply.header(header::ETAG)),
            (StatusCode::OK, format!("\"{version}\"").as_str()),
            "expected {what} to go through (200, ETag \"{version}\"): no If-Match, or `*`, is \
             an unconditional write; body: {:?}",
            reply.text()
        );
    }
    let want = json!({"title": "D", "body": "E", "tags": ["d"],
                      "meta": {"color": null, "pinned": false}});
    assert_eq!(
        stored(&db).await,
        json!({"fields": want, "version": 8}),
        "expected every write applied in turn"
    );
    let reply = send(&app, Method::GET, &uri, None, None, "").await;
    assert_note(&reply, want, 8, "GET after those writes");
}

#[tokio::test]
async fn a_write_overtaken_by_another_is_412_with_if_match_and_merged_without() {
    let (db, app, uri) = setup().await;
    // "Another client" whose write lands while the requests are between their read and write.
    let other = db
        .hold_locks("UPDATE notes SET body = 'from another client', version = version + 1")
        .await;

    let put = tokio::spawn({
        let (app, uri) = (app.clone(), uri.clone());
        async move {
            let body = r#"{"title": "from this PUT"}"#;
            send(&app, Method::PUT, &uri, Some(JSON), Some("\"1\""), body).await
        }
    });
    let patch = tokio::spawn({
        let (app, uri) = (app.clone(), uri.clone());
        async move {
            let body = r#"{"title": "from this PATCH"}"#;
            send(&app, Method::PATCH, &uri, Some(MERGE), None, body).await
        }
    });
    db.wait_until_blocked(
        "every request to wait for the row lock the test holds (or to finish)",
        &[&put, &patch],
    )
    .await;
    other.commit().await;
    let (put, patch) = (put.await, patch.await);
    let (put, patch) = (
        put.expect("the PUT panicked"),
        patch.expect("the PATCH panicked"),
    );

    assert_eq!(
        put.status,
        StatusCode::PRECONDITION_FAILED,
        "expected a PUT with If-Match \"1\" to answer 412 when another write to version 1 \
         committed while it ran (compare the version in the UPDATE itself), body: {:?}",
        put.text()
    );
    let mut want = seeded()["fields"].clone();
    want["title"] = json!("from this PATCH");
    want["body"] = json!("from another client");
    assert_note(
        &patch,
        want.clone(),
        3,
        "a PATCH without If-Match that another write overtook (no If-Match: unconditional, \
         so merge into the newer note instead of a 412, and lose neither change)",
    );
    assert_eq!(
        stored(&db).await,
        json!({"fields": want, "version": 3}),
        "expected the other write and the PATCH stored (and not the refused PUT)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_patches_with_one_etag_let_exactly_one_through() {
    let (db, app, uri) = setup().await;
    let lock = db.hold_locks("SELECT id FROM notes FOR UPDATE").await;
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let (app, uri) = (app.clone(), uri.clone());
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
                reply.status
            })
        })
        .collect();
    db.wait_until_blocked(
        "every PATCH to wait for the row lock the test holds (or to finish)",
        &calls,
    )
    .await;
    lock.commit().await;

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
