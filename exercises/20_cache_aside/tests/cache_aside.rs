//! Cache-aside over a real Redis. Each test gets its own key namespace, and the client handed
//! to the cache logs in as a Redis user that may only touch keys under that namespace. Where a
//! real Redis cannot misbehave on demand, a stand-in on a local port does (`fakes.rs`).
//!
//! Rules (README) -> tests:
//! - miss: loader once, its value -> `a_miss_calls_the_loader_and_returns_its_value`
//! - hit: no loader call -> `a_hit_returns_the_cached_value_without_calling_the_loader`
//! - `"{namespace}:{key}"`, serde_json JSON, exact TTL in ms (not -1, not whole seconds) ->
//!   `a_loaded_value_is_stored_as_json_under_the_namespace_with_the_ttl`
//! - a miss has stored the value when it returns (not left to a background task) ->
//!   `a_miss_has_stored_the_value_when_it_returns`
//! - value and TTL in one command (a connection dropped between two leaves no TTL) ->
//!   `redis_failures::a_connection_dropped_right_after_the_write_leaves_no_value_without_its_ttl`
//! - a hit leaves the value and its TTL alone -> `a_hit_leaves_the_cached_value_and_its_ttl_alone`
//! - round trips (unicode, `None`, `"null"`, maps) -> `values_of_any_shape_round_trip_through_the_cache`
//! - loader `Err` unchanged, nothing cached -> `the_loaders_error_is_returned_and_nothing_is_cached`
//! - invalidate: DEL, next call loads, absent key Ok -> `invalidate_makes_the_next_call_load_again`
//! - invalidate with Redis unreachable is Err ->
//!   `redis_failures::when_redis_is_down_the_loader_serves_every_call`
//! - keys and namespaces apart, keys as given (case kept) -> `different_keys_and_namespaces_do_not_collide`
//! - corrupt value (3 kinds) is a miss, overwritten with the exact TTL ->
//!   `a_corrupt_cached_value_is_a_miss_and_is_overwritten`
//! - Redis down (closed port, no socket) ->
//!   `redis_failures::when_redis_is_down_the_loader_serves_every_call`
//! - drops every connection, no retry loop -> `redis_failures::connecting_is_not_retried_with_back_off`
//! - refused write (read-only replica) ->
//!   `redis_failures::a_redis_that_refuses_the_write_still_serves_the_loaders_value`
//! - timeouts: bounded -> `redis_failures::a_redis_that_never_answers_does_not_hang_the_call`,
//!   and not shorter than `REDIS_TIMEOUT`: replies ->
//!   `redis_failures::a_redis_that_answers_within_redis_timeout_is_waited_for`, connecting ->
//!   `redis_failures::a_redis_slow_to_set_up_the_connection_within_redis_timeout_is_waited_for`
//! - reconnects by itself ->
//!   `redis_failures::the_cache_reconnects_by_itself_after_its_connection_is_dropped`
//! - single-flight, exactly once -> `single_flight::concurrent_misses_for_one_key_call_the_loader_once`
//! - single-flight per key (no whole-cache lock, no lock shared by several keys) ->
//!   `single_flight::misses_for_different_keys_load_at_the_same_time`

#[path = "cache_aside/redis_failures.rs"]
mod redis_failures;
#[path = "cache_aside/single_flight.rs"]
mod single_flight;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_aside::Cache;
use kata_testkit::TestRedis;
use kata_testkit::redis_fakes::counting_proxy;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// Long enough never to expire during a test, and not whole seconds: the tests read the
/// expiry back to the millisecond.
const TTL: Duration = Duration::from_millis(45_500);
/// Only detects a call that hangs: a correct cache answers in a fraction of this.
const HANG: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: i64,
    name: String,
    email: Option<String>,
    tags: Vec<String>,
    score: f64,
}

fn user(id: i64, name: &str) -> User {
    let email = Some(format!("{}@example.com", name.to_lowercase()));
    User {
        id,
        name: name.into(),
        email,
        tags: vec!["admin".into()],
        score: 9.5,
    }
}

