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
//!   `window::the_reset_counts_down_the_time_left_in_the_window`
//! - counter key and integer, PTTL within the window, never -1 ->
//!   `window::the_counter_lives_under_the_prefix_and_expires_with_the_window`
//! - a new window expires exactly one window later (ms) ->
//!   `window::a_new_window_lasts_exactly_the_window_to_the_millisecond`
//! - atomic counting -> `a_hundred_concurrent_requests_let_exactly_the_limit_through`
//! - shared budget across instances -> `two_instances_sharing_redis_share_one_budget`
//! - separate budgets -> `different_clients_do_not_share_a_budget`
//! - window ends with the key -> `window::the_window_recovers_when_its_key_expires`
//! - expiry never moved -> `window::steady_traffic_does_not_push_the_end_of_the_window_back`
//! - fail open, no RateLimit headers, a warning logged -> `redis_failures::when_redis_is_down_requests_are_let_through`
//! - no retry loop -> `redis_failures::connecting_to_redis_is_not_retried_with_back_off`
//! - bounded by REDIS_TIMEOUT -> `redis_failures::a_redis_that_never_answers_does_not_hang_requests`;
//!   each reply too -> `redis_failures::a_redis_that_stops_answering_after_the_handshake_does_not_hang_requests`
//! - REDIS_TIMEOUT, no less: a reply -> `redis_failures::a_count_answered_within_redis_timeout_is_waited_for`,
//!   connecting -> `redis_failures::a_connection_set_up_within_redis_timeout_is_waited_for`
//! - counting is one step (a connection dropped after the first command) ->
//!   `redis_failures::a_connection_dropped_right_after_the_count_leaves_no_counter_without_its_expiry`
//! - ConnectInfo over a real socket -> `the_limit_holds_per_peer_ip_over_a_real_socket`
//! - one connection shared by every request ->
//!   `connection::every_request_shares_one_connection_to_redis`

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use kata_testkit::TestRedis;
use rate_limiting::{
    API_KEY, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET, app, client_key,
};
use redis::AsyncCommands;

#[path = "rate_limiting/connection.rs"]
mod connection;
#[path = "rate_limiting/redis_failures.rs"]
mod redis_failures;
#[path = "rate_limiting/support.rs"]
mod support;
#[path = "rate_limiting/window.rs"]
mod window;

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
