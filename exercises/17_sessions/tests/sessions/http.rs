//! The axum side: `POST /login` sets the cookie, `GET /me` reads it. Driven through the real
//! `Router` with `oneshot`, and once over a real TCP socket.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use kata_testkit::TestRedis;
use kata_testkit::http::{self, Reply};
use sessions::{SessionStore, app};

async fn send(store: &Arc<SessionStore>, request: Request<Body>) -> Reply {
    http::send(&app(store.clone()), request).await
}

async fn post_login(store: &Arc<SessionStore>, user: &str, cookie: Option<&str>) -> Reply {
    let mut request = Request::post("/login").header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let body = format!(r#"{{"user_id":"{user}"}}"#);
    send(
        store,
        request.body(Body::from(body)).expect("a valid request"),
    )
    .await
}

async fn get_me(store: &Arc<SessionStore>, cookie: Option<&str>) -> Reply {
    let mut request = Request::get("/me");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    send(store, request.body(Body::empty()).expect("a valid request")).await
}

/// The session id from a login reply's `Set-Cookie`, after checking its attributes.
fn session_id(reply: &Reply) -> String {
    let header = reply.header_value(header::SET_COOKIE);
    let header = header.unwrap_or_else(|| {
        panic!(
            "expected a Set-Cookie header from POST /login (status {})",
            reply.status
        )
    });
    let cookie = cookie::Cookie::parse(header).unwrap_or_else(|e| {
        panic!("expected a valid Set-Cookie, but {header:?} does not parse: {e}")
    });
    let attributes = (
        cookie.name(),
        cookie.http_only(),
        cookie.secure(),
        cookie.same_site(),
        cookie.path(),
    );
    let want = (
        "session",
        Some(true),
        Some(true),
        Some(cookie::SameSite::Lax),
        Some("/"),
    );
    assert_eq!(
        attributes, want,
        "expected (name, HttpOnly, Secure, SameSite, Path) from {header:?}"
    );
    cookie.value().to_owned()
}

#[tokio::test]
async fn login_sets_the_session_cookie_and_me_reads_it() {
    let r = TestRedis::new().await;
    let store = Arc::new(crate::store(&r).await);

    let login = post_login(&store, "alice", None).await;
    let id = session_id(&login);
    let me = get_me(&store, Some(&format!("theme=dark; session={id}; lang=en"))).await;
    let anonymous = store.start_anonymous().await.expect("an anonymous session");

    assert_eq!(
        login.status,
        StatusCode::NO_CONTENT,
        "expected 204 from POST /login"
    );
    assert_eq!(
        (me.status, &*me.text()),
        (StatusCode::OK, "alice"),
        "expected GET /me to answer 200 with the user id"
    );
    let refused = [
        None,
        Some("theme=dark".to_owned()),
        Some(format!("session={}", sessions::new_session_id())),
        Some(format!("session={anonymous}")),
        Some("session=../../x".to_owned()),
    ];
    for cookie in refused {
        let me = get_me(&store, cookie.as_deref()).await;
        assert_eq!(
            me.status,
            StatusCode::UNAUTHORIZED,
            "expected 401 from GET /me with the Cookie header {cookie:?}"
        );
    }
}

#[tokio::test]
async fn me_finds_the_session_cookie_in_any_of_several_cookie_headers() {
    let r = TestRedis::new().await;
    let store = Arc::new(crate::store(&r).await);
    let id = session_id(&post_login(&store, "alice", None).await);
    // HTTP/2 clients send each cookie in a Cookie header of its own (RFC 9113, 8.2.3).
    let request = Request::get("/me")
        .header(header::COOKIE, "theme=dark")
        .header(header::COOKIE, format!("session={id}"))
        .body(Body::empty())
        .expect("a valid request");

    let me = send(&store, request).await;

    assert_eq!(
        (me.status, &*me.text()),
        (StatusCode::OK, "alice"),
        "expected GET /me to find the session cookie in the second of two Cookie headers \
         (`Cookie: theme=dark`, then `Cookie: session=...`): read every Cookie header"
    );
}

#[tokio::test]
async fn logging_in_over_http_with_a_session_cookie_rotates_it() {
    let r = TestRedis::new().await;
    let store = Arc::new(crate::store(&r).await);
    let planted = store.start_anonymous().await.expect("an anonymous session");

    let login = post_login(&store, "alice", Some(&format!("session={planted}"))).await;
    let id = session_id(&login);

    assert_ne!(
        id, planted,
        "expected a new session id after the login, not the one the request carried"
    );
    let old = get_me(&store, Some(&format!("session={planted}"))).await;
    assert_eq!(
        old.status,
        StatusCode::UNAUTHORIZED,
        "expected the pre-login id to be worthless after the login"
    );
    assert_eq!(
        store.lookup(&planted).await.ok(),
        Some(None),
        "expected the pre-login session destroyed"
    );
}

#[tokio::test]
async fn the_cookie_round_trips_over_a_real_socket() {
    let r = TestRedis::new().await;
    let store = Arc::new(crate::store(&r).await);
    let server = http::serve(app(store)).await;
    let body = r#"{"user_id":"alice"}"#;

    let login = http::raw(
        server.addr,
        "POST /login HTTP/1.1\r\nContent-Type: application/json",
        body,
    )
    .await;
    let set_cookie = login.lines().find_map(|line| {
        line.split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
    });
    let cookie = set_cookie
        .map(|(_, value)| value.trim())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default();
    let me = http::raw(
        server.addr,
        &format!("GET /me HTTP/1.1\r\nCookie: {cookie}"),
        "",
    )
    .await;

    assert!(
        login.starts_with("HTTP/1.1 204") && cookie.starts_with("session="),
        "expected `HTTP/1.1 204` with a session cookie, but got {login:?}"
    );
    assert!(
        me.starts_with("HTTP/1.1 200") && me.ends_with("\r\n\r\nalice"),
        "expected `HTTP/1.1 200` with body `alice`, but got {me:?}"
    );
}

#[tokio::test]
async fn a_redis_failure_is_a_500() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let closed_port = closed.expect("a free port").port();
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{closed_port}")).expect("a valid URL");
    let redis = redis::aio::ConnectionManager::new_lazy_with_config(client, crate::config())
        .expect("a lazy manager");
    let store = Arc::new(SessionStore::new(redis, "kata_down", crate::TTL));

    let login = post_login(&store, "alice", None).await;
    let cookie = format!("session={}", sessions::new_session_id());
    let me = get_me(&store, Some(&cookie)).await;

    assert_eq!(
        login.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "expected 500 from POST /login while Redis is down"
    );
    assert_eq!(
        me.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "expected 500 from GET /me with a well-formed session cookie while Redis is down (not \
         401: the session may well exist)"
    );
}
