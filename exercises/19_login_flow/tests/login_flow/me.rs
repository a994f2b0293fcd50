//! `GET /me`: the bearer token, and every way a token is refused.

use axum::http::{StatusCode, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use super::support::*;

#[tokio::test]
async fn the_token_opens_me_and_no_token_is_a_401_with_a_bearer_challenge() {
    let kata = kata().await;
    let token = kata.token(ALICE, ALICE_PASSWORD).await;

    let allowed = send(kata.app(), me_request(Some(&format!("Bearer {token}")))).await;
    let missing = send(kata.app(), me_request(None)).await;
    let basic = send(kata.app(), me_request(Some("Basic YWxpY2U6c2VjcmV0"))).await;

    assert_eq!(
        allowed.status,
        StatusCode::OK,
        "expected 200, got {allowed:?}"
    );
    assert_eq!(
        allowed.json(),
        json!({ "id": kata.alice_id, "email": ALICE }),
        "expected /me to return Alice's id and email"
    );
    for reply in [missing, basic] {
        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            reply.status == StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer"),
            "expected 401 with `WWW-Authenticate: Bearer` without a bearer token, got {reply:?}"
        );
    }
}

#[tokio::test]
async fn forged_expired_and_garbage_tokens_are_401() {
    let kata = kata().await;
    let t = jsonwebtoken::get_current_timestamp();
    let claims = |iat: u64, exp: u64| json!({ "sub": kata.alice_id.to_string(), "email": ALICE, "iat": iat, "exp": exp });
    let sign = |alg, claims: serde_json::Value, secret: &[u8]| {
        let key = EncodingKey::from_secret(secret);
        jsonwebtoken::encode(&Header::new(alg), &claims, &key).expect("the test can sign")
    };
    let no_exp = json!({ "sub": kata.alice_id.to_string(), "email": ALICE, "iat": t });
    let cases = [
        (
            "another secret",
            sign(
                Algorithm::HS256,
                claims(t, t + 900),
                b"another-secret-of-32-bytes-long!!",
            ),
        ),
        (
            "expired an hour ago",
            sign(Algorithm::HS256, claims(t - 4500, t - 3600), SECRET),
        ),
        ("without exp", sign(Algorithm::HS256, no_exp, SECRET)),
        (
            "HS512 instead of HS256",
            sign(Algorithm::HS512, claims(t, t + 900), SECRET),
        ),
        ("garbage", "not-a-jwt".to_owned()),
    ];

    for (what, token) in cases {
        let reply = send(kata.app(), me_request(Some(&format!("Bearer {token}")))).await;

        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            reply.status == StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer"),
            "expected 401 with a `WWW-Authenticate: Bearer ...` challenge for a token {what}, got {reply:?}"
        );
    }
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_no_other_scheme_carries_the_token() {
    let kata = kata().await;
    let token = kata.token(ALICE, ALICE_PASSWORD).await;

    for scheme in ["bearer", "BEARER"] {
        let reply = send(kata.app(), me_request(Some(&format!("{scheme} {token}")))).await;

        assert_eq!(
            reply.status,
            StatusCode::OK,
            "expected the scheme to be case-insensitive (RFC 9110 §11.1): `{scheme} <token>` \
             should open /me, got {reply:?}"
        );
    }
    for scheme in ["Basic", "Token", "NotBearer", "Bearer-ish"] {
        let reply = send(kata.app(), me_request(Some(&format!("{scheme} {token}")))).await;

        let challenge = reply.header(header::WWW_AUTHENTICATE);
        assert!(
            reply.status == StatusCode::UNAUTHORIZED && challenge.starts_with("Bearer"),
            "expected 401 with a `WWW-Authenticate: Bearer` challenge for a valid token sent \
             with the scheme `{scheme}` instead of `Bearer`, got {reply:?}"
        );
    }
}
