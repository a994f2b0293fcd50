//! Hidden tests for the production server kata: configuration from a map of variables, the
//! middleware stack through `oneshot`, probes against real and unreachable Postgres/Redis, and
//! graceful shutdown over a real socket, ordered by channels the test controls.
//!
//! Rules -> tests: complete env, unrelated vars, spaces in TRUSTED_PROXIES ->
//! config::a_complete_...; defaults, empty = unset -> config::unset_and_empty_...; six errors at
//! once, in order, quoting values, PORT 0/65536/80.5, BODY_LIMIT_BYTES 0 ->
//! config::every_config_problem_...; every scheme (rediss too), PORT 1 and 65535, "contains" is
//! not "starts with" -> config::every_listed_url_scheme_...; the refusal's message, one line per
//! problem `VAR: problem` -> config::the_config_errors_message_...; /healthz 200 `ok` without
//! deps -> healthz_...; /readyz 200 / 503 naming each -> readyz_...; both checks within
//! READY_TIMEOUT in all -> readyz_gives_up_on_dependencies_that_never_answer_...; 503 on timeout ->
//! a_handler_...; 413 past the limit, with or without Content-Length -> a_body_over_the_limit_...;
//! a 3 MiB limit, not axum's 2 MB default -> a_limit_above_axums_2_mb_default_...;
//! untrusted peer -> an_untrusted_peer_...; right-most untrusted hop, several lines, IPv6,
//! garbage stops, all trusted -> behind_trusted_proxies_...; over a socket ->
//! the_client_ip_is_resolved_...; graceful shutdown -> graceful_shutdown_finishes_...

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get as route_get;
use kata_testkit::{TestDb, TestRedis};
use production_server::{Config, READY_TIMEOUT, Readiness, app, production_layers, serve};
use tokio::sync::oneshot;

#[path = "production_server/config.rs"]
mod config;
#[path = "production_server/support.rs"]
mod support;

use support::*;

#[tokio::test]
async fn healthz_answers_200_without_touching_the_dependencies() {
    let app = app(state_down(config()));

    let reply = get(&app, "/healthz").await;

    assert_eq!(
        reply.status,
        StatusCode::OK,
        "liveness with Postgres and Redis down must still be 200 (the process is alive), \
         got {} {:?}",
        reply.status,
        reply.text()
    );
    assert_eq!(
        reply.text().trim_end(),
        "ok",
        "liveness answers the body ok (a trailing newline allowed), got {:?}",
        reply.text()
    );
}

#[tokio::test]
async fn readyz_is_200_when_postgres_and_redis_answer() {
    let (db, r) = (TestDb::empty().await, TestRedis::new().await);
    let app = app(state_with(Some(&db), Some(&r)).await);

    let (status, body) = readiness(&app).await;

    let ready = Readiness {
        status: "ready".into(),
        failed: Vec::new(),
    };
    assert_eq!(
        (status, body),
        (StatusCode::OK, ready),
        "/readyz with both up"
    );
}

#[tokio::test]
async fn readyz_is_503_naming_each_dependency_that_is_down() {
    let (db, r) = (TestDb::empty().await, TestRedis::new().await);
    let cases = [
        (
            "Postgres down",
            state_with(None, Some(&r)).await,
            vec!["postgres"],
        ),
        (
            "Redis down",
            state_with(Some(&db), None).await,
            vec!["redis"],
        ),
        (
            "both down",
            state_with(None, None).await,
            vec!["postgres", "redis"],
        ),
    ];

    for (what, state, failed) in cases {
        let (status, body) = readiness(&app(state)).await;

        let failed = failed.into_iter().map(String::from).collect();
        let expected = Readiness {
            status: "unavailable".into(),
            failed,
        };
        assert_eq!(
            (status, body),
            (StatusCode::SERVICE_UNAVAILABLE, expected),
            "/readyz with {what}"
        );
    }
}

