//! Hidden tests for the rate limiting kata: axum's real stack in front of a real Redis. Each
//! test gets its own key namespace, and the limiter's client logs in as a Redis user that may
//! only touch keys under it. Windows end when Redis expires the key: the tests watch the key,
//! never a clock of their own.
//!
//! Rules (README) -> tests:
//! - client key: API key as sent (case kept), else peer IP without port (IPv4, IPv6; never
//!   X-Forwarded-For), empty key ignored, "anonymous" ->
//!   `the_client_key_is_the_api_key_else_the_peer_ip`
//! - allowed: handler's body, Limit, Remaining 4 then 3, Reset 1..=45 ->
//!   `allowed_responses_carry_the_ratelimit_headers`
//! - 429 + Retry-After (rounded up), Remaining 0, Reset = Retry-After ->
//!   `requests_past_the_limit_get_429_with_retry_after`
//! - Reset / Retry-After count down the time left, rounded up ->
//!   `the_reset_counts_down_the_time_left_in_the_window`
//! - counter key and integer, PTTL within the window, never -1 ->
//!   `the_counter_lives_under_the_prefix_and_expires_with_the_window`
//! - a new window expires exactly one window later (ms) ->
//!   `a_new_window_lasts_exactly_the_window_to_the_millisecond`
//! - atomic counting -> `a_hundred_concurrent_requests_let_exactly_the_limit_through`
//! - shared budget across instances -> `two_instances_sharing_redis_share_one_budget`
//! - separate budgets -> `different_clients_do_not_share_a_budget`
//! - window ends with the key -> `the_window_recovers_when_its_key_expires`
//! - expiry never moved -> `steady_traffic_does_not_push_the_end_of_the_window_back`
//! - fail open, no RateLimit headers, a warning logged -> `when_redis_is_down_requests_are_let_through`
//! - no retry loop -> `connecting_to_redis_is_not_retried_with_back_off`
//! - bounded by REDIS_TIMEOUT -> `a_redis_that_never_answers_does_not_hang_requests`
//! - ConnectInfo over a real socket -> `the_limit_holds_per_peer_ip_over_a_real_socket`
//! - one connection shared by every request ->
//!   `connection::every_request_shares_one_connection_to_redis`

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use kata_testkit::TestRedis;
use rate_limiting::{
    API_KEY, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET, app, client_key,
};
use redis::AsyncCommands;

#[path = "rate_limiting/connection.rs"]
mod connection;
#[path = "rate_limiting/support.rs"]
mod support;

use support::*;

#[test]
fn the_client_key_is_the_api_key_else_the_peer_ip() {
    let peer: SocketAddr = "203.0.113.7:51234".parse().expect("a valid address");
    let mut with_key = HeaderMap::new();
    with_key.insert(API_KEY, "alice".parse().expect("a valid header"));
    let mut empty_key = HeaderMap::new();
    empty_key.insert(API_KEY, "".parse().expect("a valid header"));
    let mut mixed_case = HeaderMap::new();
    mixed_case.insert(API_KEY, "AbC-9x".parse().expect("a valid header"));
    // Only a trusted proxy's X-Forwarded-For names the client (kata 23); here anyone can send one.
    let mut forwarded = HeaderMap::new();
    forwarded.insert(
        "x-forwarded-for",
        "198.51.100.9".parse().expect("a valid header"),
    );

    let (none, ip) = (HeaderMap::new(), "ip:203.0.113.7");
    let v6: SocketAddr = "[2001:db8::7]:443".parse().expect("a valid address");
    let cases = [
        (
            "an IPv6 peer",
            client_key(&none, Some(v6)),
            "ip:2001:db8::7",
        ),
        ("an API key", client_key(&with_key, Some(peer)), "key:alice"),
        (
            "an API key in mixed case (keys are case-sensitive)",
            client_key(&mixed_case, Some(peer)),
            "key:AbC-9x",
        ),
        (
            "an X-Forwarded-For header the client made up",
            client_key(&forwarded, Some(peer)),
            ip,
        ),
        ("no API key", client_key(&none, Some(peer)), ip),
        ("an empty API key", client_key(&empty_key, Some(peer)), ip),
        ("nothing known", client_key(&none, None), "anonymous"),
    ];

    for (what, got, expected) in cases {
        assert_eq!(got, expected, "with {what}: the client key");
    }
}