fn alice() -> User {
    user(1, "Alice")
}

fn bob() -> User {
    user(2, "Bob")
}

/// What a loader (the "database") fails with.
#[derive(Debug, Clone, PartialEq)]
struct LoadError(String);

/// The source of truth: counts how often the cache asks it for a value.
#[derive(Default)]
struct Db(AtomicUsize);

impl Db {
    async fn load<T>(&self, value: T) -> Result<T, LoadError> {
        self.0.fetch_add(1, SeqCst);
        Ok(value)
    }

    fn calls(&self) -> usize {
        self.0.load(SeqCst)
    }
}

fn cache(r: &TestRedis) -> Cache {
    Cache::new(r.client(), r.namespace(), TTL)
}

async fn stored(r: &TestRedis, key: &str) -> Option<Vec<u8>> {
    let got = r.admin().await.get(r.key(key)).await;
    got.unwrap_or_else(|e| panic!("could not GET {}: {e}", r.key(key)))
}

async fn assert_expires_ttl_after_the_write(r: &TestRedis, key: &str, before: i64, after: i64) {
    let ttl = TTL.as_millis() as i64;
    let at = r.expiry_ms(&r.key(key)).await.unwrap_or_else(|pttl| pttl);
    // 2 ms of slack: TIME reads the clock a moment after PTTL's snapshot of it.
    let (earliest, latest) = (before + ttl - 2, after + ttl + 2);
    assert!(
        at >= 0,
        "expected {:?} to expire {ttl} ms after the write, but its PTTL is {at} (-1: it never expires)",
        r.key(key)
    );
    assert!(
        (earliest..=latest).contains(&at),
        "expected {:?} to expire {ttl} ms after the write (between {} and {} ms from the call's start), \
         but it expires {} ms after the call's start (a TTL in whole seconds, or in the wrong unit?)",
        r.key(key),
        earliest - before,
        latest - before,
        at - before
    );
}

/// Awaits `call`, failing the test if it has not finished after [`HANG`].
async fn within<F: Future>(what: &str, call: F) -> F::Output {
    let result = tokio::time::timeout(HANG, call).await;
    result.unwrap_or_else(|_| panic!("expected {what} to finish, but it hung for {HANG:?}"))
}

#[tokio::test]
async fn a_miss_calls_the_loader_and_returns_its_value() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());

    let got = cache.get_or_load("user:1", || db.load(alice())).await;

    assert_eq!(got, Ok(alice()), "expected the loader's value on a miss");
    assert_eq!(db.calls(), 1, "expected one loader call for a miss");
}

#[tokio::test]
async fn a_hit_returns_the_cached_value_without_calling_the_loader() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    let first = cache.get_or_load("user:1", || db.load(alice())).await;

    let second = cache.get_or_load("user:1", || db.load(bob())).await;

    assert_eq!(first, Ok(alice()), "expected Alice from the loader");
    assert_eq!(second, Ok(alice()), "expected the cached Alice, not Bob");
    assert_eq!(db.calls(), 1, "expected a hit not to call the loader");
}

#[tokio::test]
async fn a_loaded_value_is_stored_as_json_under_the_namespace_with_the_ttl() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());

    let before = r.clock_ms().await;
    let got = cache.get_or_load("user:1", || db.load(alice())).await;
    let after = r.clock_ms().await;

    assert_eq!(got, Ok(alice()), "expected the loader's value");
    let key = r.key("user:1");
    let raw = stored(&r, "user:1").await;
    let raw = raw.unwrap_or_else(|| panic!("expected the value under {key:?}, but it is empty"));
    let json: Result<serde_json::Value, _> = serde_json::from_slice(&raw);
    let expected = serde_json::to_value(alice()).expect("Alice serialises");
    assert!(
        matches!(&json, Ok(json) if *json == expected),
        "expected Alice as serde_json JSON under {key:?}, but got {:?}",
        String::from_utf8_lossy(&raw)
    );
    assert_expires_ttl_after_the_write(&r, "user:1", before, after).await;
}

