//! The brute-force throttle: failures per account counted in Redis, shared by every instance.

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use login_flow::{Claims, Config, PasswordVerifier, app};

use super::support::*;

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let kata = kata().await;
    kata.fail(ALICE, 5).await;
    let verifications = kata.state.verifier.verifications();
    let statements = kata.db.statements_so_far().await.statements;

    let locked = kata.login(ALICE, ALICE_PASSWORD).await;

    let retry_after: Option<u64> = locked.header(header::RETRY_AFTER).parse().ok();
    assert!(
        locked.status == StatusCode::TOO_MANY_REQUESTS
            && retry_after.is_some_and(|s| (1..=WINDOW_MS / 1000).contains(&s)),
        "expected 429 with Retry-After between 1 and {} s after {MAX_FAILURES} failures, \
         even with the right password, got {locked:?}",
        WINDOW_MS / 1000
    );
    assert_eq!(
        kata.state.verifier.verifications(),
        verifications,
        "expected a locked account to be refused before any Argon2 work"
    );
    assert_eq!(
        kata.db.statements_so_far().await.statements - statements,
        0,
        "expected a locked account to be refused before any database query"
    );
    assert_error_body(&locked);
}

/// Every error answers `{"error": "<message>"}`.
fn assert_error_body(reply: &Reply) {
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "expected the body {{\"error\": \"<message>\"}}, got {reply:?}"
    );
}

#[tokio::test]
async fn four_failures_do_not_lock_and_a_success_resets_the_count() {
    let kata = kata().await;

    kata.fail(ALICE, 4).await;
    let first = kata.login(ALICE, ALICE_PASSWORD).await;
    kata.fail(ALICE, 4).await;
    let second = kata.login(ALICE, ALICE_PASSWORD).await;

    assert_eq!(
        (first.status, second.status),
        (StatusCode::OK, StatusCode::OK),
        "expected 4 failures not to lock, and a successful login to reset the count \
         (4 failures, success, 4 failures, success): {first:?} / {second:?}"
    );
}

#[tokio::test]
async fn a_locked_account_does_not_lock_another_one() {
    let kata = kata().await;
    kata.fail(ALICE, 5).await;

    let bob = kata.login(BOB, BOB_PASSWORD).await;

    assert_eq!(
        bob.status,
        StatusCode::OK,
        "expected Bob to log in while Alice is locked out, got {bob:?}"
    );
}

#[tokio::test]
async fn unknown_emails_are_throttled_like_known_ones() {
    let kata = kata().await;
    kata.fail(NOBODY, 5).await;

    let sixth = kata.login(NOBODY, "still guessing").await;

    assert!(
        sixth.status == StatusCode::TOO_MANY_REQUESTS
            && sixth.headers.contains_key(header::RETRY_AFTER),
        "expected 429 with Retry-After after {MAX_FAILURES} failures for an email without an \
         account (a throttle only for real accounts reveals which ones exist), got {sixth:?}"
    );
}

#[tokio::test]
async fn changing_the_emails_case_neither_breaks_login_nor_escapes_the_throttle() {
    let kata = kata().await;
    let spelled = [
        "Alice@Example.com",
        "ALICE@EXAMPLE.COM",
        " alice@example.com",
        "aLiCe@example.com",
        "alice@example.COM ",
    ];

    let normalised = kata.login("  Alice@Example.COM ", ALICE_PASSWORD).await;
    for email in spelled {
        kata.fail(email, 1).await;
    }
    let locked = kata.login(ALICE, ALICE_PASSWORD).await;

    assert_eq!(
        normalised.status,
        StatusCode::OK,
        "expected \"  Alice@Example.COM \" to log in as alice@example.com (trimmed, lowercased), got {normalised:?}"
    );
    let token = normalised.json()["access_token"]
        .as_str()
        .map(str::to_owned);
    let key = DecodingKey::from_secret(SECRET);
    let claims = jsonwebtoken::decode::<Claims>(
        &token.unwrap_or_default(),
        &key,
        &Validation::new(Algorithm::HS256),
    );
    let email = claims.map(|data| data.claims.email);
    assert_eq!(
        email.as_deref().ok(),
        Some(ALICE),
        "expected the token's email claim to be the account's email, not what was typed: {email:?}"
    );
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "expected 5 failures spelled {spelled:?} to count for one account, got {locked:?}"
    );
}

