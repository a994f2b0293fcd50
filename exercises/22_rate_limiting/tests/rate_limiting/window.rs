//! The window: the counter's key and TTL, exact to the millisecond, counted down, never pushed
//! back, and over when Redis expires the key.

use std::time::{Duration, Instant};

use axum::http::{StatusCode, header};
use kata_testkit::TestRedis;
use rate_limiting::{RATELIMIT_REMAINING, RATELIMIT_RESET, app};
use redis::AsyncCommands;

use super::support::*;

#[tokio::test]
async fn the_counter_lives_under_the_prefix_and_expires_with_the_window() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 3, LONG));

    key_of(&app, "alice").await;
    key_of(&app, "alice").await;

    let key = counter(&r, "key:alice");
    let count: Option<i64> = r.admin().await.get(&key).await.expect("GET the counter");
    assert_eq!(
        count,
        Some(2),
        "expected the counter {key:?} to hold 2 after 2 requests"
    );
    let ttl = r.pttl(&key).await;
    assert!(
        ttl > 0 && ttl <= LONG.as_millis() as i64,
        "expected the counter to expire within the 45000 ms window, but its PTTL is {ttl} \
         (-1: it never expires, so the window never ends and keys pile up)"
    );
}

#[tokio::test]
async fn a_new_window_lasts_exactly_the_window_to_the_millisecond() {
    const WINDOW: i64 = 2_500;
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 3, Duration::from_millis(WINDOW as u64)));
    let key = counter(&r, "key:alice");

    let before = r.clock_ms().await;
    let first = key_of(&app, "alice").await;
    let after = r.clock_ms().await;

    assert_status(&first, 200, "the first request");
    let end = r.expiry_ms(&key).await;
    let end = end.unwrap_or_else(|pttl| {
        panic!(
            "expected the counter {key:?} to expire, but its PTTL is {pttl} (-1: never, -2: no key)"
        )
    });
    // 2 ms of slack: TIME reads the clock a moment after PTTL's snapshot of it.
    let (earliest, latest) = (before + WINDOW - 2, after + WINDOW + 2);
    assert!(
        (earliest..=latest).contains(&end),
        "expected the window to end {WINDOW} ms after its first request (between {} and {} ms \
         after the request started), but the counter expires {} ms after it (whole seconds?)",
        earliest - before,
        latest - before,
        end - before
    );
}

#[tokio::test]
async fn the_reset_counts_down_the_time_left_in_the_window() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 5, LONG));
    // Windows started 34.1 s ago by another instance: 10.9 s left, 1 and 5 requests counted.
    let mut admin = r.admin().await;
    let seeded: redis::RedisResult<()> = admin.pset_ex(counter(&r, "key:alice"), 1, 10_900).await;
    seeded.unwrap_or_else(|e| panic!("could not seed a counter: {e}"));
    let seeded: redis::RedisResult<()> = admin.pset_ex(counter(&r, "key:bob"), 5, 10_900).await;
    seeded.unwrap_or_else(|e| panic!("could not seed a counter: {e}"));

    let allowed = key_of(&app, "alice").await;
    let refused = key_of(&app, "bob").await;

    assert_status(&allowed, 200, "the 2nd request of 5");
    assert_eq!(
        [RATELIMIT_REMAINING, RATELIMIT_RESET].map(|name| number(&allowed, &name)),
        [3, 11],
        "the 2nd request of 5 with 10.9 s of the window left: RateLimit-Remaining and \
         RateLimit-Reset (seconds left, rounded up; not the whole window)"
    );
    assert_status(&refused, 429, "the 6th request of 5");
    let retry_after = refused.header_value(&header::RETRY_AFTER);
    let reset = refused.header_value(&RATELIMIT_RESET);
    assert_eq!(
        (retry_after, reset),
        (Some("11"), Some("11")),
        "the 6th request of 5 with 10.9 s of the window left: Retry-After and RateLimit-Reset \
         (seconds left, rounded up; not the whole window)"
    );
}

#[tokio::test]
async fn the_window_recovers_when_its_key_expires() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 2, Duration::from_millis(300)));
    let key = counter(&r, "key:alice");
    key_of(&app, "alice").await;
    key_of(&app, "alice").await;
    let refused = key_of(&app, "alice").await;
    assert_status(&refused, 429, "the 3rd request of 2");
    let retry_after = refused.header_value(&header::RETRY_AFTER);
    assert_eq!(
        retry_after,
        Some("1"),
        "with a 300 ms window Retry-After must be 1 (seconds, rounded up)"
    );

    let deadline = Instant::now() + HANG;
    loop {
        match r.pttl(&key).await {
            -2 => break,
            -1 => panic!("the counter {key:?} has no TTL (PTTL -1): the window never ends"),
            _ => assert!(
                Instant::now() < deadline,
                "the 300 ms window did not end in {HANG:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let after = key_of(&app, "alice").await;

    assert_status(&after, 200, "the first request of the next window");
    assert_eq!(
        number(&after, &RATELIMIT_REMAINING),
        1,
        "a new window's RateLimit-Remaining"
    );
}

#[tokio::test]
async fn steady_traffic_does_not_push_the_end_of_the_window_back() {
    const WINDOW: i64 = 400;
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 2, Duration::from_millis(WINDOW as u64)));
    // A stall of the machine can end the window before the test looks: then it starts over.
    'attempt: for attempt in 0..5 {
        let client = format!("steady{attempt}");
        let key = counter(&r, &format!("key:{client}"));
        key_of(&app, &client).await;
        key_of(&app, &client).await;
        let Ok(end) = r.expiry_ms(&key).await else {
            panic!("expected the counter {key:?} to exist with a TTL after 2 requests");
        };
        // Let 50 ms of the window pass on Redis's clock, so a moved expiry shows.
        loop {
            match r.pttl(&key).await {
                -2 => continue 'attempt,
                left if left <= WINDOW - 50 => break,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
        let (mut refused, deadline) = (0, Instant::now() + HANG);
        loop {
            let reply = key_of(&app, &client).await;
            if reply.status == StatusCode::OK {
                break;
            }
            assert_status(&reply, 429, "a request past the limit");
            refused += 1;
            match r.expiry_ms(&key).await {
                Ok(now_end) => assert!(
                    (now_end - end).abs() <= 2,
                    "a refused request moved the end of the window by {} ms: the window must \
                     end {WINDOW} ms after its first request, whatever comes after",
                    now_end - end
                ),
                Err(-1) => panic!("the counter {key:?} has no TTL: the window never ends"),
                Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "the {WINDOW} ms window did not end in {HANG:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if refused == 0 {
            continue 'attempt;
        }
        return;
    }
    panic!("the machine stalled for a whole window 5 times in a row: could not test");
}