#[tokio::test]
async fn a_miss_has_stored_the_value_when_it_returns() {
    let r = TestRedis::new().await;
    let proxy = counting_proxy(&r).await;
    let (cache, db) = (
        Cache::new(proxy.client.clone(), r.namespace(), TTL),
        Db::default(),
    );

    let got = cache.get_or_load("user:1", || db.load(alice())).await;
    // Read at once, before this test lets any other task run: a write still waiting in a
    // spawned task has not reached Redis yet.
    let writes_before_return = proxy.writes_of(&r.key("user:1"));

    assert_eq!(got, Ok(alice()), "expected the loader's value");
    assert!(
        !writes_before_return.is_empty(),
        "expected a miss to have stored the value in Redis by the time get_or_load returns, \
         but no write of {:?} had reached Redis: a write left to a background task lets the \
         next read (and every caller waiting on the key's lock) miss again",
        r.key("user:1")
    );
    let raw = stored(&r, "user:1").await;
    assert!(
        raw.is_some(),
        "expected the value under {:?}",
        r.key("user:1")
    );
}

#[tokio::test]
async fn a_hit_leaves_the_cached_value_and_its_ttl_alone() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    // Cached by an earlier write with a TTL of its own, far longer than the cache's.
    let json = serde_json::to_vec(&alice()).expect("Alice serialises");
    let seeded: redis::RedisResult<()> = r
        .admin()
        .await
        .pset_ex(r.key("user:1"), &json, 600_000)
        .await;
    seeded.unwrap_or_else(|e| panic!("could not seed the key: {e}"));

    let first = cache.get_or_load("user:1", || db.load(bob())).await;
    let second = cache.get_or_load("user:1", || db.load(bob())).await;

    assert_eq!(
        (first, second),
        (Ok(alice()), Ok(alice())),
        "expected two hits on the cached Alice"
    );
    assert_eq!(db.calls(), 0, "expected a hit not to call the loader");
    assert_eq!(
        stored(&r, "user:1").await,
        Some(json),
        "expected a hit to leave the stored value as it was"
    );
    let ttl = r.pttl(&r.key("user:1")).await;
    assert!(
        ttl > TTL.as_millis() as i64,
        "expected a hit to leave the key's TTL alone (about 600000 ms left), but PTTL is {ttl}: \
         a hit that resets the TTL keeps a hot key alive forever"
    );
}

#[tokio::test]
async fn values_of_any_shape_round_trip_through_the_cache() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    let mut odd = bob();
    (odd.name, odd.tags, odd.score) =
        ("Zoë \"the\" 🦀\n日本語 \\ '".into(), vec!["".into()], -1e-9);
    let map: BTreeMap<String, Vec<Option<u32>>> =
        [("a".into(), vec![Some(1), None]), ("é".into(), vec![])].into();

    for round in ["load", "hit"] {
        let user = cache.get_or_load("odd", || db.load(odd.clone())).await;
        let none = cache.get_or_load("none", || db.load(None::<User>)).await;
        let text = cache
            .get_or_load("text", || db.load(String::from("null")))
            .await;
        let nested = cache.get_or_load("map", || db.load(map.clone())).await;

        assert_eq!(
            user,
            Ok(odd.clone()),
            "expected the unicode user back ({round})"
        );
        assert_eq!(none, Ok(None), "expected a cached `None` back ({round})");
        assert_eq!(
            text,
            Ok("null".into()),
            "expected the string \"null\" back ({round})"
        );
        assert_eq!(
            nested,
            Ok(map.clone()),
            "expected the nested map back ({round})"
        );
    }
    assert_eq!(db.calls(), 4, "expected 4 loads, then 4 hits");
}

#[tokio::test]
async fn the_loaders_error_is_returned_and_nothing_is_cached() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    let failing = || async {
        db.load(()).await?;
        Err::<User, _>(LoadError("database is down".into()))
    };

    let failed = cache.get_or_load("user:1", failing).await;
    let stored_after_error = stored(&r, "user:1").await;
    let retried = cache.get_or_load("user:1", || db.load(alice())).await;

    let error = Err(LoadError("database is down".into()));
    assert_eq!(failed, error, "expected the loader's error, unchanged");
    assert_eq!(stored_after_error, None, "expected nothing cached");
    assert_eq!(retried, Ok(alice()), "expected the next call to load");
    assert_eq!(db.calls(), 2, "expected the loader to run again");
}

