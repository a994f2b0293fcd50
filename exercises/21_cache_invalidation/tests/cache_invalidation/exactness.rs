//! What a quick test would let through: a TTL in whole seconds, a value whose TTL comes in a
//! second command, a reader that waits for a writer's row lock, a generation bumped by GET
//! then SET.

use std::time::{Duration, Instant};

use cache_invalidation::{Caches, TtlPolicy};
use kata_testkit::redis_fakes::cutting_proxy;
use kata_testkit::{TestDb, TestRedis};

use super::support::*;

/// Only detects a call that hangs.
const HANG: Duration = Duration::from_secs(20);

#[tokio::test]
async fn put_stores_the_ttl_to_the_millisecond() {
    // 10.5 s: whole seconds give 10 000 or 11 000 ms, far outside [10 500, 10 501].
    let policy = TtlPolicy {
        base: Duration::from_millis(10_500),
        jitter: Duration::from_millis(1),
    };
    let kata = kata(policy).await;
    let key = kata.redis.key("exact");

    // The PTTL read back is lower by the time the put and the read took: that is only a
    // measurement if it took far less than the half second whole seconds would be off by.
    let mut attempts = 0;
    let (pttl, elapsed) = loop {
        let started = Instant::now();
        let stored = kata.caches.put("exact", &1).await;
        stored.unwrap_or_else(|e| panic!("expected put to succeed, got {e}"));
        let pttl = kata.pttl(&key).await;
        let elapsed = started.elapsed().as_millis() as i64 + 2;
        if elapsed < 250 {
            break (pttl, elapsed);
        }
        attempts += 1;
        assert!(
            attempts < 20,
            "put and PTTL took 250 ms or more 20 times in a row: too slow to measure the TTL"
        );
    };

    assert!(
        (10_500 - elapsed..=10_501).contains(&pttl),
        "expected put with a TTL policy of 10500 ms + up to 1 ms of jitter to store the value \
         with a PTTL between {} and 10501 ms (a TTL in whole milliseconds, PSETEX or SET PX), \
         got {pttl} ms (-1: no TTL; 10000 or 11000: whole seconds)",
        10_500 - elapsed
    );
}

#[tokio::test]
async fn a_connection_dropped_right_after_put_leaves_no_value_without_its_ttl() {
    let (db, r) = (TestDb::new(SCHEMA).await, TestRedis::new().await);
    r.require_isolation();
    let proxy = cutting_proxy(&r, &r.key("cut")).await;
    let caches = Caches::new(db.pool().await, proxy.client.clone(), r.namespace(), LONG).await;
    let caches = caches.unwrap_or_else(|e| panic!("expected Caches::new to succeed, got {e}"));

    // The connection drops right after the first command naming the key reaches Redis: put
    // may fail, but must not leave the value behind without its TTL.
    let _ = tokio::time::timeout(HANG, caches.put("cut", &1)).await;
    // Once Redis has closed the connection, it has run every command it received on it.
    let closed = tokio::time::timeout(HANG, async {
        while !r.learner_connections().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    closed
        .await
        .expect("Redis closes the cache's connection once the proxy drops it");

    let pttl = r.pttl(&r.key("cut")).await;
    assert!(
        pttl == -2 || pttl > 0,
        "expected `cut` either stored with its TTL or not stored at all after the connection \
         dropped right after put's first command on it, but it is stored without an expiry \
         (PTTL {pttl}): the value and its TTL must go in one command (PSETEX, or SET with PX), \
         not SET then PEXPIRE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncached_read_does_not_wait_for_a_writes_row_lock() {
    let kata = kata(LONG).await;
    // The test is a writer in the middle of its transaction: Dune's row is locked, its new
    // price not committed. Dune is not cached, so the read goes to Postgres.
    let held = kata
        .db
        .hold_locks("UPDATE products SET price_cents = 9999 WHERE id = 1")
        .await;
    let caches = kata.caches;
    let read = tokio::spawn(async move { caches.get_product(1).await });

    // Returns as soon as the read has returned or waits for the lock (Postgres' own view).
    kata.db
        .wait_until_blocked(
            "the read to return or to wait for Dune's row lock",
            &[&read],
        )
        .await;
    let waited = !read.is_finished();
    held.rollback().await;
    let read = read.await.expect("the read panicked");

    assert!(
        !waited,
        "expected a read of an uncached row to return the committed row at once while a write \
         holds the row's lock, but it waited for that lock inside Postgres (a plain SELECT \
         never waits for row locks; SELECT ... FOR SHARE or FOR UPDATE does); after the \
         write rolled back it returned {read:?}"
    );
    assert!(
        matches!(&read, Ok(p) if *p == dune()),
        "expected the committed Dune (price 1000), got {read:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_invalidating_a_group_at_once_both_count() {
    let kata = kata(LONG).await;
    // PausedWrites::held finds the repository's connections by their ACL user.
    kata.redis.require_isolation();
    let other_server = caches(&kata.db, &kata.redis, LONG).await;
    let learner = [kata.redis.namespace()];

    // Redis holds every write (reads still run) until both invalidations have one held: a
    // GET then SET reads the same generation on both servers before either writes.
    let mut paused = kata.redis.pause_writes(Duration::from_millis(5_000)).await;
    let (first, second) = tokio::join!(kata.caches.invalidate_group("catalog"), async {
        paused
            .wait_until_held(&learner, "the first invalidation to be held", |held| {
                held >= 1
            })
            .await;
        let second = other_server.invalidate_group("catalog");
        let unpause = async {
            paused
                .wait_until_held(&learner, "both invalidations to be held", |held| held >= 2)
                .await;
            paused.unpause().await;
        };
        tokio::join!(second, unpause).0
    });

    let mut generations = [first, second].map(|r| r.unwrap_or_else(|e| panic!("{e}")));
    generations.sort();
    let counter: Option<u64> =
        redis::AsyncCommands::get(&mut kata.admin().await, kata.redis.key("gen:catalog"))
            .await
            .expect("GET gen:catalog");
    assert!(
        generations == [1, 2] && counter == Some(2),
        "expected two invalidations of a group on two servers at once to return 1 and 2 and \
         leave gen:catalog at 2, got {generations:?} and {counter:?}: a GET then SET lets both \
         read 0 and write 1, and one invalidation is lost (INCR is one atomic step)"
    );
}