#[tokio::test]
async fn allowed_responses_carry_the_ratelimit_headers() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 5, LONG));

    let first = key_of(&app, "alice").await;
    let second = key_of(&app, "alice").await;

    assert_status(&first, 200, "the first request");
    assert_eq!(first.text(), "hello\n", "expected the handler's body");
    let numbers =
        |reply: &Reply| [RATELIMIT_LIMIT, RATELIMIT_REMAINING].map(|name| number(reply, &name));
    assert_eq!(
        numbers(&first),
        [5, 4],
        "RateLimit-Limit and -Remaining after 1 of 5"
    );
    assert_eq!(
        numbers(&second),
        [5, 3],
        "RateLimit-Limit and -Remaining after 2 of 5"
    );
    let reset = number(&first, &RATELIMIT_RESET);
    assert!(
        (1..=45).contains(&reset),
        "expected RateLimit-Reset in whole seconds (1 to 45 for a 45 s window), got {reset}"
    );
}

#[tokio::test]
async fn requests_past_the_limit_get_429_with_retry_after() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 3, LONG));
    for n in 1..=3 {
        let reply = key_of(&app, "alice").await;
        assert_status(&reply, 200, &format!("request {n} of 3"));
    }

    let refused = key_of(&app, "alice").await;
    let again = key_of(&app, "alice").await;

    let left_ms = r.pttl(&counter(&r, "key:alice")).await;
    for (what, reply) in [("the 4th request", &refused), ("the 5th request", &again)] {
        assert_status(reply, 429, what);
        let retry_after = reply.header_value(&header::RETRY_AFTER);
        let retry_after = retry_after.unwrap_or_else(|| {
            panic!("{what}: a 429 must say when to retry (Retry-After), it has no such header")
        });
        let seconds: u64 = retry_after.parse().unwrap_or_else(|_| {
            panic!("{what}: expected Retry-After in whole seconds, got {retry_after:?}")
        });
        let at_least = (left_ms.max(0) as u64).div_ceil(1000).max(1);
        assert!(
            (at_least..=45).contains(&seconds),
            "{what}: the window ends in {left_ms} ms, so Retry-After must be {at_least} to 45 \
             seconds (rounded up), got {seconds}"
        );
        assert_eq!(
            number(reply, &RATELIMIT_REMAINING),
            0,
            "{what}: RateLimit-Remaining"
        );
        assert_eq!(
            number(reply, &RATELIMIT_LIMIT),
            3,
            "{what}: RateLimit-Limit"
        );
        let reset = number(reply, &RATELIMIT_RESET);
        assert_eq!(
            reset, seconds,
            "{what}: RateLimit-Reset must equal Retry-After"
        );
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_requests_let_exactly_the_limit_through() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 10, LONG));
    let start = Arc::new(tokio::sync::Barrier::new(100));

    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (app, start) = (app.clone(), start.clone());
        calls.spawn(async move {
            start.wait().await;
            key_of(&app, "alice").await
        });
    }
    let replies = calls.join_all().await;

    let allowed: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    let refused = replies
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS);
    let (allowed_n, refused_n) = (allowed.len(), refused.count());
    assert_eq!(
        (allowed_n, refused_n),
        (10, 90),
        "100 concurrent requests against a limit of 10: expected 10 allowed and 90 refused, \
         got {allowed_n} allowed and {refused_n} refused"
    );
    let mut remaining: Vec<u64> = allowed
        .iter()
        .map(|r| number(r, &RATELIMIT_REMAINING))
        .collect();
    remaining.sort_unstable();
    assert_eq!(
        remaining,
        (0..10).collect::<Vec<u64>>(),
        "each allowed request must see its own count: RateLimit-Remaining 9, 8, ... 0 once each"
    );
}

#[tokio::test]
async fn two_instances_sharing_redis_share_one_budget() {
    let r = TestRedis::new().await;
    let (one, two) = (app(limiter(&r, 4, LONG)), app(limiter(&r, 4, LONG)));

    let mut statuses = Vec::new();
    for app in [&one, &two, &one, &two, &one, &two] {
        statuses.push(key_of(app, "alice").await.status.as_u16());
    }

    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "two app instances over one Redis, limit 4: alternating requests must spend one budget"
    );
}

