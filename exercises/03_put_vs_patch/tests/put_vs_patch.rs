//! Hidden tests for the PUT vs PATCH kata: axum's real router (and once a real TCP socket) on
//! a real Postgres database. Races are forced, not hoped for: the test holds the note's row
//! lock (its own uncommitted write) while requests pile up behind it inside Postgres.
//!
//! Rule (README / stub) -> test:
//! - GET: 200, the note, `ETag: "1"`; `created_at` RFC 3339 in UTC, the stored instant, also
//!   when the connection's session time zone is not UTC (the app's pool uses -03:30), at an
//!   afternoon hour (a 12-hour clock differs)
//!   -> `get_returns_the_note_with_its_etag`
//! - PUT replaces every writable field, resets omitted ones (inside `meta` too), stores a full
//!   body as sent, keeps `id` and `created_at` -> `put_replaces_the_whole_note_and_resets_omitted_fields`
//! - 400, nothing changes: PUT without title, `null` title, wrong types, not an object, malformed;
//!   PATCH not an object, malformed, or whose result is no valid note (`{"title": null}`)
//!   -> `an_invalid_body_is_400_and_changes_nothing`
//! - PATCH: only the named members, and a PATCH that changes nothing (`{}`, the same title) is
//!   still a write that adds 1 -> `patch_changes_only_the_members_it_names`; `null` clears
//!   (nested too, sibling kept) -> `patch_with_null_clears_a_member`; nested objects merge, arrays
//!   are replaced -> `patch_merges_nested_objects_and_replaces_arrays`
//! - `merge_patch` = RFC 7396 Appendix A -> `merge_patch_follows_rfc_7396_appendix_a`
//! - 415: PATCH as `application/json`, `application/json-patch+json`, `text/plain`, none; PUT as
//!   `text/plain`, `application/merge-patch+json`, none; parameters (`; charset=utf-8`) accepted
//!   -> `patch_and_put_each_need_their_own_content_type`
//! - `id`, `version`, `created_at` in a body: 422 for PUT and PATCH, even with the current value
//!   -> `read_only_members_are_refused_with_422`
//! - `If-Match` naming another version (older, newer, a prefix), weak, or no ETag: 412 for PATCH and PUT; the first
//!   of two writers wins; every write adds 1; without `If-Match` or with `*`: unconditional
//!   -> `preconditions::if_match_guards_every_write_and_without_it_or_with_a_star_writes_go_through`
//! - another write commits while a request waits for the row: PUT with `If-Match` 412; PATCH
//!   without `If-Match` 200, merged into the newer note (no 412, no lost update)
//!   -> `preconditions::a_write_overtaken_by_another_is_412_with_if_match_and_merged_without`
//! - 10 concurrent PATCHes with `If-Match: "1"`: one 200, nine 412
//!   -> `preconditions::ten_concurrent_patches_with_one_etag_let_exactly_one_through`
//! - unknown id (also with `If-Match`, also `i64::MAX`): 404 -> `an_unknown_note_is_404`
//! - over a real socket -> `patch_works_over_a_real_socket`

#[path = "put_vs_patch/helpers.rs"]
mod helpers;
#[path = "put_vs_patch/preconditions.rs"]
mod preconditions;

use axum::http::{Method, StatusCode};
use helpers::{JSON, MERGE, assert_note, not_rfc3339_utc, seeded, send, setup, stored};
use put_vs_patch::merge_patch;
use serde_json::{Value, json};
#[tokio::test]
async fn get_returns_the_note_with_its_etag() {
    let (db, app, uri) = setup().await;

    let reply = send(&app, Method::GET, &uri, None, None, "").await;

    assert_note(&reply, seeded()["fields"].clone(), 1, "GET");
    let note = reply.json();
    assert!(
        note["id"].is_i64() && note["created_at"].is_string(),
        "expected the read-only id and created_at in the representation, but got {note}"
    );
    let created_at = note["created_at"].as_str().unwrap_or_default();
    if let Some(why) = not_rfc3339_utc(created_at) {
        panic!(
            "expected created_at in RFC 3339 in UTC, like \"2026-01-31T12:00:00.000000Z\", but \
             got {created_at:?}: {why}"
        );
    }
    let (same, instant): (bool, String) = sqlx::query_as(
        "SELECT abs(extract(epoch FROM $1::timestamptz - created_at)) < 1, \
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM notes",
    )
    .bind(created_at)
    .fetch_one(&mut db.admin().await)
    .await
    .expect("comparing created_at with the stored one");
    assert!(
        same,
        "expected created_at {created_at:?} to be the stored instant in UTC, {instant:?}, \
         although the app's connections use the session time zone {} (format the instant \
         `AT TIME ZONE 'UTC'`)",
        helpers::SESSION_TIME_ZONE
    );
}

