//! Who may call: the bearer token (401 with a challenge), the role (403), the rate limit per
//! token (429 with `Retry-After`), and the 401 as it goes over a real socket.

use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use kata_testkit::http;
use status_codes::ApiError;

use crate::support::*;

/// Asserts a 401 problem with a `WWW-Authenticate: Bearer` challenge.
fn assert_bearer_challenge(reply: &Reply, what: &str) {
    assert_problem(reply, StatusCode::UNAUTHORIZED, what);
    let challenge = reply.header(header::WWW_AUTHENTICATE);
    let scheme = challenge.split(' ').next().unwrap_or_default();
    assert!(
        scheme.eq_ignore_ascii_case("Bearer"),
        "expected {what} to carry a `WWW-Authenticate: Bearer` challenge (a 401 must say how to \
         authenticate), but got {challenge:?}"
    );
}

#[tokio::test]
async fn a_missing_or_unknown_token_is_401_with_a_bearer_challenge() {
    let app = setup_without_database();

    for authorization in [
        None,
        Some("Bearer not-a-token"),
        Some("Bearer MEMBER-TOKEN"),
        Some("Basic YW5uOnNlY3JldA=="),
        Some("Basic member-token"),
        Some("Token admin-token"),
        Some("member-token"),
        Some("NotBearer member-token"),
        Some("Bearer"),
    ] {
        let reply = send_raw(&app, Method::GET, "/users/1", authorization, None, "").await;

        let what = format!("GET /users/1 with Authorization {authorization:?}");
        assert_bearer_challenge(&reply, &what);
    }
}

#[tokio::test]
async fn an_unknown_token_is_401_however_often_it_is_sent() {
    // A limit of 3 per token: an unknown token is a 401 (log in) every time, never a 429.
    let app = setup_without_database_with_limit(3);

    for i in 1..=5 {
        let reply = send(&app, Method::GET, "/users/1", Some("not-a-token"), None, "").await;

        let what = format!(
            "request {i} with the unknown token `Bearer not-a-token` (limit: 3 requests per \
             token)"
        );
        assert_bearer_challenge(&reply, &what);
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
        "expected an admin's DELETE to answer 204, body: {:?}",
        admin.text()
    );
    assert_eq!(
        user_count(&db).await,
        0,
        "expected the admin's 204 to delete the user"
    );
    let again = send(&app, Method::DELETE, &uri, Some(ADMIN), None, "").await;
    assert_problem(&again, StatusCode::NOT_FOUND, "a DELETE of a deleted user");
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
    let admin = send(&app, Method::GET, "/users/4242", Some(ADMIN), None, "").await;
    assert_eq!(
        admin.status,
        StatusCode::NOT_FOUND,
        "expected the limit to count per token: another token's first request is allowed, \
         body: {:?}",
        admin.text()
    );
}

#[tokio::test]
async fn retry_after_is_the_wait_rounded_up_to_whole_seconds() {
    for (millis, expected) in [(1, "1"), (1_200, "2"), (2_000, "2"), (59_001, "60")] {
        let retry_after = Duration::from_millis(millis);
        let response = ApiError::RateLimited { retry_after }.into_response();
        let reply = Reply::read(response).await;

        let what = format!("RateLimited {{ retry_after: {retry_after:?} }}");
        assert_problem(&reply, StatusCode::TOO_MANY_REQUESTS, &what);
        assert_eq!(
            reply.header(header::RETRY_AFTER),
            expected,
            "expected {what} to send `Retry-After: {expected}` (whole seconds, rounded up)"
        );
    }
}

#[tokio::test]
async fn errors_over_a_real_socket_are_problem_json() {
    let app = setup_without_database();
    let server = http::serve(app).await;

    let response = http::raw(server.addr, "GET /users/1 HTTP/1.1", "").await;

    let lower = response.to_ascii_lowercase();
    assert!(
        lower.starts_with("http/1.1 401")
            && lower.contains("\r\nwww-authenticate: bearer")
            && lower.contains("\r\ncontent-type: application/problem+json"),
        "expected `HTTP/1.1 401` with `WWW-Authenticate: Bearer` and an application/problem+json \
         body, but got {response:?}"
    );
}