#[tokio::test]
async fn different_clients_do_not_share_a_budget() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 2, LONG));
    for _ in 0..3 {
        key_of(&app, "alice").await;
        get(&app, None, "10.0.0.1").await;
    }

    let bob = key_of(&app, "bob").await;
    let other_ip = get(&app, None, "10.0.0.2").await;
    let key_from_spent_ip = get(&app, Some("carol"), "10.0.0.1").await;
    let alice = key_of(&app, "alice").await;

    for (what, reply) in [
        ("API key bob after alice spent hers", &bob),
        ("IP 10.0.0.2 after 10.0.0.1 spent its budget", &other_ip),
        (
            "API key carol from the spent IP 10.0.0.1",
            &key_from_spent_ip,
        ),
    ] {
        assert_status(reply, 200, what);
        assert_eq!(
            number(reply, &RATELIMIT_REMAINING),
            1,
            "{what}: RateLimit-Remaining"
        );
    }
    assert_status(&alice, 429, "alice past her limit");
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

#[tokio::test]
async fn when_redis_is_down_requests_are_let_through() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let port = closed.expect("a free port").port();
    let app = app(limiter_at(&format!("redis://127.0.0.1:{port}"), 1));
    let warnings = Arc::new(AtomicUsize::new(0));
    let _logging = tracing::subscriber::set_default(Warnings(warnings.clone()));

    for n in 1..=3 {
        let reply = key_of(&app, "alice").await;

        let what = format!("request {n} with Redis down (limit 1)");
        assert_status(&reply, 200, &what);
        assert_eq!(
            reply.text(),
            "hello\n",
            "{what}: expected the handler's body"
        );
        let claimed = reply.header_value(&RATELIMIT_REMAINING);
        assert_eq!(
            claimed, None,
            "{what}: with no count there is no RateLimit-Remaining"
        );
    }
    assert!(
        warnings.load(SeqCst) > 0,
        "expected the limiter to log a warning (tracing::warn!) when Redis is down, so \
         someone notices that requests go unlimited, but nothing was logged"
    );
}

#[tokio::test]
async fn connecting_to_redis_is_not_retried_with_back_off() {
    let (port, attempts, server) = dropping_redis().await;
    let app = app(limiter_at(&format!("redis://127.0.0.1:{port}"), 1));

    let reply = key_of(&app, "alice").await;
    server.abort();

    assert_status(&reply, 200, "a request while Redis drops every connection");
    let attempts = attempts.load(SeqCst);
    assert!(
        attempts <= 4,
        "expected at most 4 connection attempts for one request while Redis drops every \
         connection, but it saw {attempts}: a retry loop with back-off stalls every request \
         while Redis is down (no retries)"
    );
}

#[tokio::test]
async fn a_redis_that_never_answers_does_not_hang_requests() {
    let (port, silent) = kata_testkit::redis::silent_server().await;
    let app = app(limiter_at(&format!("redis://127.0.0.1:{port}"), 1));

    let reply = key_of(&app, "alice").await;
    silent.abort();

    assert_status(&reply, 200, "a request while Redis never answers");
}

#[tokio::test]
async fn the_limit_holds_per_peer_ip_over_a_real_socket() {
    let r = TestRedis::new().await;
    let server = kata_testkit::http::serve(app(limiter(&r, 2, LONG))).await;

    let mut responses = Vec::new();
    for _ in 0..3 {
        responses.push(get_over_tcp(server.addr).await);
    }
    drop(server);

    let status = |response: &str| response.lines().next().unwrap_or("").to_owned();
    for (n, response) in responses.iter().enumerate().take(2) {
        assert!(
            status(response).contains(" 200 ") && response.contains("ratelimit-remaining: "),
            "request {} of 2 over TCP: expected 200 with RateLimit headers, got:\n{response}",
            n + 1
        );
    }
    let refused = &responses[2];
    assert!(
        status(refused).contains(" 429 ") && refused.contains("\r\nretry-after: "),
        "the 3rd request from 127.0.0.1: expected 429 with Retry-After, got:\n{refused}"
    );
    let count: Option<i64> = r
        .admin()
        .await
        .get(counter(&r, "ip:127.0.0.1"))
        .await
        .expect("GET");
    assert_eq!(
        count,
        Some(3),
        "expected the peer's counter (\"ip:127.0.0.1\") to hold 3"
    );
}
