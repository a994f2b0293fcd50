//! Hidden tests for the login kata: real Postgres (users with Argon2id hashes, seeded by the
//! test), real Redis (the failure counters), axum's real `Router` and one real TCP socket.
//!
//! Nothing here measures time: "an unknown email costs as much as a wrong password" is checked
//! by counting Argon2 verifications, "hashing does not block the executor" by holding a
//! verification open (a hook) while another request is served on a one-thread runtime, and the
//! throttle's race by holding verifications at a gate while parallel guesses arrive.
//!
//! Rules (README, stub) -> the test that fails when that rule alone is broken (`t::` = throttle):
//! - 200 + token shape; HS256, secret, sub, email, iat = now, exp = iat + ttl
//!   -> the_right_password_returns_an_hs256_token_that_expires
//! - token_ttl / max_failures / failure_window read from Config -> t::the_token_lifetime_and_...
//! - /me 200 {id, email}; no token or Basic -> 401 + Bearer challenge -> me::the_token_opens_me_...
//! - scheme case-insensitive; a valid token under another scheme is 401 -> me::the_bearer_scheme_...
//! - other secret, expired, no exp, HS512, garbage -> 401 -> me::forged_expired_and_garbage_...
//! - same 401 (status, headers, body) for a wrong password and an unknown email -> a_wrong_...
//! - exactly one verification each, via state.verifier -> an_unknown_email_costs_one_...
//! - dummy hash: users' algorithm and params -> the_dummy_hash_costs_as_much_as_a_users_hash;
//!   a random password per AppState::new -> every_instance_hashes_its_own_random_dummy_password
//! - verification in spawn_blocking -> password_hashing_runs_off_the_async_executor
//! - body: 400 / 422 / 415 with axum's exact message, no Argon2 -> malformed_bodies_are_400_...;
//!   the same answer whether the email exists -> a_malformed_body_does_not_reveal_...
//! - the flow over a real socket -> login_and_me_work_over_a_real_socket
//! - email trimmed + lowercased for lookup and throttle; the token carries the stored email
//!   -> t::changing_the_emails_case_neither_breaks_login_nor_escapes_the_throttle
//! - 5 failures -> 429 even for the right password, no Argon2, no SQL, {"error"} body
//!   -> t::five_failures_lock_the_account_even_for_the_right_password
//! - 4 failures do not lock (boundary); a success deletes the count -> t::four_failures_do_not_...
//! - Retry-After = PTTL in s rounded up (100 400 ms -> 101); unlock when Redis expires the key
//!   -> t::retry_after_is_the_time_left_rounded_up_and_the_lock_ends_with_the_key
//! - other accounts unaffected -> t::a_locked_account_does_not_lock_another_one
//! - unknown emails throttled -> t::unknown_emails_are_throttled_like_known_ones
//! - key = failures_key = {prefix}:login_failures:{email}, PTTL = window in ms minus elapsed
//!   -> t::the_failure_window_is_a_millisecond_ttl_in_redis
//! - TTL set once: not extended by failures nor by refused attempts -> t::neither_later_...
//! - shared by two AppStates -> t::two_instances_of_the_service_share_the_throttle
//! - check and count atomic: 4 parallel guesses with 1 attempt left -> 1 verification, 3 x 429
//!   -> t::parallel_guesses_at_the_last_attempt_cost_one_verification
//! - Redis error -> 500 (fail closed), no Redis details -> t::a_redis_error_fails_closed_with_a_500
//!
//! Not tested: the ConnectionManager's response timeouts and hashing the dummy off the executor
//! at start-up (neither is observable without timing).

