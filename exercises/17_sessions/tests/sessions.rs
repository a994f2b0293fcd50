//! Hidden tests for the `sessions` kata: server-side sessions in a real Redis. Each test gets
//! its own key namespace (the store's prefix), and the store's connection logs in as a Redis
//! user that may only touch keys under it. The logout tests are in
//! `sessions/logout.rs`, the HTTP tests in `sessions/http.rs`, the malformed ids in
//! `sessions/ids.rs`.
//!
//! Rule (README / stub) -> test:
//! - ids: 64 lowercase hex, distinct, every digit about as often
//!   -> `session_ids_are_64_hex_chars_from_a_secure_random_source`
//! - cookie attributes -> `the_set_cookie_header_is_httponly_secure_samesite_lax_for_the_whole_site`
//! - login stores user + index entry, both with a PTTL in 1..=TTL; a later login resets the
//!   index's PTTL to the TTL -> `a_login_stores_the_session_and_its_index_entry_with_the_ttl`; TTL in milliseconds
//!   (50 ms is at most 50 ms, not a second) -> `an_expired_session_resolves_to_nothing`
//! - start_anonymous stores with the TTL; lookup resets both PTTLs to the TTL (not beyond),
//!   anonymous sessions too
//!   -> `every_lookup_resets_the_ttl`
//! - unknown / tampered / upper-cased / too long / too short / empty / junk: `Ok(None)`
//!   -> `ids::unknown_tampered_and_malformed_ids_resolve_to_nothing`; never sent to Redis (64
//!   upper-case hex digits and 64 non-ASCII bytes included)
//!   -> `ids::malformed_ids_are_rejected_without_touching_redis`
//! - expired: `None`, `sessions_of` empty -> `an_expired_session_resolves_to_nothing`; one of two
//!   sessions gone: listed no more, pruned from the index, not counted by logout everywhere
//!   -> `logout::a_dead_index_entry_is_pruned_listed_nowhere_and_not_counted`
//! - rotation on login (anonymous and another user's session) -> `logging_in_rotates_the_session_id`
//! - logout -> `logout::logout_destroys_the_session_and_its_index_entry`; logout everywhere (count,
//!   index, other users) -> `logout::logout_everywhere_destroys_every_session_of_that_user_only`
//! - 20 concurrent logins -> `logout::concurrent_logins_of_one_user_give_distinct_ids_all_listed`
//!   (listed sorted, as the stub says)
//! - logout everywhere during use -> `logout::logout_everywhere_while_the_sessions_are_in_use_leaves_none`;
//!   a lookup held in Redis behind it, from another server, revives nothing
//!   -> `logout::a_lookup_held_behind_logout_everywhere_on_another_server_revives_nothing`
//!   and one that read it just before leaves no index behind
//!   -> `logout::a_lookup_that_read_the_session_before_logout_everywhere_leaves_no_index_behind`
//! - HTTP: 204 + cookie, `/me` 200 / 401 -> `http::login_sets_the_session_cookie_and_me_reads_it`;
//!   the cookie in any of several `Cookie` headers
//!   -> `http::me_finds_the_session_cookie_in_any_of_several_cookie_headers`;
//!   rotation -> `http::logging_in_over_http_with_a_session_cookie_rotates_it`; a real socket
//!   -> `http::the_cookie_round_trips_over_a_real_socket`; Redis down: 500
//!   -> `http::a_redis_failure_is_a_500`

#[path = "sessions/http.rs"]
mod http;
#[path = "sessions/ids.rs"]
mod ids;
#[path = "sessions/logout.rs"]
mod logout;

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use kata_testkit::TestRedis;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sessions::{Session, SessionStore, new_session_id, set_cookie_header};
use tokio::sync::Barrier;

/// Long enough never to expire during a test; the tests read it back with PTTL.
const TTL: Duration = Duration::from_millis(60_000);
const TTL_MS: i64 = 60_000;

fn config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(0)
}

async fn store_with_ttl(r: &TestRedis, ttl: Duration) -> SessionStore {
    let redis = ConnectionManager::new_with_config(r.client(), config()).await;
    let redis = redis.unwrap_or_else(|e| panic!("could not connect to the test Redis: {e}"));
    SessionStore::new(redis, r.namespace(), ttl)
}

async fn store(r: &TestRedis) -> SessionStore {
    store_with_ttl(r, TTL).await
}

fn session_key(r: &TestRedis, id: &str) -> String {
    r.key(&format!("session:{id}"))
}

fn index_key(r: &TestRedis, user: &str) -> String {
    r.key(&format!("user:{user}:sessions"))
}