#[tokio::test]
async fn the_failure_window_is_a_millisecond_ttl_in_redis() {
    let kata = kata().await;
    let start = Instant::now();

    kata.fail(ALICE, 1).await;

    let pttl = kata.failures_pttl(ALICE).await;
    let lowest = WINDOW_MS.saturating_sub(elapsed_ms(start)) as i64;
    assert!(
        (lowest..=WINDOW_MS as i64).contains(&pttl),
        "expected the key {{prefix}}:login_failures:{ALICE} to expire with the window: a PTTL of \
         {WINDOW_MS} ms minus the {} ms the test took, got PTTL {pttl} (-2: no such key, -1: no \
         TTL; a few ms or millions: seconds and milliseconds mixed up)",
        WINDOW_MS as i64 - lowest
    );
    assert_eq!(
        kata.state.failures_key(ALICE),
        kata.failures_key(ALICE),
        "expected failures_key to be \"{{redis_prefix}}:login_failures:{{email}}\""
    );
}

#[tokio::test]
async fn neither_later_failures_nor_refused_attempts_extend_the_window() {
    let kata = kata().await;
    kata.fail(ALICE, 1).await;
    // As if 30 of the 60 seconds had passed.
    kata.pexpire_failures(ALICE, 30_000).await;

    kata.fail(ALICE, MAX_FAILURES as usize - 1).await;
    let after_failures = kata.failures_pttl(ALICE).await;
    let locked = kata.login(ALICE, ALICE_PASSWORD).await;
    let after_refused = kata.failures_pttl(ALICE).await;

    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "expected {MAX_FAILURES} failures to lock the account, got {locked:?}"
    );
    assert!(
        (1..=30_000).contains(&after_failures) && (1..=30_000).contains(&after_refused),
        "expected the window to end when it was going to (PTTL at most 30 000 ms, as the test \
         set it), not to restart: PTTL after 4 more failures {after_failures}, after a refused \
         attempt {after_refused} (set the TTL once, when the window starts)"
    );
}

