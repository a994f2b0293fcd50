//! Hidden tests for the status codes kata: every failure through axum's real router (and once
//! over a real TCP socket), on a real Postgres database, must be the right status code with an
//! RFC 9457 `application/problem+json` body.
//!
//! Rule (README, stub docs) -> the test that fails when that rule alone is broken:
//! - every error is problem+json, `status` = the HTTP status, `about:blank` titled with the
//!   reason phrase -> `assert_problem`, called by every error test below
//! - 201 and the stored user; `GET` 200 and the user -> a_valid_user_is_created_with_201_and_read_back
//! - one error per invalid field (username: empty, 2, 21, `-`, space, `.`, Unicode, `%`; email:
//!   no `@`, nothing before or after it, two `@`), nothing stored -> invalid_fields_are_400_with_one_error_per_field
//! - 3 and 20 characters, digits only, `_` only, `a@b` accepted -> usernames_and_emails_at_the_limits_are_accepted
//! - malformed, wrong type, missing field, empty body: 400 -> malformed_json_is_a_400_problem_not_axums_plain_text
//! - missing or non-JSON `Content-Type` 415, JSON with a charset read ->
//!   a_json_content_type_is_read_a_missing_or_other_one_is_415
//! - no header, another scheme (even with a valid token), no scheme, unknown token (tokens are
//!   case-sensitive): 401 +
//!   `WWW-Authenticate: Bearer` -> auth::a_missing_or_unknown_token_is_401_with_a_bearer_challenge;
//!   still 401 (not 429) after more requests than the limit with an unknown token
//!   -> auth::an_unknown_token_is_401_however_often_it_is_sent
//! - member 403 and nothing deleted, admin 204 and deleted -> auth::a_member_may_not_delete_a_user_but_an_admin_may
//! - unknown id (any i64: 0, negative, up to i64::MAX) 404 for GET and DELETE -> an_unknown_user_is_404
//! - malformed id 400, unknown route 404, unknown method 405 keeping `Allow` ->
//!   a_malformed_id_is_a_400_problem, an_unknown_route_is_a_404_problem,
//!   an_unknown_method_is_a_405_problem_that_keeps_allow
//! - unique violation 409, also when another transaction takes the username during the insert
//!   -> a_taken_username_is_409_also_when_taken_while_the_insert_waits
//! - 4th request 429 + `Retry-After`, counted per token -> auth::too_many_requests_are_429_with_retry_after
//! - `Retry-After` rounded up to whole seconds -> auth::retry_after_is_the_wait_rounded_up_to_whole_seconds
//! - database failure 500 without its text, from every handler -> a_database_failure_is_500_and_leaks_nothing
//! - over a socket: `HTTP/1.1 401`, the challenge, problem+json -> auth::errors_over_a_real_socket_are_problem_json

#[path = "status_codes/auth.rs"]
mod auth;
#[path = "status_codes/support.rs"]
mod support;

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use support::*;

#[tokio::test]
async fn a_valid_user_is_created_with_201_and_read_back() {
    let (db, app) = setup().await;

    let reply = create_user(&app, "ann_42", "ann@example.com").await;

    let stored: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, username, email FROM users")
            .fetch_all(&mut db.admin().await)
            .await
            .expect("reading the users");
    let [(id, username, email)] = stored.as_slice() else {
        panic!("expected the user stored once, but the table holds {stored:?}");
    };
    let expected = json!({"id": id, "username": username, "email": email});
    assert!(
        reply.status == StatusCode::CREATED && json_or_null(&reply) == expected,
        "expected 201 with the stored user {expected}, but got {} with {:?}",
        reply.status,
        reply.text()
    );
    let get = send(
        &app,
        Method::GET,
        &format!("/users/{id}"),
        Some(MEMBER),
        None,
        "",
    )
    .await;
    assert!(
        get.status == StatusCode::OK && json_or_null(&get) == expected,
        "expected GET /users/{id} to answer 200 with {expected}, but got {} with {:?}",
        get.status,
        get.text()
    );
}

