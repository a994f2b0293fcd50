//! Cache-aside over a real Redis. Each test gets its own key namespace, and the client handed
//! to the cache logs in as a Redis user that may only touch keys under that namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use cache_aside::Cache;
use kata_testkit::TestRedis;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use tokio::sync::{Barrier, Notify, watch};

/// Long enough never to expire during a test; the tests read it back with PTTL.
const TTL: Duration = Duration::from_millis(45_000);
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

async fn pttl(r: &TestRedis, key: &str) -> i64 {
    let got = r.admin().await.pttl(r.key(key)).await;
    got.unwrap_or_else(|e| panic!("could not PTTL {}: {e}", r.key(key)))
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

    let got = cache.get_or_load("user:1", || db.load(alice())).await;

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
    let (ttl, max) = (pttl(&r, "user:1").await, TTL.as_millis() as i64);
    assert!(
        ttl > 0 && ttl <= max,
        "expected PTTL between 1 and {max} ms, but got {ttl} (-1: the key never expires)"
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

    assert_eq!(a, Ok(alice()), "expected Alice under \"user\"");
    assert_eq!(b, Ok(bob()), "expected Bob under \"user:2\"");
    assert_eq!(other_namespace, Ok(bob()), "expected v2 not to see v1");
    assert_eq!(a_again, Ok(alice()), "expected v1's Alice to stay");
    assert_eq!(db.calls(), 3, "expected one load per key and namespace");
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

        let got = cache.get_or_load("user:1", || db.load(alice())).await;

        assert_eq!(got, Ok(alice()), "expected a miss over {what}");
        assert_eq!(db.calls(), 1, "expected one load over {what}");
        let raw = stored(&r, "user:1").await.unwrap_or_default();
        let fixed: Result<User, _> = serde_json::from_slice(&raw);
        assert!(
            matches!(&fixed, Ok(user) if *user == alice()),
            "expected the value that was {what} to be overwritten with Alice, but Redis holds {:?}",
            String::from_utf8_lossy(&raw)
        );
        let ttl = pttl(&r, "user:1").await;
        assert!(ttl > 0, "expected the TTL on it, got PTTL {ttl}");
    }
}

#[tokio::test]
async fn when_redis_is_down_the_loader_serves_every_call() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let closed_port = closed.expect("a free port").port();
    let down = [
        ("a closed port", format!("redis://127.0.0.1:{closed_port}")),
        ("no socket", "redis+unix:///nonexistent/kata.sock".into()),
    ];

    for (what, url) in down {
        let client = redis::Client::open(url.as_str()).expect("a valid URL");
        let (cache, db) = (Cache::new(client, "kata_down", TTL), Db::default());

        for call in 1..=2 {
            let got = within(what, cache.get_or_load("user:1", || db.load(alice()))).await;

            assert_eq!(
                got,
                Ok(alice()),
                "expected the loader's value with Redis at {what} (call {call})"
            );
        }
        assert_eq!(db.calls(), 2, "expected each call to load ({what})");
        let invalidated = within(what, cache.invalidate("user:1")).await;
        let msg = format!("expected invalidate to report that Redis at {what} is unreachable");
        assert!(invalidated.is_err(), "{msg}, got {invalidated:?}");
    }
}

#[tokio::test]
async fn a_redis_that_never_answers_does_not_hang_the_call() {
    // Accepts connections and never writes a byte back: a frozen server or a dead network path.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a valid URL");
    let (cache, db) = (Cache::new(client, "kata_silent", TTL), Db::default());

    let call = cache.get_or_load("user:1", || db.load(alice()));
    let got = within("a call to a Redis that never answers", call).await;
    silent.abort();

    assert_eq!(got, Ok(alice()), "expected the loader's value");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_for_one_key_call_the_loader_once() {
    const TASKS: usize = 50;
    let r = TestRedis::new().await;
    let (cache, db) = (Arc::new(cache(&r)), Arc::new(Db::default()));
    let everyone_loading = Arc::new(Notify::new());
    let (open_gate, gate) = watch::channel(false);
    let barrier = Arc::new(Barrier::new(TASKS));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (cache, db, barrier) = (cache.clone(), db.clone(), barrier.clone());
        let (everyone_loading, mut gate) = (everyone_loading.clone(), gate.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            let loader = || async move {
                if db.load(()).await.is_ok() && db.calls() == TASKS {
                    everyone_loading.notify_one();
                }
                // The loader stays busy until the test opens the gate, so every other
                // call arrives while the first load is still in flight.
                let _ = gate.wait_for(|open| *open).await;
                Ok::<_, LoadError>(alice())
            };
            cache.get_or_load("hot", loader).await
        });
    }
    // Without single-flight all 50 calls reach the loader within milliseconds; with it only
    // one ever does, and the gate opens after this wait. A correct cache passes either way.
    let _ = tokio::time::timeout(Duration::from_secs(2), everyone_loading.notified()).await;
    open_gate.send_replace(true);
    let results = within("the 50 concurrent calls", tasks.join_all()).await;

    let calls = db.calls();
    let msg = "expected 50 concurrent misses for one key to call the loader once";
    assert_eq!(calls, 1, "{msg}, but it was called {calls} times");
    let wrong: Vec<_> = results.iter().filter(|got| **got != Ok(alice())).collect();
    assert!(wrong.is_empty(), "expected Alice for all, got {wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn misses_for_different_keys_load_at_the_same_time() {
    let r = TestRedis::new().await;
    let cache = cache(&r);
    let (a_loading, b_loading) = (Notify::new(), Notify::new());

    // Each loader waits until the other one has started: this finishes only if the two
    // loads run at the same time, i.e. single-flight locks per key, not the whole cache.
    let a = cache.get_or_load("a", || async {
        a_loading.notify_one();
        b_loading.notified().await;
        Ok::<_, LoadError>(alice())
    });
    let b = cache.get_or_load("b", || async {
        b_loading.notify_one();
        a_loading.notified().await;
        Ok::<_, LoadError>(bob())
    });
    let both = within("loads of \"a\" and \"b\" at once", async {
        tokio::join!(a, b)
    })
    .await;

    assert_eq!(both, (Ok(alice()), Ok(bob())), "expected each key's value");
}