async fn exists(r: &TestRedis, key: &str) -> bool {
    let got = r.admin().await.exists(key).await;
    got.unwrap_or_else(|e| panic!("could not EXISTS {key}: {e}"))
}

async fn indexed(r: &TestRedis, user: &str, id: &str) -> bool {
    let got = r.admin().await.sismember(index_key(r, user), id).await;
    got.unwrap_or_else(|e| panic!("could not SISMEMBER the index of {user}: {e}"))
}

async fn login(store: &SessionStore, user: &str, current: Option<&str>) -> String {
    let got = store.login(user, current).await;
    got.unwrap_or_else(|e| panic!("expected login({user:?}) to succeed, but got {e}"))
}

async fn lookup(store: &SessionStore, id: &str) -> Option<Session> {
    let got = store.lookup(id).await;
    got.unwrap_or_else(|e| panic!("expected lookup({id:?}) to answer, but got {e}"))
}

async fn user_of(store: &SessionStore, id: &str) -> Option<String> {
    lookup(store, id).await.and_then(|session| session.user_id)
}

async fn sessions_of(store: &SessionStore, user: &str) -> Vec<String> {
    let got = store.sessions_of(user).await;
    got.unwrap_or_else(|e| panic!("expected sessions_of({user:?}) to answer, but got {e}"))
}

#[test]
fn session_ids_are_64_hex_chars_from_a_secure_random_source() {
    const IDS: usize = 500;
    let ids: Vec<String> = (0..IDS).map(|_| new_session_id()).collect();

    let malformed: Vec<_> = ids
        .iter()
        .filter(|id| {
            id.len() != 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .collect();
    assert!(
        malformed.is_empty(),
        "expected 64 lowercase hex chars (32 random bytes), but got {:?}",
        &malformed[..malformed.len().min(3)]
    );
    let distinct: HashSet<_> = ids.iter().collect();
    assert_eq!(distinct.len(), IDS, "expected {IDS} different ids");
    // 32 000 hex digits: each of the 16 appears about 2 000 times when every bit is random. A
    // counter, a timestamp or a 32-bit number padded to 64 chars is mostly zeros.
    let mut counts = [0usize; 16];
    for digit in ids.iter().flat_map(|id| id.chars()) {
        counts[digit.to_digit(16).unwrap_or(0) as usize] += 1;
    }
    assert!(
        counts.iter().all(|n| (1_700..=2_300).contains(n)),
        "expected each hex digit about 2000 times in {IDS} random ids (every bit random), but the counts of 0..f are {counts:?}"
    );
}

#[test]
fn the_set_cookie_header_is_httponly_secure_samesite_lax_for_the_whole_site() {
    let id = new_session_id();

    let header = set_cookie_header(&id);

    let cookie = cookie::Cookie::parse(header.as_str());
    let cookie = cookie.unwrap_or_else(|e| {
        panic!("expected a valid Set-Cookie value, but {header:?} does not parse: {e}")
    });
    let got = (
        cookie.name(),
        cookie.value(),
        cookie.http_only(),
        cookie.secure(),
        cookie.same_site(),
        cookie.path(),
    );
    let want = (
        "session",
        id.as_str(),
        Some(true),
        Some(true),
        Some(cookie::SameSite::Lax),
        Some("/"),
    );
    assert_eq!(
        got, want,
        "expected (name, value, HttpOnly, Secure, SameSite, Path) from {header:?}"
    );
}

#[tokio::test]
async fn a_login_stores_the_session_and_its_index_entry_with_the_ttl() {
    let r = TestRedis::new().await;
    let store = store(&r).await;

    let id = login(&store, "alice", None).await;

    let key = session_key(&r, &id);
    let stored: Option<String> = r
        .admin()
        .await
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("could not GET {key}: {e}"));
    assert_eq!(
        stored.as_deref(),
        Some("alice"),
        "expected the user id under {key:?}"
    );
    for key in [key, index_key(&r, "alice")] {
        let ttl = r.pttl(&key).await;
        assert!(
            ttl > 0 && ttl <= TTL_MS,
            "expected PTTL of {key:?} between 1 and {TTL_MS} ms, but got {ttl} (-1: never expires, -2: missing)"
        );
    }
    assert!(
        indexed(&r, "alice", &id).await,
        "expected the id in alice's index set"
    );
    assert_eq!(
        user_of(&store, &id).await.as_deref(),
        Some("alice"),
        "expected the id to resolve to alice"
    );
    // A later login must keep the index alive as long as its own new session: the index's
    // PTTL goes back to the full TTL (else it expires first, and "log out everywhere" misses
    // the newer session).
    let index = index_key(&r, "alice");
    let shortened: bool = r
        .admin()
        .await
        .pexpire(&index, 5_000)
        .await
        .expect("PEXPIRE");
    assert!(shortened, "expected {index:?} to exist");
    login(&store, "alice", None).await;
    let ttl = r.pttl(&index).await;
    assert!(
        ttl > TTL_MS / 2 && ttl <= TTL_MS,
        "expected a second login to reset the PTTL of {index:?} to the store's TTL ({TTL_MS} \
         ms), as long as its new session lives, but it is {ttl} ms (the test had set 5000)"
    );
}

#[tokio::test]
async fn every_lookup_resets_the_ttl() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let id = login(&store, "alice", None).await;
    let key = session_key(&r, &id);
    let anonymous = store
        .start_anonymous()
        .await
        .unwrap_or_else(|e| panic!("expected an anonymous session, but got {e}"));
    let anonymous_key = session_key(&r, &anonymous);
    let fresh = r.pttl(&anonymous_key).await;
    assert!(
        fresh > 0 && fresh <= TTL_MS,
        "expected start_anonymous to store the session with the store's TTL ({TTL_MS} ms), but \
         its PTTL is {fresh} (-1: no expiry; an anonymous session nobody looks up must expire too)"
    );
    for target in [key.clone(), index_key(&r, "alice"), anonymous_key.clone()] {
        let shortened: bool = r
            .admin()
            .await
            .pexpire(&target, 5_000)
            .await
            .expect("PEXPIRE");
        assert!(shortened, "expected {target:?} to exist");
    }

    let user = user_of(&store, &id).await;
    let anonymous_session = lookup(&store, &anonymous).await;

    assert_eq!(
        user.as_deref(),
        Some("alice"),
        "expected the session to resolve"
    );
    assert_eq!(
        anonymous_session.map(|s| s.user_id),
        Some(None),
        "expected the anonymous session to resolve, with no user"
    );
    for target in [key, index_key(&r, "alice"), anonymous_key] {
        let ttl = r.pttl(&target).await;
        assert!(
            ttl > TTL_MS / 2 && ttl <= TTL_MS,
            "expected a lookup to reset the PTTL of {target:?} to the store's TTL ({TTL_MS} ms, \
             not more), but it is {ttl} ms (the test had set 5000)"
        );
    }
}