#[tokio::test]
async fn invalid_fields_are_400_with_one_error_per_field() {
    let (db, app) = setup().await;
    let both = create_user(&app, "a!", "not-an-address").await;
    let fields = error_fields(&both, "an invalid username and email");
    assert_eq!(
        fields,
        ["email", "username"],
        "expected one entry per invalid field in \"errors\", body: {:?}",
        both.text()
    );
    let bad_usernames = [
        "",
        "ab",
        "abcdefghij_1234567890",
        "ann-42",
        "ann 42",
        "ann.42",
        "jörg",
        "ann%_",
    ];
    let bad_emails = [
        "",
        "@",
        "ann.example.com",
        "@example.com",
        "ann@",
        "ann@@example.com",
        "ann@mail@example.com",
    ];
    let cases = (bad_usernames
        .map(|u| (u, "ann@example.com", "username"))
        .into_iter())
    .chain(bad_emails.map(|e| ("ann_42", e, "email")));

    for (username, email, field) in cases {
        let reply = create_user(&app, username, email).await;

        let what = format!(
            "the username {username:?} ({} bytes) with the email {email:?}",
            username.len()
        );
        assert_eq!(
            error_fields(&reply, &what),
            [field],
            "expected {what} to have one invalid field, {field:?}, body: {:?}",
            reply.text()
        );
    }
    assert_eq!(user_count(&db).await, 0, "expected nothing stored");
}

#[tokio::test]
async fn usernames_and_emails_at_the_limits_are_accepted() {
    let (db, app) = setup().await;
    let usernames = ["abc", "Ann_42", "123", "___", "abcdefghij_123456789"];
    let emails = ["a@b", "ann+tag@mail.example.org"];
    let cases = (usernames.map(|u| (u, "ann@example.com")).into_iter())
        .chain(emails.map(|e| ("ann_42", e)))
        .enumerate();

    for (i, (username, email)) in cases {
        // Distinct usernames, so that a 409 cannot hide the answer.
        let username = if i < usernames.len() {
            username.to_owned()
        } else {
            format!("user_{i}")
        };
        let reply = create_user(&app, &username, email).await;

        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "expected the username {username:?} ({} characters) with the email {email:?} \
             accepted, body: {:?}",
            username.len(),
            reply.text()
        );
    }
    let expected = (usernames.len() + emails.len()) as i64;
    assert_eq!(
        user_count(&db).await,
        expected,
        "expected every valid user stored"
    );
}

#[tokio::test]
async fn malformed_json_is_a_400_problem_not_axums_plain_text() {
    let (db, app) = setup().await;

    for body in [
        r#"{"username": "ann_42", "email": "#,
        r#"{"username": 42, "email": "ann@example.com"}"#,
        r#"{"email": "ann@example.com"}"#,
        "",
    ] {
        let reply = create(&app, body).await;

        assert_problem(
            &reply,
            StatusCode::BAD_REQUEST,
            &format!("the body {body:?}"),
        );
    }
    assert_eq!(user_count(&db).await, 0, "expected nothing stored");
}

#[tokio::test]
async fn a_json_content_type_is_read_a_missing_or_other_one_is_415() {
    let (db, app) = setup().await;
    let body = r#"{"username": "ann_42", "email": "ann@example.com"}"#;

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
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

    let charset = Some("application/json; charset=utf-8");
    let reply = send(&app, Method::POST, "/users", Some(MEMBER), charset, body).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "expected a body sent as `application/json; charset=utf-8` (JSON) to be read, body: {:?}",
        reply.text()
    );
}

#[tokio::test]
async fn an_unknown_user_is_404() {
    let (db, app) = setup().await;
    seed_user(&db, "ann_42").await;

    // Any i64 is a well-formed id, also one no `bigserial` hands out (0, negative).
    for id in [
        "4242",
        "9223372036854775807",
        "0",
        "-5",
        "-9223372036854775808",
    ] {
        let uri = format!("/users/{id}");
        let get = send(&app, Method::GET, &uri, Some(MEMBER), None, "").await;
        let delete = send(&app, Method::DELETE, &uri, Some(ADMIN), None, "").await;

        let what = "(an i64 no user has: an unknown user, not a malformed URL)";
        assert_problem(&get, StatusCode::NOT_FOUND, &format!("GET {uri} {what}"));
        assert_problem(
            &delete,
            StatusCode::NOT_FOUND,
            &format!("DELETE {uri} {what}"),
        );
    }
    assert_eq!(user_count(&db).await, 1, "expected nothing deleted");
}