#[tokio::test]
async fn put_replaces_the_whole_note_and_resets_omitted_fields() {
    let (db, app, uri) = setup().await;
    let before = send(&app, Method::GET, &uri, None, None, "").await.json();

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
    let after = reply.json();
    assert_eq!(
        (&after["id"], &after["created_at"]),
        (&before["id"], &before["created_at"]),
        "expected a PUT to keep the read-only id and created_at"
    );

    let full = json!({"title": "Trip", "body": "passport", "tags": ["travel", "todo"],
                      "meta": {"color": "green", "pinned": true}});
    let reply = send(&app, Method::PUT, &uri, Some(JSON), None, &full.to_string()).await;
    assert_note(&reply, full.clone(), 3, "a PUT of every field");
    assert_eq!(
        stored(&db).await,
        json!({"fields": full, "version": 3}),
        "expected every field of the PUT stored"
    );

    let body = r#"{"title": "Trip", "meta": {"color": "blue"}}"#;
    let reply = send(&app, Method::PUT, &uri, Some(JSON), None, body).await;
    let want = json!({"title": "Trip", "body": null, "tags": [],
                      "meta": {"color": "blue", "pinned": false}});
    assert_note(
        &reply,
        want.clone(),
        4,
        format!("PUT {body} (meta.pinned reset to false: PUT never merges)").as_str(),
    );
    assert_eq!(
        stored(&db).await,
        json!({"fields": want, "version": 4}),
        "expected it stored"
    );
}