#[path = "login_flow/me.rs"]
mod me;
#[path = "login_flow/support.rs"]
mod support;
#[path = "login_flow/throttle.rs"]
mod throttle;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Params, PasswordHash};
use axum::Json;
use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{Request, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use login_flow::{Claims, LoginRequest, PasswordVerifier, app};
use serde_json::json;
use support::*;

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[tokio::test]
async fn the_right_password_returns_an_hs256_token_that_expires() {
    let kata = kata().await;
    let before = now();

    let reply = kata.login(ALICE, ALICE_PASSWORD).await;

    let after = now();
    assert_eq!(reply.status, StatusCode::OK, "expected 200, got {reply:?}");
    let body = reply.json();
    let shape = (&body["token_type"], &body["expires_in"]);
    assert_eq!(
        shape,
        (&json!("Bearer"), &json!(TOKEN_TTL_SECS)),
        "expected token_type \"Bearer\" and expires_in {TOKEN_TTL_SECS} in {body}"
    );
    let token = body["access_token"].as_str().unwrap_or_default();
    let key = DecodingKey::from_secret(SECRET);
    let decoded = jsonwebtoken::decode::<Claims>(token, &key, &Validation::new(Algorithm::HS256));
    let claims = decoded
        .unwrap_or_else(|e| {
            panic!("expected an HS256 token signed with the secret ({e}): {token:?}")
        })
        .claims;
    assert_eq!(
        (claims.sub.as_str(), claims.email.as_str()),
        (kata.alice_id.to_string().as_str(), ALICE),
        "expected sub = Alice's id and her email"
    );
    assert!(
        (before..=after).contains(&claims.iat) && claims.exp == claims.iat + TOKEN_TTL_SECS,
        "expected iat = now and exp = iat + {TOKEN_TTL_SECS}, got {claims:?} (now was {before}..={after})"
    );
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_very_same_401() {
    let kata = kata().await;

    let wrong_password = kata.login(ALICE, "not her password").await;
    let unknown_email = kata.login(NOBODY, "not her password").await;

    assert_eq!(
        wrong_password.status,
        StatusCode::UNAUTHORIZED,
        "expected 401 for a wrong password, got {wrong_password:?}"
    );
    assert!(
        (
            wrong_password.status,
            &wrong_password.headers,
            &wrong_password.body
        ) == (
            unknown_email.status,
            &unknown_email.headers,
            &unknown_email.body
        ),
        "expected the same status, headers and body byte for byte, or an attacker learns which \
         emails have accounts:\n wrong password: {wrong_password:?}\n unknown email:  {unknown_email:?}"
    );
}

#[tokio::test]
async fn an_unknown_email_costs_one_argon2_verification_like_a_wrong_password() {
    let kata = kata().await;
    let verifications = || kata.state.verifier.verifications();

    let start = verifications();
    kata.login(NOBODY, "anything").await;
    let after_unknown = verifications();
    kata.login(ALICE, "not her password").await;
    let after_wrong = verifications();

    assert_eq!(
        (after_unknown - start, after_wrong - after_unknown),
        (1, 1),
        "expected exactly one Argon2 verification (state.verifier) for an unknown email and one \
         for a wrong password (unknown email, wrong password): skip it for unknown emails and \
         the response time tells which emails exist; verify against state.dummy_hash"
    );
}

#[tokio::test]
async fn the_dummy_hash_costs_as_much_as_a_users_hash() {
    let kata = kata().await;
    let user_hash = hash("whatever");
    let params = |phc: &str| {
        let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let p = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        Ok::<_, String>((
            parsed.algorithm.to_string(),
            p.m_cost(),
            p.t_cost(),
            p.p_cost(),
        ))
    };

    let dummy = params(&kata.state.dummy_hash);

    assert_eq!(
        dummy,
        params(&user_hash),
        "expected the dummy hash {:?} to use the users' algorithm and parameters \
         (algorithm, m, t, p): a cheaper dummy answers unknown emails faster",
        &*kata.state.dummy_hash
    );
}

#[tokio::test]
async fn every_instance_hashes_its_own_random_dummy_password() {
    let kata = kata().await;

    let other = new_state(&kata.db, &kata.redis).await;

    assert_ne!(
        kata.state.dummy_hash, other.dummy_hash,
        "expected AppState::new to hash a random password each time, not a constant"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400_422_or_415_with_axums_message() {
    let kata = kata().await;
    let json = Some("application/json");
    let cases = [
        (
            "truncated JSON",
            json,
            r#"{"email": "alice@example.com", "password": "#,
            400,
        ),
        (
            "a missing password",
            json,
            r#"{"email": "alice@example.com"}"#,
            422,
        ),
        (
            "a number as email",
            json,
            r#"{"email": 42, "password": "x"}"#,
            422,
        ),
        (
            "no Content-Type",
            None,
            &credentials(ALICE, ALICE_PASSWORD),
            415,
        ),
    ];

    for (what, content_type, body, status) in cases {
        let request = || {
            let mut request = Request::post("/login");
            if let Some(content_type) = content_type {
                request = request.header(header::CONTENT_TYPE, content_type);
            }
            request
                .body(Body::from(body.to_owned()))
                .expect("a valid request")
        };
        let axums_message = match Json::<LoginRequest>::from_request(request(), &()).await {
            Err(rejection) => rejection.body_text(),
            Ok(_) => unreachable!("axum accepts {what}"),
        };

        let reply = send(kata.app(), request()).await;

        let expected = json!({ "error": axums_message });
        assert!(
            reply.status == status && serde_json::from_slice(&reply.body).ok() == Some(expected),
            "expected {status} with {{\"error\": {axums_message:?}}} (axum's message) for \
             {what}, got {reply:?}"
        );
    }
    assert_eq!(
        kata.state.verifier.verifications(),
        0,
        "expected no Argon2 work for a bad body"
    );
}

#[tokio::test]
async fn a_malformed_body_does_not_reveal_whether_the_email_exists() {
    let kata = kata().await;

    let known = send(
        kata.app(),
        login_request(&format!(r#"{{"email": "{ALICE}"}}"#)),
    )
    .await;
    let unknown = send(
        kata.app(),
        login_request(&format!(r#"{{"email": "{NOBODY}"}}"#)),
    )
    .await;

    assert!(
        known.status.is_client_error()
            && (known.status, &known.body) == (unknown.status, &unknown.body),
        "expected the same 4xx for a missing password whether or not the email exists:\n \
         known: {known:?}\n unknown: {unknown:?}"
    );
}

/// How long the hook waits for the test's request before giving up (only a wrong answer waits).
const BLOCKED_FOR: Duration = Duration::from_secs(20);

#[tokio::test] // current_thread: the router's tasks and this test share ONE runtime thread
async fn password_hashing_runs_off_the_async_executor() {
    let kata = kata().await;
    let (entered_tx, entered_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (entered, release) = (Mutex::new(Some(entered_tx)), Mutex::new(release_rx));
    let released = Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    let mut state = kata.state.clone();
    // Holds the first verification open until the test has served another request.
    state.verifier = PasswordVerifier::with_hook(move || {
        if let Some(tx) = entered.lock().expect("hook lock").take() {
            let _ = tx.send(());
        }
        let receiver = release.lock().expect("hook lock");
        flag.store(receiver.recv_timeout(BLOCKED_FOR).is_ok(), SeqCst);
    });
    let app = app(state);

    let login = tokio::spawn(send(
        app.clone(),
        login_request(&credentials(ALICE, ALICE_PASSWORD)),
    ));
    entered_rx
        .await
        .expect("expected the login to verify the password");
    let light = send(app, me_request(None)).await;
    let _ = release_tx.send(());
    let login = login.await.expect("the login task panicked");

    assert!(
        released.load(SeqCst),
        "expected another request to be served while a login was verifying its password, but the \
         verification blocked the runtime's only thread for {BLOCKED_FOR:?}: run Argon2 in \
         tokio::task::spawn_blocking"
    );
    assert_eq!(
        (light.status, login.status),
        (StatusCode::UNAUTHORIZED, StatusCode::OK),
        "expected /me without a token (401) and the login (200) to both complete"
    );
}

#[tokio::test]
async fn login_and_me_work_over_a_real_socket() {
    let kata = kata().await;
    let server = http::serve(kata.app()).await;
    let addr = server.addr;

    let head = "POST /login HTTP/1.1\r\nContent-Type: application/json";
    let logged_in = http::raw(addr, head, &credentials(ALICE, ALICE_PASSWORD)).await;
    let body = logged_in
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body);
    let token: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let token = token["access_token"].as_str().unwrap_or_default();
    let me = http::raw(
        addr,
        &format!("GET /me HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    )
    .await;

    assert!(
        logged_in.starts_with("HTTP/1.1 200") && !token.is_empty(),
        "expected `HTTP/1.1 200` with an access_token, got {logged_in:?}"
    );
    assert!(
        me.starts_with("HTTP/1.1 200") && me.contains(ALICE),
        "expected `HTTP/1.1 200` with Alice's email from /me, got {me:?}"
    );
}
