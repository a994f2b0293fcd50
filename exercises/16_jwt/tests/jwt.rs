//! Hidden tests for the `jwt` kata: HS256 tokens with a pinned algorithm, issuer, audience and
//! an injectable clock, plus an axum extractor answering 401/403 through axum's real stack.
//!
//! Rule (README) -> the test that fails when that rule alone is broken:
//! - `issue`: sub, iss, aud, roles; iat = nbf = now, exp = now + ttl -> a_fresh_token_verifies_and_carries_every_claim
//! - a fresh random jti, 16+ characters, distinct in one second, not a counter -> every_token_gets_its_own_random_jti
//! - header alg HS256 -> an_issued_token_is_a_standard_hs256_jwt
//! - Expired from `exp + LEEWAY_SECS` on (the token's own `exp`, however short) ->
//!   a_token_is_accepted_until_exp_plus_the_leeway_and_rejected_from_then_on, a_long_expired_token_is_rejected_as_expired
//! - NotYetValid before `nbf - LEEWAY_SECS` -> a_token_before_its_nbf_minus_the_leeway_is_rejected_as_not_yet_valid
//! - iss and aud compared exactly (no prefix either way, letter case too) -> a_token_from_another_issuer_is_rejected_as_wrong_issuer,
//!   a_token_for_another_audience_is_rejected_as_wrong_audience
//! - BadSignature: another secret, swapped payload, flipped character -> a_token_signed_with_another_secret_is_rejected_as_bad_signature,
//!   a_swapped_payload_under_the_old_signature_is_rejected_as_bad_signature, a_flipped_signature_character_is_rejected_as_bad_signature
//! - WrongAlgorithm: HS384/HS512 signed with our secret, RS256 -> a_token_re_signed_with_hs512_is_rejected_as_wrong_algorithm,
//!   a_token_claiming_rs256_is_rejected_as_wrong_algorithm
//! - Malformed: alg none, garbage, missing or null claims, a non-object payload ->
//!   an_alg_none_token_is_rejected_as_malformed, garbage_and_incomplete_tokens_are_rejected_as_malformed
//! - no header or another scheme (even with a valid token): 401 bare `Bearer` ->
//!   guard::a_request_without_a_token_gets_401_and_a_bearer_challenge
//! - a token that does not verify (also another audience or secret): 401 invalid_token ->
//!   guard::an_invalid_token_gets_401_with_error_invalid_token
//! - scheme case-insensitive -> guard::a_valid_token_reaches_the_handler_with_its_claims
//! - require_role: exact role, 403 otherwise -> guard::a_valid_token_without_the_required_role_gets_403_and_with_it_200
//! - over a real socket -> guard::the_guard_works_over_a_real_socket

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey};
use jwt::{AuthError, AuthUser, JwtConfig, JwtError, LEEWAY_SECS, issue, verify};
use kata_testkit::http::{self, Reply};
use serde_json::{Value, json};

#[path = "jwt/guard.rs"]
mod guard;

const NOW: u64 = 1_700_000_000;
const TTL: u64 = 900;
const SECRET: &[u8] = b"a-32-byte-secret-for-the-jwt-kata!";
const ISSUER: &str = "https://auth.katas.test";
const AUDIENCE: &str = "katas-api";

fn config() -> JwtConfig {
    JwtConfig {
        secret: SECRET.to_vec(),
        issuer: ISSUER.to_owned(),
        audience: AUDIENCE.to_owned(),
        ttl: Duration::from_secs(TTL),
    }
}

fn issue_at(config: &JwtConfig, roles: &[&str], now: u64) -> String {
    issue(config, "alice", roles, now)
        .unwrap_or_else(|e| panic!("expected issue() to return a token, but got {e:?}"))
}

/// Asserts that `verify` rejects `token` at `now` with exactly `expected`.
fn assert_rejected(token: &str, now: u64, expected: JwtError) {
    let got = verify(&config(), token, now);
    assert!(
        got.as_ref().is_err_and(|e| *e == expected),
        "expected Err({expected:?}) for the token {token:?} at now = {now}, but got {got:?}"
    );
}