#[tokio::test]
async fn an_invalid_body_is_400_and_changes_nothing() {
    let (db, app, uri) = setup().await;
    let put = [
        r#"{"body": "bread"}"#,
        r#"{"title": null}"#,
        r#"{"title": 5}"#,
        r#"{"title": "X", "tags": "home"}"#,
        r#"{"title": "X", "meta": {"pinned": "yes"}}"#,
        r#"[{"title": "X"}]"#,
        r#""Shopping""#,
        r#"{"title": "#,
    ];
    // A merge patch must be an object, and its result a valid note (the title is required).
    let patch = [
        r#"{"title": null}"#,
        r#"{"tags": "home"}"#,
        r#"{"meta": {"pinned": "yes"}}"#,
        r#"["title", "X"]"#,
        r#"null"#,
        r#"{"title": "#,
    ];
    let requests = put.map(|b| (Method::PUT, JSON, b));
    let requests = requests
        .into_iter()
        .chain(patch.map(|b| (Method::PATCH, MERGE, b)));

    for (method, content_type, body) in requests {
        let reply = send(&app, method.clone(), &uri, Some(content_type), None, body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "expected {method} {body} to answer 400, body: {:?}",
            reply.text()
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

    // A PATCH that changes nothing is still a successful write: it adds 1 to the version.
    for (version, patch) in [(3, r#"{"title": "Shopping"}"#), (4, "{}")] {
        let reply = send(&app, Method::PATCH, &uri, Some(MERGE), None, patch).await;
        let what = format!(
            "PATCH {patch}, which changes nothing (every successful write adds 1 to the version)"
        );
        assert_note(&reply, want.clone(), version, &what);
        assert_eq!(
            stored(&db).await,
            json!({"fields": want, "version": version}),
            "expected {what} stored"
        );
    }
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
async fn patch_and_put_each_need_their_own_content_type() {
    let (db, app, uri) = setup().await;
    let patch = [
        Some(JSON),
        Some("application/json-patch+json"),
        Some("text/plain"),
        None,
    ];
    let put = [Some("text/plain"), Some(MERGE), None];
    let requests = patch.map(|c| (Method::PATCH, c, MERGE));
    let requests = requests
        .into_iter()
        .chain(put.map(|c| (Method::PUT, c, JSON)));

    for (method, content_type, wanted) in requests {
        let reply = send(
            &app,
            method.clone(),
            &uri,
            content_type,
            None,
            r#"{"title": "X"}"#,
        )
        .await;

        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a {method} with Content-Type {content_type:?} to answer 415 (only {wanted} is accepted)"
        );
    }
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");

    // Parameters do not change the media type.
    for (method, content_type) in [
        (Method::PATCH, "application/merge-patch+json; charset=utf-8"),
        (Method::PUT, "application/json; charset=utf-8"),
    ] {
        let reply = send(
            &app,
            method.clone(),
            &uri,
            Some(content_type),
            None,
            r#"{"title": "X"}"#,
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "expected a {method} with Content-Type {content_type:?} to be accepted (a media type \
             with parameters is still that media type), got {}",
            reply.status
        );
    }
}

#[tokio::test]
async fn read_only_members_are_refused_with_422() {
    let (db, app, uri) = setup().await;
    let current = send(&app, Method::GET, &uri, None, None, "").await.json();
    let (id, created_at) = (&current["id"], &current["created_at"]);
    let echo_id = json!({"id": id, "title": "X"}).to_string();
    let echo_created_at = json!({"title": "X", "created_at": created_at}).to_string();
    let bodies = [
        (Method::PATCH, MERGE, r#"{"version": 99}"#),
        (Method::PATCH, MERGE, r#"{"id": 7, "title": "X"}"#),
        (
            Method::PATCH,
            MERGE,
            r#"{"created_at": "2000-01-01T00:00:00Z"}"#,
        ),
        (Method::PATCH, MERGE, r#"{"title": "X", "version": 1}"#),
        (Method::PATCH, MERGE, &echo_id),
        (Method::PUT, JSON, r#"{"title": "X", "version": 1}"#),
        (Method::PUT, JSON, r#"{"id": 7, "title": "X"}"#),
        (
            Method::PUT,
            JSON,
            r#"{"title": "X", "created_at": "2000-01-01T00:00:00Z"}"#,
        ),
        (Method::PUT, JSON, &echo_id),
        (Method::PUT, JSON, &echo_created_at),
    ];

    for (method, content_type, body) in bodies {
        let reply = send(&app, method.clone(), &uri, Some(content_type), None, body).await;

        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {method} {body} to answer 422 (id, version and created_at are read-only, \
             even when the body repeats their current value)"
        );
    }
    assert_eq!(stored(&db).await, seeded(), "expected the note unchanged");
}

#[tokio::test]
async fn an_unknown_note_is_404() {
    let (_db, app, _uri) = setup().await;

    for uri in ["/notes/4242", "/notes/9223372036854775807"] {
        for (method, content_type, if_match) in [
            (Method::GET, None, None),
            (Method::PUT, Some(JSON), None),
            (Method::PUT, Some(JSON), Some("\"1\"")),
            (Method::PATCH, Some(MERGE), None),
            (Method::PATCH, Some(MERGE), Some("\"1\"")),
        ] {
            let reply = send(
                &app,
                method.clone(),
                uri,
                content_type,
                if_match,
                r#"{"title": "X"}"#,
            )
            .await;

            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "expected {method} {uri} (If-Match {if_match:?}) to answer 404"
            );
        }
    }
}

#[tokio::test]
async fn patch_works_over_a_real_socket() {
    let (_db, app, uri) = setup().await;
    let server = kata_testkit::http::serve(app).await;
    let body = r#"{"tags": null}"#;

    let response = helpers::raw_patch(server.addr, &uri, "\"1\"", body).await;

    let lower = response.to_ascii_lowercase();
    let note: Value = serde_json::from_str(response.split_once("\r\n\r\n").map_or("", |p| p.1))
        .unwrap_or_default();
    assert!(
        lower.starts_with("http/1.1 200")
            && lower.contains("\r\netag: \"2\"")
            && note["tags"] == json!([]),
        "expected `HTTP/1.1 200` with `ETag: \"2\"` and the tags cleared, but got {response:?}"
    );
}
