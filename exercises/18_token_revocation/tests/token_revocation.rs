//! Hidden tests for the `token_revocation` kata: HS256 access and refresh tokens whose
//! revocation state lives in a real Redis. Each test gets its own key namespace, and the
//! service's connection logs in as a Redis user that may only touch keys under it.
//!
//! Rules (README) -> tests:
//! - issue: kinds, exp (900 s, 14 d), `"alg": "HS256"`, one `sub` and `fam`, two `jti`, a new
//!   `fam` per login -> `a_fresh_pair_verifies_and_carries_the_user_family_and_kind`
//! - another key, `alg: none`, a refresh token, garbage, `""` are `Invalid` ->
//!   `forged_unsigned_garbage_and_refresh_tokens_are_not_access_tokens`
//! - valid at `exp - 1`, `Expired` at `exp` -> `an_access_token_is_accepted_until_exp_and_expired_from_then_on`
//! - `Revoked` once revoked, the user's other tokens stay valid, `Expired` before `Revoked` ->
//!   `a_revoked_access_token_is_rejected_and_others_are_not`
//! - blocklist PTTL `exp - now` (not the full lifetime, not -1) ->
//!   `the_blocklist_entry_expires_when_the_token_would`
//! - revoking an expired token (at exactly `exp`) stores nothing, garbage is `Invalid` ->
//!   `revoking_an_expired_or_invalid_token_stores_nothing`
//! - refresh: new pair, same family, new `jti`; used-mark PTTL `exp - now` of a token a week
//!   from its `exp` -> `a_refresh_rotates_the_pair_and_marks_the_old_refresh_token_used`
//! - reuse: `Reused`, then the family's newest refresh token and its access tokens (old and
//!   new) `Revoked`, family mark PTTL `refresh_ttl` (not the reused token's remaining life),
//!   another login unaffected ->
//!   `reusing_a_refresh_token_revokes_its_whole_family`
//! - access token, expired (at `exp`) or revoked refresh token (each time it is presented)
//!   cannot refresh ->
//!   `only_a_valid_unexpired_unrevoked_refresh_token_refreshes`
//! - check-and-mark is atomic (forced race through a proxy) ->
//!   `race::two_concurrent_refreshes_with_one_token_let_exactly_one_win`

#[path = "token_revocation/gate.rs"]
mod gate;
#[path = "token_revocation/race.rs"]
mod race;

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kata_testkit::TestRedis;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use token_revocation::{Claims, TokenConfig, TokenError, TokenKind, TokenPair, TokenService};

const SECRET: &[u8] = b"a-32-byte-secret-for-revocation!";
const ACCESS_TTL: u64 = 900;
const REFRESH_TTL: u64 = 14 * 24 * 3600;

fn config() -> TokenConfig {
    TokenConfig {
        secret: SECRET.to_vec(),
        access_ttl: Duration::from_secs(ACCESS_TTL),
        refresh_ttl: Duration::from_secs(REFRESH_TTL),
    }
}

/// Redis counts TTLs on its own clock, so the tests use the real time as `now`.
fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

async fn service_with(client: redis::Client, prefix: &str) -> TokenService {
    let config_ = ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(0);
    let redis = ConnectionManager::new_with_config(client, config_).await;
    let redis = redis.unwrap_or_else(|e| panic!("could not connect to the test Redis: {e}"));
    TokenService::new(redis, prefix, config())
}

async fn service(r: &TestRedis) -> TokenService {
    service_with(r.client(), r.namespace()).await
}

fn issue(service: &TokenService, user: &str, now: u64) -> TokenPair {
    let pair = service.issue(user, now);
    pair.unwrap_or_else(|e| panic!("expected issue({user:?}) to succeed, but got {e:?}"))
}

/// The claims of any token, read without checking anything (to name the keys).
fn peek(token: &str) -> Claims {
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(token);
    claims.unwrap_or_else(|e| {
        panic!("expected a JWT with the kata's claims, but {token:?} gives {e}")
    })
}

async fn keys_under(r: &TestRedis, kind: &str, id: &str) -> (String, i64) {
    let key = r.key(&format!("{kind}:{id}"));
    let ttl = r.pttl(&key).await;
    (key, ttl)
}

fn assert_err(got: Result<impl std::fmt::Debug, TokenError>, want: &str, what: &str) {
    let shown = format!("{got:?}");
    assert!(
        shown.starts_with(&format!("Err({want}")),
        "expected Err({want}) for {what}, but got {shown}"
    );
}

