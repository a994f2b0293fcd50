//! The brute-force throttle: failures per account counted in Redis, shared by every instance.

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use login_flow::app;

use super::support::*;

#[tokio::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let kata = kata().await;
    kata.fail(ALICE, 5).await;
    let verifications = kata.state.verifier.verifications();

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
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "expected 5 failures spelled {spelled:?} to count for one account, got {locked:?}"
    );
}

#[tokio::test]
async fn the_failure_window_is_a_millisecond_ttl_in_redis() {
    let kata = kata().await;

    kata.fail(ALICE, 1).await;

    let pttl = kata.failures_pttl(ALICE).await;
    assert!(
        pttl > 0 && pttl <= WINDOW_MS as i64,
        "expected the key {{prefix}}:login_failures:{ALICE} to expire within the window \
         (PTTL between 1 and {WINDOW_MS} ms), got PTTL {pttl} (-2: no such key, -1: no TTL)"
    );
}

#[tokio::test]
async fn retry_after_is_the_time_left_and_the_lock_ends_with_the_key() {
    let kata = kata().await;
    kata.fail(ALICE, 5).await;
    let key = kata.redis.key(&format!("login_failures:{ALICE}"));
    let mut admin = kata.redis.admin().await;
    let pexpire = |ms: u64| redis::cmd("PEXPIRE").arg(&key).arg(ms).to_owned();

    let () = pexpire(100_000)
        .query_async(&mut admin)
        .await
        .expect("PEXPIRE");
    let locked = kata.login(ALICE, ALICE_PASSWORD).await;
    let () = pexpire(1).query_async(&mut admin).await.expect("PEXPIRE");
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
            && retry_after.is_some_and(|s| (90..=100).contains(&s)),
        "expected Retry-After to be the seconds left on the counter (its PTTL, set to 100 s by the test), got {locked:?}"
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
