//! Single-flight: concurrent misses for one key load once; misses for different keys do not
//! wait for each other.

use std::sync::Arc;
use std::time::Duration;

use cache_aside::Cache;
use kata_testkit::TestRedis;
use tokio::sync::Barrier;

use super::{Db, LoadError, TTL, alice, cache, user, within};
use kata_testkit::redis_fakes::counting_proxy;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_misses_for_one_key_call_the_loader_once() {
    const TASKS: usize = 50;
    let r = TestRedis::new().await;
    let proxy = counting_proxy(&r).await;
    let cache = Arc::new(Cache::new(proxy.client.clone(), r.namespace(), TTL));
    let db = Arc::new(Db::default());
    let barrier = Arc::new(Barrier::new(TASKS));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..TASKS {
        let (cache, db, barrier) = (cache.clone(), db.clone(), barrier.clone());
        let mut gets = proxy.gets.clone();
        tasks.spawn(async move {
            barrier.wait().await;
            let loader = || async move {
                db.load(()).await?;
                // The load lasts until Redis has received 50 GETs: every call has looked in
                // the cache and missed (or is about to) while this load is still in flight.
                // A cache that takes the key's lock before it reads sends no more GETs; for
                // it the load ends after 2 s, when the other calls are waiting on the lock.
                let everyone_read = gets.wait_for(|gets| *gets >= TASKS);
                let _ = tokio::time::timeout(Duration::from_secs(2), everyone_read).await;
                Ok::<_, LoadError>(alice())
            };
            cache.get_or_load("hot", loader).await
        });
    }
    let results = within("the 50 concurrent calls", tasks.join_all()).await;

    let calls = db.calls();
    let msg = "expected 50 concurrent misses for one key to call the loader once";
    assert_eq!(calls, 1, "{msg}, but it was called {calls} times");
    let wrong: Vec<_> = results.iter().filter(|got| **got != Ok(alice())).collect();
    assert!(wrong.is_empty(), "expected Alice for all, got {wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn misses_for_different_keys_load_at_the_same_time() {
    // More keys than any fixed set of striped locks has stripes: with locks shared between
    // keys, two of these would share one, and one would wait for the other.
    const KEYS: usize = 200;
    let r = TestRedis::new().await;
    let cache = Arc::new(cache(&r));
    let all_loading = Arc::new(Barrier::new(KEYS));

    // Each loader waits until every other one has started: this finishes only if the 200
    // loads run at the same time, i.e. single-flight locks per key, not the whole cache.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..KEYS {
        let (cache, all_loading) = (cache.clone(), all_loading.clone());
        tasks.spawn(async move {
            let loader = || async move {
                all_loading.wait().await;
                Ok::<_, LoadError>(user(i as i64, "Alice"))
            };
            (i, cache.get_or_load(&format!("user:{i}"), loader).await)
        });
    }
    let results = within(
        "misses for 200 different keys at once (each load waits until all 200 have started: \
         keys that share a lock wait for each other)",
        tasks.join_all(),
    )
    .await;

    let wrong: Vec<_> = results
        .iter()
        .filter(|(i, got)| *got != Ok(user(*i as i64, "Alice")))
        .collect();
    assert!(
        wrong.is_empty(),
        "expected each key's own value, got {wrong:?}"
    );
}