// On a paused clock (see `kata_testkit::silent`): the elapsed time measured is exact, however
// loaded the machine.
#[tokio::test(start_paused = true)]
async fn readyz_gives_up_on_dependencies_that_never_answer_after_ready_timeout() {
    // Both accept connections and never write a byte back: a frozen server, a dead path.
    let (postgres_port, silent_postgres) = kata_testkit::silent::silent_server().await;
    let (redis_port, silent_redis) = kata_testkit::silent::silent_server().await;
    let mut state = state_down(config());
    // It would wait a minute for a connection: only the probe's own bound stops it.
    state.db = kata_testkit::silent::silent_pool(postgres_port);
    state.redis =
        redis::Client::open(format!("redis://127.0.0.1:{redis_port}")).expect("a valid Redis URL");
    let app = app(state);

    // Both bounded together: two checks run one after the other would take twice as long.
    // The clock is paused, so the margin is exact, not slack for a loaded machine.
    let bound = READY_TIMEOUT + Duration::from_millis(500);
    let answered = tokio::time::timeout(bound, readiness(&app)).await;
    silent_postgres.abort();
    silent_redis.abort();

    let (status, body) = answered.unwrap_or_else(|_| {
        panic!(
            "expected /readyz to give up on a Postgres and a Redis that never answer after at \
             most READY_TIMEOUT ({READY_TIMEOUT:?}) in all, but it was still waiting after \
             {bound:?}: is each check wrapped in a timeout of its own (not left to the pool's or \
             the client's), and do the two run at the same time, not one after the other?"
        )
    });
    let expected = Readiness {
        status: "unavailable".into(),
        failed: vec!["postgres".into(), "redis".into()],
    };
    assert_eq!(
        (status, body),
        (StatusCode::SERVICE_UNAVAILABLE, expected),
        "/readyz with a Postgres and a Redis that never answer"
    );
}