#[tokio::test]
async fn a_malformed_id_is_a_400_problem() {
    let app = setup_without_database();

    for uri in ["/users/abc", "/users/1.5", "/users/9223372036854775808"] {
        let get = send(&app, Method::GET, uri, Some(MEMBER), None, "").await;
        let delete = send(&app, Method::DELETE, uri, Some(ADMIN), None, "").await;

        assert_problem(&get, StatusCode::BAD_REQUEST, &format!("GET {uri}"));
        assert_problem(&delete, StatusCode::BAD_REQUEST, &format!("DELETE {uri}"));
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_404_problem() {
    let app = setup_without_database();

    for uri in ["/", "/user/1", "/users/1/posts"] {
        let reply = send(&app, Method::GET, uri, Some(MEMBER), None, "").await;

        assert_problem(&reply, StatusCode::NOT_FOUND, &format!("GET {uri}"));
    }
}

#[tokio::test]
async fn an_unknown_method_is_a_405_problem_that_keeps_allow() {
    let app = setup_without_database();

    for (method, uri, allowed) in [
        (Method::PUT, "/users/1", ["GET", "DELETE"].as_slice()),
        (Method::GET, "/users", ["POST"].as_slice()),
    ] {
        let reply = send(&app, method.clone(), uri, Some(ADMIN), None, "").await;

        let what = format!("{method} {uri}");
        assert_problem(&reply, StatusCode::METHOD_NOT_ALLOWED, &what);
        let allow = list(reply.header(header::ALLOW));
        assert!(
            allowed.iter().all(|m| allow.iter().any(|a| a == m))
                && !allow.contains(&method.to_string()),
            "expected {what}'s 405 to keep the `Allow` header listing {allowed:?}, but got {:?}",
            reply.header(header::ALLOW)
        );
    }
}

#[tokio::test]
async fn a_taken_username_is_409_also_when_taken_while_the_insert_waits() {
    let (db, app) = setup().await;
    seed_user(&db, "bob_42").await;
    let reply = create_user(&app, "bob_42", "other@example.com").await;
    assert_problem(
        &reply,
        StatusCode::CONFLICT,
        "creating a user with a taken username",
    );

    let mut other = db.admin().await;
    sqlx::raw_sql(
        "BEGIN; INSERT INTO users (username, email) VALUES ('ann_42', 'first@example.com')",
    )
    .execute(&mut other)
    .await
    .expect("the test inserts the username in an open transaction");

    let task = {
        let app = app.clone();
        tokio::spawn(async move { create_user(&app, "ann_42", "second@example.com").await })
    };
    db.wait_for_lock_waiters(
        "the POST to wait for the test's uncommitted row with the same username",
        |waiting| waiting >= 1 || task.is_finished(),
    )
    .await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut other)
        .await
        .expect("the test commits");
    let reply = task.await.expect("the request task");

    assert_problem(
        &reply,
        StatusCode::CONFLICT,
        "a POST whose username another transaction commits while the insert waits (the \
         database's unique violation is the conflict, whatever the code checked before)",
    );
    assert_eq!(
        user_count(&db).await,
        2,
        "expected no user stored by either POST"
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
    let uri = format!("/users/{id}");
    let body = r#"{"username": "bob_42", "email": "bob@example.com"}"#;
    let json = Some("application/json");

    for (what, reply) in [
        (
            "GET",
            send(&app, Method::GET, &uri, Some(MEMBER), None, "").await,
        ),
        (
            "DELETE",
            send(&app, Method::DELETE, &uri, Some(ADMIN), None, "").await,
        ),
        (
            "POST",
            send(&app, Method::POST, "/users", Some(MEMBER), json, body).await,
        ),
    ] {
        let what = format!("a {what} on a dropped table");
        assert_problem(&reply, StatusCode::INTERNAL_SERVER_ERROR, &what);
        let body = reply.text().to_lowercase();
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
            "expected {what} to get a generic 500 body, but it leaks the internal error \
             ({leaks:?}): {:?}",
            reply.text()
        );
    }
}
