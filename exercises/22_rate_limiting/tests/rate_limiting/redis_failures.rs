//! Redis down, refusing connections or silent: requests go through, in bounded time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use rate_limiting::{RATELIMIT_REMAINING, app};

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