#[tokio::test]
async fn a_handler_slower_than_the_timeout_gets_503() {
    let config = Config {
        request_timeout: Duration::from_millis(200),
        ..config()
    };
    let routes = Router::new()
        .route("/stuck", route_get(std::future::pending::<&'static str>))
        .route("/quick", route_get(|| async { "quick" }));
    let app = production_layers(routes, &config);

    let stuck = get(&app, "/stuck").await;
    let quick = get(&app, "/quick").await;

    assert_eq!(
        stuck.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a handler that never finishes must get 503 after the 200 ms timeout"
    );
    assert_eq!(
        quick.status,
        StatusCode::OK,
        "a quick handler under the timeout"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_and_one_at_the_limit_is_accepted() {
    let app = app(state_down(config()));
    let upload = |size: usize, declared: bool| {
        let mut request = Request::post("/upload");
        if declared {
            request = request.header(header::CONTENT_LENGTH, size);
        }
        request
            .body(Body::from(vec![b'x'; size]))
            .expect("a valid request")
    };

    for declared in [true, false] {
        let how = if declared { "with" } else { "without" };
        let at_limit = send(&app, upload(1024, declared)).await;
        let over = send(&app, upload(1025, declared)).await;

        let what = format!("1024 bytes (the limit) {how} Content-Length");
        assert_eq!(
            at_limit.status,
            StatusCode::OK,
            "{what}: {:?}",
            at_limit.text()
        );
        assert_eq!(at_limit.text(), "1024", "{what}: the bytes received");
        assert_eq!(
            over.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "1025 bytes {how} Content-Length, over the 1024-byte limit"
        );
    }
}

#[tokio::test]
async fn a_limit_above_axums_2_mb_default_is_the_one_that_applies() {
    // 3 MiB: above the 2 MB that axum's body extractors refuse by default.
    const LIMIT: usize = 3 * 1024 * 1024;
    let app = app(state_down(Config {
        body_limit_bytes: LIMIT,
        ..config()
    }));
    let upload = |size: usize| {
        Request::post("/upload")
            .header(header::CONTENT_LENGTH, size)
            .body(Body::from(vec![b'x'; size]))
            .expect("a valid request")
    };

    let at_limit = send(&app, upload(LIMIT)).await;
    let over = send(&app, upload(LIMIT + 1)).await;

    assert_eq!(
        (at_limit.status, at_limit.text().into_owned()),
        (StatusCode::OK, LIMIT.to_string()),
        "expected {LIMIT} bytes (the configured 3 MiB limit) to be accepted and counted: is \
         axum's own 2 MB default body limit still on top of it (DefaultBodyLimit::disable())?"
    );
    assert_eq!(
        over.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{} bytes, over the configured 3 MiB limit",
        LIMIT + 1
    );
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_its_ip_with_x_forwarded_for() {
    let seen = ip_seen(&["10.0.0.1"], "198.51.100.4", &["203.0.113.9"]).await;
    let direct = ip_seen(&[], "198.51.100.4", &["10.0.0.1, 203.0.113.9"]).await;

    let msg = "a peer that is not a trusted proxy is the client, whatever X-Forwarded-For says";
    assert_eq!(seen, "198.51.100.4", "{msg}");
    assert_eq!(direct, "198.51.100.4", "{msg} (no proxy trusted)");
}

#[tokio::test]
async fn behind_trusted_proxies_the_client_is_the_right_most_untrusted_hop() {
    let trusted = ["10.0.0.1", "10.0.0.2"];
    let cases: [(&str, &[&str], &str); 8] = [
        ("one hop", &["203.0.113.9"], "203.0.113.9"),
        (
            "a spoofed left-most hop",
            &["6.6.6.6, 203.0.113.9"],
            "203.0.113.9",
        ),
        (
            "two proxies",
            &["6.6.6.6, 203.0.113.9, 10.0.0.2"],
            "203.0.113.9",
        ),
        (
            "two header lines",
            &["6.6.6.6", "203.0.113.9"],
            "203.0.113.9",
        ),
        ("IPv6", &["2001:db8::7"], "2001:db8::7"),
        ("no header", &[], "10.0.0.1"),
        (
            "garbage at the right",
            &["203.0.113.9, not-an-ip"],
            "10.0.0.1",
        ),
        ("only proxies", &["10.0.0.2"], "10.0.0.2"),
    ];

    for (what, forwarded, expected) in cases {
        let seen = ip_seen(&trusted, "10.0.0.1", forwarded).await;

        assert_eq!(
            seen, expected,
            "{what}: X-Forwarded-For {forwarded:?} through trusted 10.0.0.1 and 10.0.0.2"
        );
    }
}

#[tokio::test]
async fn the_client_ip_is_resolved_over_a_real_socket() {
    let mut seen = Vec::new();
    for trusted in [vec!["127.0.0.1".parse().unwrap()], Vec::new()] {
        let state = state_down(Config {
            trusted_proxies: trusted,
            ..config()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("a bound address");
        let server = tokio::spawn(serve(listener, app(state), std::future::pending()));
        let xff = "X-Forwarded-For: 6.6.6.6, 203.0.113.9\r\n";
        let response = get_over_tcp(addr, "/ip", xff).await;
        server.abort();
        let (_, body) = response.split_once("\r\n\r\n").unwrap_or(("", &response));
        seen.push(body.trim().to_owned());
    }

    assert_eq!(
        seen,
        ["203.0.113.9", "127.0.0.1"],
        "over TCP from 127.0.0.1: the right-most X-Forwarded-For hop when 127.0.0.1 is a trusted \
         proxy, else the peer itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_finishes_the_request_in_flight_and_refuses_new_ones() {
    let Parked {
        app,
        mut started,
        gate,
        finished,
    } = parked_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("a bound address");
    let (stop, stop_requested) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let result = serve(
            listener,
            app,
            async move { stop_requested.await.unwrap_or(()) },
        )
        .await;
        (result, finished.load(SeqCst))
    });

    let mut in_flight = tokio::net::TcpStream::connect(addr).await.expect("connect");
    write_get(&mut in_flight, "/slow", "").await;
    within("the slow handler to start", started.recv()).await;
    stop.send(()).expect("serve dropped its shutdown future");

    new_connections_go_unanswered(addr).await;
    assert!(
        !server.is_finished(),
        "serve returned while a request was still in flight: it must wait for it"
    );
    gate.send_replace(true);
    let response = read_all(&mut in_flight).await;
    let (result, handler_had_finished) = within("serve to return", server).await.expect("serve");

    assert!(
        response.starts_with("HTTP/1.1 200") && response.ends_with("slow done"),
        "the request in flight during shutdown must complete with 200, got:\n{response:?}"
    );
    assert!(
        result.is_ok(),
        "serve must return Ok after shutdown, got {result:?}"
    );
    assert!(
        handler_had_finished,
        "serve returned before the request in flight had finished"
    );
}