#[tokio::test]
async fn a_fresh_pair_verifies_and_carries_the_user_family_and_kind() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();

    let pair = issue(&service, "alice", now);
    let access = service.verify_access(&pair.access, now).await;

    let claims =
        access.unwrap_or_else(|e| panic!("expected a fresh access token to verify, but got {e:?}"));
    let refresh = peek(&pair.refresh);
    let got = (
        claims.sub.as_str(),
        claims.kind,
        claims.exp,
        refresh.kind,
        refresh.exp,
    );
    let want = (
        "alice",
        TokenKind::Access,
        now + ACCESS_TTL,
        TokenKind::Refresh,
        now + REFRESH_TTL,
    );
    assert_eq!(
        got, want,
        "expected (sub, kind, exp) of the access token, then (kind, exp) of the refresh token"
    );
    assert!(
        claims.fam == refresh.fam && claims.jti != refresh.jti,
        "expected one family and two different jti, but got {claims:?} and {refresh:?}"
    );
    let other = peek(&issue(&service, "alice", now).refresh);
    assert_ne!(
        other.fam, refresh.fam,
        "expected every login to start a new family"
    );
    for (what, token) in [("access", &pair.access), ("refresh", &pair.refresh)] {
        let header = jsonwebtoken::decode_header(token);
        let alg = header.map(|header| header.alg);
        assert!(
            matches!(alg, Ok(Algorithm::HS256)),
            "expected the {what} token's header to say HS256, but got {alg:?}"
        );
    }
}

#[tokio::test]
async fn forged_unsigned_garbage_and_refresh_tokens_are_not_access_tokens() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    let pair = issue(&service, "alice", now);
    let claims = peek(&pair.access);
    let other_key = EncodingKey::from_secret(b"someone-elses-secret-of-32-bytes");
    let forged = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &other_key)
        .expect("the test signs");
    let (header_and_claims, _) = pair.access.rsplit_once('.').expect("a JWT has dots");
    let (_, body) = header_and_claims.split_once('.').expect("a JWT has dots");
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");

    for (what, token) in [
        ("a token signed with another key", forged.as_str()),
        ("an `alg: none` token", &alg_none),
        ("a refresh token", &pair.refresh),
        ("garbage", "not.a.jwt"),
        ("an empty string", ""),
    ] {
        let got = service.verify_access(token, now).await;

        assert_err(got, "Invalid", what);
    }
}

#[tokio::test]
async fn an_access_token_is_accepted_until_exp_and_expired_from_then_on() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    let pair = issue(&service, "alice", now);

    let last_second = service
        .verify_access(&pair.access, now + ACCESS_TTL - 1)
        .await;
    let at_exp = service.verify_access(&pair.access, now + ACCESS_TTL).await;

    assert!(
        last_second.is_ok(),
        "expected the token to verify 1 s before exp, but got {last_second:?}"
    );
    assert_err(at_exp, "Expired", "the token at its exp");
}

#[tokio::test]
async fn a_revoked_access_token_is_rejected_and_others_are_not() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    let (revoked, kept) = (issue(&service, "alice", now), issue(&service, "alice", now));

    let result = service.revoke(&revoked.access, now).await;

    assert!(
        result.is_ok(),
        "expected revoke to succeed, but got {result:?}"
    );
    assert_err(
        service.verify_access(&revoked.access, now).await,
        "Revoked",
        "a revoked access token",
    );
    let other = service.verify_access(&kept.access, now).await;
    assert!(
        other.is_ok(),
        "expected another token of the same user to stay valid, but got {other:?}"
    );
    assert_err(
        service
            .verify_access(&revoked.access, now + ACCESS_TTL)
            .await,
        "Expired",
        "a revoked access token at its exp (the expiry is checked before the blocklist)",
    );
}

#[tokio::test]
async fn the_blocklist_entry_expires_when_the_token_would() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let issued = now();
    let pair = issue(&service, "alice", issued);
    // Revoked 5 minutes into its 15: the entry is needed for the 10 minutes left, no longer.
    let left_ms = (ACCESS_TTL as i64 - 300) * 1000;

    let result = service.revoke(&pair.access, issued + 300).await;

    assert!(
        result.is_ok(),
        "expected revoke to succeed, but got {result:?}"
    );
    let (key, ttl) = keys_under(&r, "revoked", &peek(&pair.access).jti).await;
    assert!(
        ttl > left_ms / 2 && ttl <= left_ms,
        "expected the PTTL of {key:?} to be the token's remaining life (exp - now = {left_ms} ms), but got {ttl} (-1: never expires, -2: missing)"
    );
}

#[tokio::test]
async fn revoking_an_expired_or_invalid_token_stores_nothing() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let issued = now() - 2 * ACCESS_TTL;
    let expired = issue(&service, "alice", issued).access;

    let expired_result = service.revoke(&expired, issued + ACCESS_TTL).await;
    let invalid_result = service.revoke("not.a.jwt", issued).await;

    assert!(
        expired_result.is_ok(),
        "expected revoking an expired token to be Ok, but got {expired_result:?}"
    );
    assert_err(invalid_result, "Invalid", "revoking garbage");
    let (key, ttl) = keys_under(&r, "revoked", &peek(&expired).jti).await;
    assert_eq!(
        ttl, -2,
        "expected no blocklist entry {key:?} for a token that is already expired"
    );
}