/// base64url without padding (RFC 7515 §2), to craft tokens by hand.
fn b64url(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n =
            (chunk.iter().enumerate()).fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ABC[(n >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    out
}

/// `header.payload.signature` with `"alg": alg` in the header, signed with SECRET and
/// `sign_with` (`None`: an empty signature).
fn forge(alg: &str, claims: Value, sign_with: Option<Algorithm>) -> String {
    let header = b64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
    let message = format!("{header}.{}", b64url(claims.to_string().as_bytes()));
    let signature = sign_with.map_or_else(String::new, |alg| {
        let key = EncodingKey::from_secret(SECRET);
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).expect("the test can sign")
    });
    format!("{message}.{signature}")
}

/// Claims that are valid at NOW for `config()`.
fn valid_claims(roles: &[&str]) -> Value {
    json!({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": NOW, "nbf": NOW,
           "exp": NOW + TTL, "jti": "forged-by-the-test", "roles": roles})
}

#[test]
fn a_fresh_token_verifies_and_carries_every_claim() {
    let token = issue_at(&config(), &["reader", "editor"], NOW);

    let claims = verify(&config(), &token, NOW)
        .unwrap_or_else(|e| panic!("expected a fresh token to verify, but got {e:?}"));

    let got = (
        &*claims.sub,
        &*claims.iss,
        &*claims.aud,
        claims.roles.join(","),
    );
    let want = ("alice", ISSUER, AUDIENCE, "reader,editor".to_owned());
    assert_eq!(got, want, "expected (sub, iss, aud, roles)");
    let times = (claims.iat, claims.nbf, claims.exp);
    let want = (NOW, NOW, NOW + TTL);
    assert_eq!(
        times, want,
        "expected (iat, nbf, exp) = (now, now, now + ttl)"
    );
    assert!(!claims.jti.is_empty(), "expected a jti, but it is empty");
}

#[test]
fn every_token_gets_its_own_random_jti() {
    let first = verify(&config(), &issue_at(&config(), &[], NOW), NOW).map(|c| c.jti);
    let second = verify(&config(), &issue_at(&config(), &[], NOW), NOW).map(|c| c.jti);

    assert!(
        matches!((&first, &second), (Ok(a), Ok(b)) if a != b && a.len() >= 16),
        "expected two different random jti (16+ chars) for two tokens issued in the same second, but got {first:?} and {second:?}"
    );
    let many: Vec<String> = (0..50)
        .map(|_| issue_at(&config(), &[], NOW))
        .filter_map(|token| verify(&config(), &token, NOW).ok())
        .map(|claims| claims.jti)
        .collect();
    assert_eq!(
        many.len(),
        50,
        "expected 50 tokens issued to one user in one second to verify"
    );
    // Random ids differ almost everywhere; a counter or a clock differs in its last digits.
    for (i, a) in many.iter().enumerate() {
        for b in &many[i + 1..] {
            let differing = a.chars().zip(b.chars()).filter(|(x, y)| x != y).count();
            assert!(
                differing >= 6,
                "expected random jti, but {a:?} and {b:?} differ in only {differing} characters \
                 (a counter or a timestamp is not a random id)"
            );
        }
    }
}

#[test]
fn an_issued_token_is_a_standard_hs256_jwt() {
    let token = issue_at(&config(), &[], NOW);

    let header = jsonwebtoken::decode_header(&token);

    assert!(
        matches!(&header, Ok(h) if h.alg == Algorithm::HS256),
        "expected a JWT header with alg HS256, but got {header:?}"
    );
}

#[test]
fn a_token_is_accepted_until_exp_plus_the_leeway_and_rejected_from_then_on() {
    let token = issue_at(&config(), &[], NOW);
    let exp = NOW + TTL;

    let last_good_second = verify(&config(), &token, exp + LEEWAY_SECS - 1);

    assert!(
        last_good_second.is_ok(),
        "expected the token to verify at exp + {LEEWAY_SECS} - 1 s (inside the leeway), but got {last_good_second:?}"
    );
    assert_rejected(&token, exp + LEEWAY_SECS, JwtError::Expired);

    // The token's own `exp` decides, not `iat + ttl`: a token minted to live only 60 s.
    let mut short = valid_claims(&[]);
    short["exp"] = json!(NOW + 60);
    let short = forge("HS256", short, Some(Algorithm::HS256));
    let inside = verify(&config(), &short, NOW + 60 + LEEWAY_SECS - 1);
    assert!(
        inside.is_ok(),
        "expected a token with exp = iat + 60 to verify at exp + {LEEWAY_SECS} - 1 s, but got {inside:?}"
    );
    assert_rejected(&short, NOW + 60 + LEEWAY_SECS, JwtError::Expired);
}

#[test]
fn a_long_expired_token_is_rejected_as_expired() {
    let token = issue_at(&config(), &["admin"], NOW);

    assert_rejected(&token, NOW + TTL + 3600, JwtError::Expired);
}

#[test]
fn a_token_before_its_nbf_minus_the_leeway_is_rejected_as_not_yet_valid() {
    let nbf = NOW + 600;
    let mut claims = valid_claims(&[]);
    claims["nbf"] = json!(nbf);
    claims["exp"] = json!(nbf + TTL);
    let token = forge("HS256", claims, Some(Algorithm::HS256));

    let first_good_second = verify(&config(), &token, nbf - LEEWAY_SECS);

    assert!(
        first_good_second.is_ok(),
        "expected the token to verify at nbf - {LEEWAY_SECS} s (inside the leeway), but got {first_good_second:?}"
    );
    assert_rejected(&token, nbf - LEEWAY_SECS - 1, JwtError::NotYetValid);
}

#[test]
fn a_token_from_another_issuer_is_rejected_as_wrong_issuer() {
    // Another issuer, ours followed by more, a prefix of ours, and ours in other letter case
    // (the README asks for equal strings, not equal URLs).
    for issuer in [
        "https://evil.example",
        "https://auth.katas.test.evil.example",
        "https://auth.katas",
        "https://AUTH.katas.test",
        "HTTPS://auth.katas.test",
    ] {
        let mut other = config();
        other.issuer = issuer.to_owned();
        let token = issue_at(&other, &[], NOW);

        assert_rejected(&token, NOW, JwtError::WrongIssuer);
    }
}

#[test]
fn a_token_for_another_audience_is_rejected_as_wrong_audience() {
    for audience in ["billing-api", "katas-api-admin", "katas", "Katas-API"] {
        let mut other = config();
        other.audience = audience.to_owned();
        let token = issue_at(&other, &[], NOW);

        assert_rejected(&token, NOW, JwtError::WrongAudience);
    }
}

#[test]
fn a_token_signed_with_another_secret_is_rejected_as_bad_signature() {
    let mut other = config();
    other.secret = b"another-32-byte-secret-entirely!!".to_vec();
    let token = issue_at(&other, &[], NOW);

    assert_rejected(&token, NOW, JwtError::BadSignature);
}

#[test]
fn a_swapped_payload_under_the_old_signature_is_rejected_as_bad_signature() {
    let token = issue_at(&config(), &[], NOW);
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(
        parts.len(),
        3,
        "expected header.payload.signature: {token:?}"
    );
    let escalated = b64url(valid_claims(&["admin"]).to_string().as_bytes());

    let tampered = format!("{}.{escalated}.{}", parts[0], parts[2]);

    assert_rejected(&tampered, NOW, JwtError::BadSignature);
}

#[test]
fn a_flipped_signature_character_is_rejected_as_bad_signature() {
    let token = issue_at(&config(), &[], NOW);
    let (message, signature) = token.rsplit_once('.').expect("expected a token with dots");
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };

    let tampered = format!("{message}.{flipped}{}", &signature[1..]);

    assert_rejected(&tampered, NOW, JwtError::BadSignature);
}

