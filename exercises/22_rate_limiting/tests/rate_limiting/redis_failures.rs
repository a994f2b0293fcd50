//! Redis down, refusing connections or silent: requests go through, in bounded time.
//!
//! Tests whose only server is an in-process fake run on a paused clock (`start_paused`; why:
//! `kata_testkit::silent`). Tests through `slow_proxy` talk to the real Redis and keep real time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use kata_testkit::TestRedis;
use kata_testkit::redis_fakes::{cutting_proxy, fake_redis, slow_proxy};
use kata_testkit::silent::silent_server;
use rate_limiting::{LimiterConfig, RATELIMIT_REMAINING, RateLimiter, app};

use super::support::*;

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
    // Accepts every connection and closes it at once: a Redis that is restarting, a proxy
    // with no backend.
    let dropping = fake_redis(|_| None).await;
    let app = app(limiter_at(dropping.url(), 1));

    let reply = key_of(&app, "alice").await;

    assert_status(&reply, 200, "a request while Redis drops every connection");
    let attempts = dropping.accepted();
    assert!(
        attempts <= 4,
        "expected at most 4 connection attempts for one request while Redis drops every \
         connection, but it saw {attempts}: a retry loop with back-off stalls every request \
         while Redis is down (no retries)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_redis_that_never_answers_does_not_hang_requests() {
    let (port, silent) = silent_server().await;
    let app = app(limiter_at(&format!("redis://127.0.0.1:{port}"), 1));

    let reply = key_of(&app, "alice").await;
    silent.abort();

    assert_status(&reply, 200, "a request while Redis never answers");
}

#[tokio::test(start_paused = true)]
async fn a_redis_that_stops_answering_after_the_handshake_does_not_hang_requests() {
    // Answers the connection's handshake, then no command: a Redis frozen by a long script or
    // a full disk, which a connect timeout alone does not bound.
    let frozen = fake_redis(|command| match command {
        "CLIENT" | "SELECT" | "AUTH" => Some((Duration::ZERO, "+OK\r\n".into())),
        _ => Some((Duration::from_secs(3600), "+OK\r\n".into())),
    })
    .await;
    let app = app(limiter_at(frozen.url(), 1));

    let reply = key_of(&app, "alice").await;

    assert_status(
        &reply,
        200,
        "a request while Redis answers the handshake and then never answers a command \
         (REDIS_TIMEOUT bounds each reply, not only connecting)",
    );
}

#[tokio::test]
async fn a_connection_dropped_right_after_the_count_leaves_no_counter_without_its_expiry() {
    let r = TestRedis::new().await;
    r.require_isolation();
    let proxy = cutting_proxy(&r, &counter(&r, "key:alice")).await;
    let config = LimiterConfig {
        limit: 5,
        window: LONG,
        prefix: r.key("rl"),
    };
    let app = app(RateLimiter::new(proxy.client.clone(), config));

    // The connection drops right after the first command naming the counter reaches Redis.
    key_of(&app, "alice").await;
    // Once Redis has closed the limiter's connection, it has run every command it received.
    let closed = tokio::time::timeout(HANG, async {
        while !r.learner_connections().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    closed
        .await
        .expect("Redis closes the limiter's connection once the proxy drops it");

    let pttl = r.pttl(&counter(&r, "key:alice")).await;
    assert!(
        pttl == -2 || pttl > 0,
        "expected the counter either counted with its expiry or not counted at all after the \
         connection dropped right after the count reached Redis, but it has no expiry (PTTL \
         {pttl}): this client is refused for good once it reaches the limit. INCR and \
         PEXPIRE must run as one step (a Lua script, or MULTI ... EXEC), not one command after \
         the other"
    );
}

/// A limiter for the test's Redis, seen through `proxy`'s client, with a limit of 5.
fn limiter_through(r: &TestRedis, client: redis::Client) -> RateLimiter {
    let config = LimiterConfig {
        limit: 5,
        window: LONG,
        prefix: r.key("rl"),
    };
    RateLimiter::new(client, config)
}

#[tokio::test]
async fn a_count_answered_within_redis_timeout_is_waited_for() {
    // The first command naming the counter reaches Redis 0.9 s late: within REDIS_TIMEOUT
    // (2 s), past the client's default response timeout (500 ms).
    let r = TestRedis::new().await;
    let key = counter(&r, "key:alice");
    let slow = slow_proxy(&r, &key, Duration::ZERO, Duration::from_millis(900)).await;
    let app = app(limiter_through(&r, slow.client.clone()));

    let reply = key_of(&app, "alice").await;

    assert_status(&reply, 200, "a request whose count Redis answers in 0.9 s");
    assert_eq!(
        reply.header_value(&RATELIMIT_REMAINING),
        Some("4"),
        "expected the limiter to wait up to REDIS_TIMEOUT (2 s) for a count answered in 0.9 s \
         and send RateLimit-Remaining: 4 of 5; it let the request through uncounted: is the \
         response timeout shorter? (the client's default is 500 ms)"
    );
}

#[tokio::test]
async fn a_connection_set_up_within_redis_timeout_is_waited_for() {
    // The connection's set-up (AUTH, CLIENT SETINFO) reaches Redis 1.4 s late: within
    // REDIS_TIMEOUT (2 s), past the client's default connection timeout (1 s).
    let r = TestRedis::new().await;
    let key = counter(&r, "key:alice");
    let slow = slow_proxy(&r, &key, Duration::from_millis(1400), Duration::ZERO).await;
    let app = app(limiter_through(&r, slow.client.clone()));

    let reply = key_of(&app, "alice").await;

    assert_status(
        &reply,
        200,
        "a request while connecting to Redis takes 1.4 s",
    );
    assert_eq!(
        reply.header_value(&RATELIMIT_REMAINING),
        Some("4"),
        "expected the limiter to wait up to REDIS_TIMEOUT (2 s) for a connection set up in \
         1.4 s and send RateLimit-Remaining: 4 of 5; it let the request through uncounted: is \
         the connection timeout shorter? (the client's default is 1 s)"
    );
}