#[tokio::test]
async fn an_expired_session_resolves_to_nothing() {
    let r = TestRedis::new().await;
    let store = store_with_ttl(&r, Duration::from_millis(50)).await;
    let id = login(&store, "alice", None).await;
    let key = session_key(&r, &id);
    for target in [&key, &index_key(&r, "alice")] {
        let ttl = r.pttl(target).await;
        assert!(
            ttl == -2 || (0..=50).contains(&ttl),
            "expected a 50 ms TTL to give {target:?} a PTTL of at most 50 ms (or to have expired \
             already), but it is {ttl} ms: the TTL is in milliseconds, not rounded to seconds"
        );
    }

    // Wait for Redis's own expiry (50 ms), polling with a generous deadline.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while exists(&r, &key).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected the session to expire 50 ms after login, but {key:?} still exists after 20 s (PTTL {})",
            r.pttl(&key).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    assert_eq!(
        lookup(&store, &id).await,
        None,
        "expected an expired session to resolve to nothing"
    );
    assert_eq!(
        sessions_of(&store, "alice").await,
        Vec::<String>::new(),
        "expected no live session listed"
    );
}

#[tokio::test]
async fn logging_in_rotates_the_session_id() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let anonymous = store
        .start_anonymous()
        .await
        .unwrap_or_else(|e| panic!("expected an anonymous session, but got {e}"));
    let before = lookup(&store, &anonymous).await;

    let alice = login(&store, "alice", Some(&anonymous)).await;
    let bob = login(&store, "bob", Some(&alice)).await;

    assert_eq!(
        before,
        Some(Session {
            id: anonymous.clone(),
            user_id: None
        }),
        "expected an anonymous session before the login"
    );
    let ids = BTreeSet::from([&anonymous, &alice, &bob]);
    assert_eq!(
        ids.len(),
        3,
        "expected every login to return a NEW id (session fixation), but got {anonymous}, then {alice}, then {bob}"
    );
    for old in [&anonymous, &alice] {
        assert_eq!(
            lookup(&store, old).await,
            None,
            "expected the id used before a login to resolve to nothing"
        );
        assert!(
            !exists(&r, &session_key(&r, old)).await,
            "expected the old session's key deleted"
        );
    }
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected alice's index gone with her only session"
    );
    assert_eq!(
        user_of(&store, &bob).await.as_deref(),
        Some("bob"),
        "expected the new id to resolve to bob"
    );
}