#[tokio::test]
async fn invalidate_makes_the_next_call_load_again() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    let before = cache.get_or_load("user:1", || db.load(alice())).await;

    let invalidated = cache.invalidate("user:1").await;
    let stored_after = stored(&r, "user:1").await;
    let after = cache.get_or_load("user:1", || db.load(bob())).await;
    let never_cached = cache.invalidate("never-cached").await;

    assert_eq!(before, Ok(alice()), "expected Alice from the loader");
    assert!(invalidated.is_ok(), "expected Ok, got {invalidated:?}");
    assert_eq!(stored_after, None, "expected invalidate to DEL the key");
    assert_eq!(after, Ok(bob()), "expected a fresh load (Bob)");
    assert_eq!(db.calls(), 2, "expected a second load");
    let msg = "expected invalidating a key that is not cached to be Ok";
    assert!(never_cached.is_ok(), "{msg}, got {never_cached:?}");
}

#[tokio::test]
async fn different_keys_and_namespaces_do_not_collide() {
    let r = TestRedis::new().await;
    let v1 = Cache::new(r.client(), &r.key("v1"), TTL);
    let v2 = Cache::new(r.client(), &r.key("v2"), TTL);
    let db = Db::default();

    let a = v1.get_or_load("user", || db.load(alice())).await;
    let b = v1.get_or_load("user:2", || db.load(bob())).await;
    let other_namespace = v2.get_or_load("user", || db.load(bob())).await;
    let a_again = v1.get_or_load("user", || db.load(bob())).await;
    let other_case = v1.get_or_load("USER", || db.load(bob())).await;

    assert_eq!(a, Ok(alice()), "expected Alice under \"user\"");
    assert_eq!(b, Ok(bob()), "expected Bob under \"user:2\"");
    assert_eq!(other_namespace, Ok(bob()), "expected v2 not to see v1");
    assert_eq!(a_again, Ok(alice()), "expected v1's Alice to stay");
    assert_eq!(
        other_case,
        Ok(bob()),
        "expected \"USER\" to be a key of its own (keys are used as given: \"{{namespace}}:USER\"), \
         but it saw the value cached under \"user\""
    );
    assert_eq!(db.calls(), 4, "expected one load per key and namespace");
}

#[tokio::test]
async fn a_corrupt_cached_value_is_a_miss_and_is_overwritten() {
    let r = TestRedis::new().await;
    let cache = cache(&r);
    let corrupt: [(&str, &[u8]); 3] = [
        ("not JSON", b"{not json"),
        ("JSON of another shape", br#"{"id":"one"}"#),
        ("not even UTF-8", &[0xff, 0xfe, 0x00]),
    ];

    for (what, bytes) in corrupt {
        let seeded: redis::RedisResult<()> = r.admin().await.set(r.key("user:1"), bytes).await;
        seeded.unwrap_or_else(|e| panic!("could not seed the key: {e}"));
        let db = Db::default();

        let before = r.clock_ms().await;
        let got = cache.get_or_load("user:1", || db.load(alice())).await;
        let after = r.clock_ms().await;

        assert_eq!(got, Ok(alice()), "expected a miss over {what}");
        assert_eq!(db.calls(), 1, "expected one load over {what}");
        let raw = stored(&r, "user:1").await.unwrap_or_default();
        let fixed: Result<User, _> = serde_json::from_slice(&raw);
        assert!(
            matches!(&fixed, Ok(user) if *user == alice()),
            "expected the value that was {what} to be overwritten with Alice, but Redis holds {:?}",
            String::from_utf8_lossy(&raw)
        );
        assert_expires_ttl_after_the_write(&r, "user:1", before, after).await;
    }
}
