//! The axum guard: 401 with a Bearer challenge, 403 without the role, the claims in the
//! handler, through axum's real stack.

use super::*;

#[derive(Clone)]
struct AppState {
    jwt: JwtConfig,
}

impl FromRef<AppState> for JwtConfig {
    fn from_ref(state: &AppState) -> Self {
        state.jwt.clone()
    }
}

async fn me(AuthUser(claims): AuthUser) -> String {
    claims.sub
}

async fn admin(user: AuthUser) -> Result<String, AuthError> {
    user.require_role("admin")?;
    Ok(format!("welcome, admin {}", user.0.sub))
}

fn app() -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .with_state(AppState { jwt: config() })
}

fn wall_clock() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
    since_epoch.expect("a clock after 1970").as_secs()
}

/// Sends GET `path` through the router, with `Authorization: <authorization>` if given.
async fn call(path: &str, authorization: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    http::send(
        &app(),
        request.body(Body::empty()).expect("a valid request"),
    )
    .await
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_and_a_bearer_challenge() {
    let token = issue_at(&config(), &["admin"], wall_clock());
    let other_schemes = ["Basic", "Token", "NotBearer"].map(|scheme| format!("{scheme} {token}"));
    let cases = [None, Some("Basic YWxpY2U6c2VjcmV0")]
        .into_iter()
        .chain(other_schemes.iter().map(|value| Some(value.as_str())));

    for authorization in cases {
        let reply = call("/me", authorization).await;

        let (status, challenge) = (reply.status, reply.header(header::WWW_AUTHENTICATE));
        assert!(
            status == StatusCode::UNAUTHORIZED && challenge == "Bearer",
            "expected 401 with `WWW-Authenticate: Bearer` and no error code (RFC 6750 §3.1) for \
             Authorization {authorization:?}, but got {status} with {challenge:?}"
        );
    }
}

#[tokio::test]
async fn an_invalid_token_gets_401_with_error_invalid_token() {
    let expired = issue_at(&config(), &["admin"], wall_clock() - 2 * TTL);
    let valid = issue_at(&config(), &[], wall_clock());
    let (message, _) = valid.rsplit_once('.').expect("expected a token with dots");
    let unsigned = format!("{message}.");
    let mut billing = config();
    billing.audience = "billing-api".to_owned();
    let for_billing = issue_at(&billing, &[], wall_clock());
    let mut forger = config();
    forger.secret = b"another-32-byte-secret-entirely!!".to_vec();
    let forged = issue_at(&forger, &["admin"], wall_clock());
    let tokens = [
        &*expired,
        &*unsigned,
        "not-a-jwt",
        "",
        &*for_billing,
        &*forged,
    ];

    for token in tokens {
        let reply = call("/me", bearer(token).as_deref()).await;

        let (status, challenge) = (reply.status, reply.header(header::WWW_AUTHENTICATE));
        assert!(
            status == StatusCode::UNAUTHORIZED && challenge == r#"Bearer error="invalid_token""#,
            "expected 401 with `WWW-Authenticate: Bearer error=\"invalid_token\"` for the token \
             {token:?}, but got {status} with {challenge:?}"
        );
    }
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_its_claims() {
    let token = issue_at(&config(), &[], wall_clock());

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let reply = call("/me", Some(&format!("{scheme} {token}"))).await;

        let got = (reply.status, &*reply.text());
        let want = (StatusCode::OK, "alice");
        assert_eq!(
            got, want,
            "expected 200 with the subject (scheme {scheme:?})"
        );
    }
}

#[tokio::test]
async fn a_valid_token_without_the_required_role_gets_403_and_with_it_200() {
    let admin = issue_at(&config(), &["reader", "admin"], wall_clock());
    let allowed = call("/admin", bearer(&admin).as_deref()).await;
    assert_eq!(
        (allowed.status, &*allowed.text()),
        (StatusCode::OK, "welcome, admin alice"),
        "expected the roles [\"reader\", \"admin\"] to reach the admin handler"
    );

    let lookalikes: [&[&str]; 3] = [&["reader"], &[], &["administrator", "superadmin"]];
    for roles in lookalikes {
        let token = issue_at(&config(), roles, wall_clock());

        let denied = call("/admin", bearer(&token).as_deref()).await;

        assert_eq!(
            denied.status,
            StatusCode::FORBIDDEN,
            "expected 403 for a valid token with the roles {roles:?} on a route requiring \"admin\""
        );
    }
}

/// A raw HTTP/1.1 GET over TCP; returns the whole response (the server closes the connection).
async fn raw_get(addr: SocketAddr, path: &str, token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("\r\nAuthorization: Bearer {t}"));
    http::raw(addr, &format!("GET {path} HTTP/1.1{auth}"), "").await
}

#[tokio::test]
async fn the_guard_works_over_a_real_socket() {
    let server = http::serve(app()).await;
    let addr = server.addr;
    let token = issue_at(&config(), &[], wall_clock());

    let allowed = raw_get(addr, "/me", Some(&token)).await;
    let denied = raw_get(addr, "/me", None).await.to_ascii_lowercase();

    assert!(
        allowed.starts_with("HTTP/1.1 200") && allowed.ends_with("\r\n\r\nalice"),
        "expected `HTTP/1.1 200` with body `alice`, but got {allowed:?}"
    );
    assert!(
        denied.starts_with("http/1.1 401") && denied.contains("\r\nwww-authenticate: bearer"),
        "expected `HTTP/1.1 401` with `WWW-Authenticate: Bearer`, but got {denied:?}"
    );
}