#[test]
fn an_alg_none_token_is_rejected_as_malformed() {
    // jsonwebtoken's `Algorithm` has no `none`: the header does not even parse.
    let token = forge("none", valid_claims(&["admin"]), None);

    assert_rejected(&token, NOW, JwtError::Malformed);
}

#[test]
fn a_token_re_signed_with_hs512_is_rejected_as_wrong_algorithm() {
    for (name, alg) in [("HS512", Algorithm::HS512), ("HS384", Algorithm::HS384)] {
        let token = forge(name, valid_claims(&["admin"]), Some(alg));

        assert_rejected(&token, NOW, JwtError::WrongAlgorithm);
    }
}

#[test]
fn a_token_claiming_rs256_is_rejected_as_wrong_algorithm() {
    // The classic key-confusion header: RS256, with an HMAC signature over our secret.
    let token = forge("RS256", valid_claims(&["admin"]), Some(Algorithm::HS256));

    assert_rejected(&token, NOW, JwtError::WrongAlgorithm);
}

#[test]
fn garbage_and_incomplete_tokens_are_rejected_as_malformed() {
    let mut null_exp = valid_claims(&[]);
    null_exp["exp"] = Value::Null;
    let signed_null_exp = forge("HS256", null_exp, Some(Algorithm::HS256));
    let signed_string = forge("HS256", json!("just a string"), Some(Algorithm::HS256));
    let mut signed_without = Vec::new();
    for claim in ["exp", "roles", "jti"] {
        let mut claims = valid_claims(&[]);
        claims.as_object_mut().map(|claims| claims.remove(claim));
        signed_without.push(forge("HS256", claims, Some(Algorithm::HS256)));
    }
    let garbage = ["", "not-a-jwt", "a.b", "%%%.%%%.%%%", "a.b.c.d"];

    for token in (garbage.iter().copied())
        .chain([&*signed_null_exp, &*signed_string])
        .chain(signed_without.iter().map(String::as_str))
    {
        assert_rejected(token, NOW, JwtError::Malformed);
    }
}