#[tokio::test]
async fn a_refresh_rotates_the_pair_and_marks_the_old_refresh_token_used() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    // Issued a week ago: 7 of its 14 days are left, and so is the used-mark's TTL.
    let week_ms = 7 * 24 * 3600 * 1000;
    let first = issue(&service, "alice", now - REFRESH_TTL / 2);

    let second = service.refresh(&first.refresh, now).await;

    let second = second.unwrap_or_else(|e| panic!("expected a refresh to succeed, but got {e:?}"));
    let access = service.verify_access(&second.access, now).await;
    let access =
        access.unwrap_or_else(|e| panic!("expected the new access token to verify, but got {e:?}"));
    let (old, new) = (peek(&first.refresh), peek(&second.refresh));
    assert!(
        new.jti != old.jti && new.fam == old.fam && access.sub == "alice",
        "expected a new refresh token of the same family for alice, but got {new:?} from {old:?}"
    );
    let (key, ttl) = keys_under(&r, "used", &old.jti).await;
    assert!(
        ttl > week_ms / 2 && ttl <= week_ms,
        "expected {key:?} marked used until the old token's exp (exp - now = {week_ms} ms), but \
         PTTL is {ttl} (-1: never expires, -2: missing; more: the token's full lifetime?)"
    );
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_whole_family() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    // A login ten days ago: the stolen token has 4 of its 14 days left, but the family's newest
    // refresh token (made now) has all 14, and the family mark must outlive it.
    let stolen = issue(&service, "alice", now - 10 * 24 * 3600);
    let other_login = issue(&service, "alice", now);
    let second = service
        .refresh(&stolen.refresh, now)
        .await
        .expect("a first refresh");
    let third = service
        .refresh(&second.refresh, now)
        .await
        .expect("a second refresh");

    let replay = service.refresh(&stolen.refresh, now).await;
    let newest = service.refresh(&third.refresh, now).await;
    let older_access = service.verify_access(&second.access, now).await;
    let newest_access = service.verify_access(&third.access, now).await;
    let unrelated_access = service.verify_access(&other_login.access, now).await;
    let unrelated = service.refresh(&other_login.refresh, now).await;

    assert_err(replay, "Reused", "a refresh token presented a second time");
    assert_err(
        newest,
        "Revoked",
        "the newest refresh token of a family in which reuse was detected",
    );
    assert_err(
        older_access,
        "Revoked",
        "an older access token of the family once its family is revoked",
    );
    assert_err(
        newest_access,
        "Revoked",
        "the family's newest access token once its family is revoked",
    );
    assert!(
        unrelated.is_ok() && unrelated_access.is_ok(),
        "expected another login's family to be unaffected, but got {unrelated_access:?} \
         (access) and {unrelated:?} (refresh)"
    );
    let (key, ttl) = keys_under(&r, "family", &peek(&stolen.refresh).fam).await;
    let max = REFRESH_TTL as i64 * 1000;
    assert!(
        ttl > max / 2 && ttl <= max,
        "expected the family mark {key:?} to live refresh_ttl ({max} ms), as long as the \
         family's newest refresh token could, but PTTL is {ttl} (-1: never expires, -2: missing; \
         less: the reused token's remaining 4 days, after which the newest token works again?)"
    );
}

#[tokio::test]
async fn only_a_valid_unexpired_unrevoked_refresh_token_refreshes() {
    let r = TestRedis::new().await;
    let service = service(&r).await;
    let now = now();
    let pair = issue(&service, "alice", now);
    let logged_out = issue(&service, "alice", now);
    service
        .revoke(&logged_out.refresh, now)
        .await
        .expect("revoke succeeds");

    assert_err(
        service.refresh(&pair.access, now).await,
        "Invalid",
        "an access token used to refresh",
    );
    assert_err(
        service.refresh(&pair.refresh, now + REFRESH_TTL).await,
        "Expired",
        "a refresh token at its exp",
    );
    assert_err(
        service.refresh(&logged_out.refresh, now).await,
        "Revoked",
        "a revoked refresh token",
    );
    // Presented again (a client retrying after its logout), it is still just revoked: the
    // revocation is checked before the token is marked used, so it never becomes `Reused`.
    assert_err(
        service.refresh(&logged_out.refresh, now).await,
        "Revoked",
        "a revoked refresh token presented a second time",
    );
    let still = service.refresh(&pair.refresh, now).await;
    assert!(
        still.is_ok(),
        "expected the valid refresh token to refresh, but got {still:?}"
    );
}