#[tokio::test]
async fn retry_after_is_the_time_left_rounded_up_and_the_lock_ends_with_the_key() {
    let kata = kata().await;
    kata.fail(ALICE, 5).await;
    let key = kata.failures_key(ALICE);
    let mut admin = kata.redis.admin().await;

    // 100.4 s left: rounded up that is 101 (rounded down or to the nearest, 100).
    let start = Instant::now();
    kata.pexpire_failures(ALICE, 100_400).await;
    let locked = kata.login(ALICE, ALICE_PASSWORD).await;
    let lowest = (100_400 - elapsed_ms(start)).div_ceil(1000);
    kata.pexpire_failures(ALICE, 1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while redis::cmd("EXISTS")
        .arg(&key)
        .query_async::<i64>(&mut admin)
        .await
        .expect("EXISTS")
        == 1
    {
        assert!(
            Instant::now() < deadline,
            "Redis did not expire {key} in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let unlocked = kata.login(ALICE, ALICE_PASSWORD).await;

    let retry_after: Option<u64> = locked.header(header::RETRY_AFTER).parse().ok();
    assert!(
        locked.status == StatusCode::TOO_MANY_REQUESTS
            && retry_after.is_some_and(|s| (lowest..=101).contains(&s)),
        "expected Retry-After: 101, the seconds left on the counter (its PTTL, set to 100 400 ms \
         by the test) rounded up, got {locked:?}"
    );
    assert_eq!(
        unlocked.status,
        StatusCode::OK,
        "expected the account to unlock once Redis expired the counter, got {unlocked:?}"
    );
}

#[tokio::test]
async fn two_instances_of_the_service_share_the_throttle() {
    let kata = kata().await;
    let other = app(new_state(&kata.db, &kata.redis).await);
    kata.fail(ALICE, 3).await;
    for _ in 0..2 {
        send(other.clone(), login_request(&credentials(ALICE, "wrong"))).await;
    }

    let here = kata.login(ALICE, ALICE_PASSWORD).await;
    let there = send(other, login_request(&credentials(ALICE, ALICE_PASSWORD))).await;

    assert_eq!(
        (here.status, there.status),
        (StatusCode::TOO_MANY_REQUESTS, StatusCode::TOO_MANY_REQUESTS),
        "expected 3 failures on one instance and 2 on another to lock the account on both \
         (keep the count in Redis, not in the process)"
    );
}

#[tokio::test]
async fn parallel_guesses_at_the_last_attempt_cost_one_verification() {
    const GUESSES: usize = 4;
    let kata = kata().await;
    kata.fail(ALICE, MAX_FAILURES as usize - 1).await;
    // The hook reports each verification, then holds it at the gate.
    let (events_tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let gate = Gate::default();
    let mut state = kata.state.clone();
    state.verifier = PasswordVerifier::with_hook({
        let (events_tx, gate) = (events_tx.clone(), gate.clone());
        move || {
            let _ = events_tx.send(true);
            gate.wait();
        }
    });
    let app = app(state);

    let guesses: Vec<_> = (0..GUESSES)
        .map(|guess| {
            let (app, events_tx) = (app.clone(), events_tx.clone());
            tokio::spawn(async move {
                let body = credentials(ALICE, &format!("guess {guess}"));
                let reply = send(app, login_request(&body)).await;
                let _ = events_tx.send(false);
                reply.status
            })
        })
        .collect();
    // Wait until every guess is either held in Argon2 or answered without it.
    let (mut verifying, mut answered) = (0, 0);
    while verifying + answered < GUESSES {
        match events.recv().await {
            Some(true) => verifying += 1,
            Some(false) => answered += 1,
            None => unreachable!("the test holds a sender"),
        }
    }
    gate.open();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("a login task panicked").as_u16());
    }
    statuses.sort_unstable();

    assert_eq!(
        (verifying, statuses),
        (1, vec![401, 429, 429, 429]),
        "expected {GUESSES} wrong guesses sent at once, with one attempt left, to cost ONE Argon2 \
         verification (a 401) and three 429s; got (verifications, statuses) above: count the \
         attempt in the same atomic step as the check, or every guess reads \"one attempt left\""
    );
}

#[tokio::test]
async fn the_token_lifetime_and_the_throttle_limits_come_from_the_config() {
    let kata = kata().await;
    let config = Config {
        token_ttl: Duration::from_secs(120),
        max_failures: 2,
        failure_window: Duration::from_millis(30_000),
        ..config(kata.redis.namespace())
    };
    let app = app(new_state_with(&kata.db, &kata.redis, config).await);
    let login = |password: &str| send(app.clone(), login_request(&credentials(ALICE, password)));
    let start = Instant::now();

    let logged_in = login(ALICE_PASSWORD).await;
    fail_on(&app, ALICE, 2).await;
    let locked = login(ALICE_PASSWORD).await;
    let pttl = kata.failures_pttl(ALICE).await;

    let lowest = 30_000 - elapsed_ms(start) as i64;
    let body = logged_in.json();
    let token = body["access_token"].as_str().unwrap_or_default();
    let claims = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(SECRET),
        &Validation::new(Algorithm::HS256),
    )
    .map(|data| data.claims);
    assert!(
        body["expires_in"] == 120_u64 && claims.as_ref().is_ok_and(|c| c.exp == c.iat + 120),
        "expected token_ttl = 120 s to give expires_in 120 and exp = iat + 120, got {body} with \
         claims {claims:?}"
    );
    assert!(
        locked.status == StatusCode::TOO_MANY_REQUESTS && (lowest..=30_000).contains(&pttl),
        "expected max_failures = 2 to lock after 2 failures, and failure_window = 30 000 ms to be \
         the counter's TTL (PTTL {lowest}..=30000), got {locked:?} and PTTL {pttl}"
    );
}

#[tokio::test]
async fn a_redis_error_fails_closed_with_a_500() {
    let kata = kata().await;
    // A list where the counter should be: every command on it fails with WRONGTYPE.
    let key = kata.failures_key(ALICE);
    let _: i64 = kata
        .admin_command(redis::cmd("RPUSH").arg(&key).arg("not a counter"))
        .await;

    let reply = kata.login(ALICE, ALICE_PASSWORD).await;

    assert!(
        reply.status == StatusCode::INTERNAL_SERVER_ERROR && !reply.text().contains("WRONGTYPE"),
        "expected a 500 (fail closed: when the throttle cannot be checked, nobody logs in) whose \
         body keeps Redis's error to the server, got {reply:?}"
    );
    assert_error_body(&reply);
}
