//! Hidden tests for the login kata: real Postgres (users with Argon2id hashes, seeded by the
//! test), real Redis (the failure counters), axum's real `Router` and one real TCP socket.
//!
//! Nothing here measures time: "an unknown email costs as much as a wrong password" is checked
//! by counting Argon2 verifications, and "hashing does not block the executor" by holding a
//! verification open (a hook) while another request is served on a one-thread runtime.

#[path = "login_flow/support.rs"]
mod support;
#[path = "login_flow/throttle.rs"]
mod throttle;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::{Params, PasswordHash};
use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use login_flow::{Claims, PasswordVerifier, app};
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
async fn the_token_opens_me_and_no_token_is_a_401_with_a_bearer_challenge() {
    let kata = kata().await;
    let token = kata.token(ALICE, ALICE_PASSWORD).await;

    let allowed = send(kata.app(), me_request(Some(&format!("Bearer {token}")))).await;
    let missing = send(kata.app(), me_request(None)).await;
    let basic = send(kata.app(), me_request(Some("Basic YWxpY2U6c2VjcmV0"))).await;

    assert_eq!(
        allowed.status,
        StatusCode::OK,
        "expected 200, got {allowed:?}"
    );
    assert_eq!(
        allowed.json(),
        json!({ "id": kata.alice_id, "email": ALICE }),
        "expected /me to return Alice's id and email"
    );
    for reply in [missing, basic] {
        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            reply.status == StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer"),
            "expected 401 with `WWW-Authenticate: Bearer` without a bearer token, got {reply:?}"
        );
    }
}

#[tokio::test]
async fn forged_expired_and_garbage_tokens_are_401() {
    let kata = kata().await;
    let t = now();
    let claims = |iat: u64, exp: u64| json!({ "sub": kata.alice_id.to_string(), "email": ALICE, "iat": iat, "exp": exp });
    let sign = |alg, claims: serde_json::Value, secret: &[u8]| {
        let key = EncodingKey::from_secret(secret);
        jsonwebtoken::encode(&Header::new(alg), &claims, &key).expect("the test can sign")
    };
    let no_exp = json!({ "sub": kata.alice_id.to_string(), "email": ALICE, "iat": t });
    let cases = [
        (
            "another secret",
            sign(
                Algorithm::HS256,
                claims(t, t + 900),
                b"another-secret-of-32-bytes-long!!",
            ),
        ),
        (
            "expired an hour ago",
            sign(Algorithm::HS256, claims(t - 4500, t - 3600), SECRET),
        ),
        ("without exp", sign(Algorithm::HS256, no_exp, SECRET)),
        (
            "HS512 instead of HS256",
            sign(Algorithm::HS512, claims(t, t + 900), SECRET),
        ),
        ("garbage", "not-a-jwt".to_owned()),
    ];

    for (what, token) in cases {
        let reply = send(kata.app(), me_request(Some(&format!("Bearer {token}")))).await;

        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            reply.status == StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer"),
            "expected 401 with a `WWW-Authenticate: Bearer ...` challenge for a token {what}, got {reply:?}"
        );
    }
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
async fn malformed_bodies_are_client_errors_with_a_clear_message() {
    let kata = kata().await;
    let cases = [
        (
            "truncated JSON",
            r#"{"email": "alice@example.com", "password": "#,
            "",
        ),
        (
            "a missing password",
            r#"{"email": "alice@example.com"}"#,
            "password",
        ),
        (
            "a number as email",
            r#"{"email": 42, "password": "x"}"#,
            "email",
        ),
    ];

    for (what, body, mentions) in cases {
        let reply = send(kata.app(), login_request(body)).await;

        let error = reply.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            matches!(reply.status.as_u16(), 400 | 422)
                && !error.is_empty()
                && error.contains(mentions),
            "expected 400 or 422 with {{\"error\": \"...\"}} naming {mentions:?} for {what}, got {reply:?}"
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = tokio::spawn(axum::serve(listener, kata.app()).into_future());

    let head = "POST /login HTTP/1.1\r\nContent-Type: application/json";
    let logged_in = raw_http(addr, head, &credentials(ALICE, ALICE_PASSWORD)).await;
    let body = logged_in
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body);
    let token: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let token = token["access_token"].as_str().unwrap_or_default();
    let me = raw_http(
        addr,
        &format!("GET /me HTTP/1.1\r\nAuthorization: Bearer {token}"),
        "",
    )
    .await;
    server.abort();

    assert!(
        logged_in.starts_with("HTTP/1.1 200") && !token.is_empty(),
        "expected `HTTP/1.1 200` with an access_token, got {logged_in:?}"
    );
    assert!(
        me.starts_with("HTTP/1.1 200") && me.contains(ALICE),
        "expected `HTTP/1.1 200` with Alice's email from /me, got {me:?}"
    );
}
