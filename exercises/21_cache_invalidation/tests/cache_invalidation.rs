//! Hidden tests for the cache invalidation kata: real Postgres, real Redis (a namespace per
//! test, inspected through an unrestricted connection), and staleness measured, not assumed:
//! reads from a second client, a reader forced into the middle of a write by a row lock the
//! test holds, concurrent writers, and millisecond TTLs that Redis expires by itself.
//!
//! Rule (README / stub) -> test:
//! - `pick()` in `[base, base + jitter]`, spread
//!   -> `a_jittered_ttl_stays_within_base_and_base_plus_jitter_and_varies`
//! - `put`: JSON with a jittered TTL in one command, never `-1`
//!   -> `one_hundred_keys_stored_together_expire_at_spread_out_times`; in whole
//!   milliseconds, not seconds -> `exactness::put_stores_the_ttl_to_the_millisecond`; value
//!   and TTL in one command (a connection dropped after the first)
//!   -> `exactness::a_connection_dropped_right_after_put_leaves_no_value_without_its_ttl`
//! - `get`: missing or undecodable -> `Ok(None)`
//!   -> `a_cached_value_that_does_not_decode_is_a_miss`
//! - expiry by TTL, then a fresh load -> `an_expired_entry_is_reloaded_from_the_database`
//! - write-through: commit, then store with a TTL; a second client reads it
//!   -> `write_through_commits_first_and_a_second_client_reads_the_new_value`;
//!   a failing COMMIT -> `Database`, cache untouched
//!   -> `a_write_through_whose_commit_fails_leaves_the_cache_as_it_was`
//! - delete-on-write: key gone, next read re-caches
//!   -> `delete_on_write_removes_the_key_and_the_next_read_repopulates_it`;
//!   a reader during the row-lock wait, then during the COMMIT
//!   -> `a_reader_in_the_middle_of_a_write_cannot_leave_the_old_row_in_the_cache`; a read
//!   that goes to Postgres meanwhile does not wait for the row lock
//!   -> `exactness::an_uncached_read_does_not_wait_for_a_writes_row_lock`;
//!   20 concurrent writers -> `after_concurrent_writers_settle_the_cache_matches_the_database`
//! - generations: every entry reloads, other groups stay
//!   -> `generations::bumping_the_generation_makes_every_old_entry_unreachable`; nothing deleted, entries
//!   keep a TTL, the counter has none, returns 1 then 2
//!   -> `generations::invalidating_a_group_leaves_old_entries_to_expire_instead_of_deleting_them`; one
//!   atomic INCR: two servers at once make it 2
//!   -> `exactness::two_servers_invalidating_a_group_at_once_both_count`
//! - query cache: served from Redis (with a TTL), reloaded after a write to a read table, also when a
//!   query ran while the write waited for its row lock (bump after the write)
//!   -> `generations::a_cached_query_is_served_until_a_write_to_its_table`; parameters in the key
//!   -> `generations::the_same_sql_with_different_parameters_does_not_collide`; other tables stay cached
//!   -> `generations::a_write_invalidates_only_the_queries_that_read_its_table`

#[path = "cache_invalidation/exactness.rs"]
mod exactness;
#[path = "cache_invalidation/generations.rs"]
mod generations;
#[path = "cache_invalidation/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cache_invalidation::{CacheError, Param, Product, TtlPolicy};
use support::*;
use tokio::sync::Barrier;

#[test]
fn a_jittered_ttl_stays_within_base_and_base_plus_jitter_and_varies() {
    let policy = TtlPolicy {
        base: Duration::from_millis(10_000),
        jitter: Duration::from_millis(2_000),
    };

    let picks: Vec<u128> = (0..1_000).map(|_| policy.pick().as_millis()).collect();

    let (min, max) = (picks.iter().min().copied(), picks.iter().max().copied());
    assert!(
        picks.iter().all(|ms| (10_000..=12_000).contains(ms)),
        "expected every TTL within [10000, 12000] ms, got min {min:?} and max {max:?}"
    );
    assert!(
        max.zip(min).is_some_and(|(max, min)| max - min >= 1_000),
        "expected 1000 TTLs spread over the 2000 ms of jitter, got min {min:?} and max {max:?}"
    );
}

#[tokio::test]
async fn one_hundred_keys_stored_together_expire_at_spread_out_times() {
    let kata = kata(LONG).await;
    let started = Instant::now();

    for i in 0..100 {
        let stored = kata.caches.put(&format!("warm:{i}"), &i).await;
        stored.unwrap_or_else(|e| panic!("expected put to succeed, got {e}"));
    }

    let mut pttls = Vec::new();
    for i in 0..100 {
        pttls.push(kata.pttl(&kata.redis.key(&format!("warm:{i}"))).await);
    }
    // Redis counts whole milliseconds: 2 ms of rounding on top of the time the test took.
    let elapsed = started.elapsed().as_millis() as i64 + 2;
    let (base, jitter) = (LONG.base.as_millis() as i64, LONG.jitter.as_millis() as i64);
    let (min, max) = (pttls.iter().min().copied(), pttls.iter().max().copied());
    assert!(
        pttls
            .iter()
            .all(|ms| (base - elapsed..=base + jitter).contains(ms)),
        "expected every PTTL between {base} ms (less the {elapsed} ms the test took) and \
         {base} + {jitter} ms, got min {min:?} and max {max:?} (-1: no TTL)"
    );
    assert!(
        max.zip(min)
            .is_some_and(|(max, min)| max - min >= jitter / 2),
        "expected 100 keys set together to get TTLs spread over the {jitter} ms of jitter (so \
         they do not all expire at once), got min {min:?} and max {max:?}"
    );
}

#[tokio::test]
async fn an_expired_entry_is_reloaded_from_the_database() {
    let short = TtlPolicy {
        base: Duration::from_millis(20),
        jitter: Duration::from_millis(20),
    };
    let kata = kata(short).await;
    let first = kata.caches.get_product(1).await.expect("reading Dune");
    kata.sneak("UPDATE products SET price_cents = 1234 WHERE id = 1")
        .await;

    wait_until_expired(&mut kata.admin().await, &kata.redis.key("product:1")).await;
    let after_expiry = kata.caches.get_product(1).await.expect("reading Dune");

    assert_eq!(first, dune(), "expected Dune as seeded");
    assert_eq!(
        after_expiry.price_cents, 1234,
        "expected the entry to expire by its TTL (20-40 ms) and the next read to load the new price"
    );
}

#[tokio::test]
async fn write_through_commits_first_and_a_second_client_reads_the_new_value() {
    let kata = kata(LONG).await;
    kata.caches.get_product(1).await.expect("warming the cache");
    let new = product(1, "Dune Messiah", "books", 1_500);

    let written = kata.caches.update_write_through(&new).await;

    assert!(
        written.is_ok(),
        "expected the write to succeed, got {written:?}"
    );
    assert_eq!(kata.row(1).await, new, "expected the new row in Postgres");
    assert_eq!(
        kata.cached_product(1).await,
        Some(new.clone()),
        "expected write-through to leave the new value in Redis under product:1"
    );
    let second = caches(&kata.db, &kata.redis, LONG).await;
    let read = second
        .get_product(1)
        .await
        .expect("reading from a second client");
    assert_eq!(
        read, new,
        "expected a second client to read the new value at once"
    );
    let ttl = kata.pttl(&kata.redis.key("product:1")).await;
    assert!(
        ttl > 0,
        "expected the written-through value to have a TTL, got PTTL {ttl}"
    );
}

#[tokio::test]
async fn a_write_through_whose_commit_fails_leaves_the_cache_as_it_was() {
    let kata = kata(LONG).await;
    kata.caches.get_product(1).await.expect("warming the cache");
    // The category's foreign key is checked at COMMIT: the UPDATE itself succeeds.
    let doomed = product(1, "Dune", "no-such-category", 1_000);

    let written = kata.caches.update_write_through(&doomed).await;

    assert!(
        matches!(written, Err(CacheError::Database(_))),
        "expected the commit to fail with a Database error, got {written:?}"
    );
    assert_eq!(kata.row(1).await, dune(), "expected Postgres to keep Dune");
    let cached = kata.cached_product(1).await;
    assert!(
        cached.is_none() || cached == Some(dune()),
        "expected the cache to hold the committed Dune (or nothing), but it holds {cached:?}: \
         the cache was written before the transaction committed"
    );
}

#[tokio::test]
async fn delete_on_write_removes_the_key_and_the_next_read_repopulates_it() {
    let kata = kata(LONG).await;
    kata.caches.get_product(1).await.expect("warming the cache");
    let new = product(1, "Dune", "books", 1_999);

    let written = kata.caches.update_delete_on_write(&new).await;
    let cached_after_write = kata.cached_product(1).await;
    let read = kata.caches.get_product(1).await;

    assert!(
        written.is_ok(),
        "expected the write to succeed, got {written:?}"
    );
    assert_eq!(kata.row(1).await, new, "expected the new row in Postgres");
    assert_eq!(
        cached_after_write, None,
        "expected the key to be gone right after the write returned"
    );
    assert!(
        matches!(&read, Ok(p) if *p == new),
        "expected the next read to load the new value, got {read:?}"
    );
    assert_eq!(
        kata.cached_product(1).await,
        Some(new),
        "expected the read to repopulate the key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_in_the_middle_of_a_write_cannot_leave_the_old_row_in_the_cache() {
    let kata = kata(LONG).await;
    let caches = Arc::new(kata.caches);
    caches.get_product(1).await.expect("warming the cache");
    let new = product(1, "Dune", "books", 2_222);
    // The test holds Dune's row lock: the writer's UPDATE waits inside Postgres.
    let mut lock = kata.db.admin().await;
    sqlx::raw_sql("BEGIN; SELECT * FROM products WHERE id = 1 FOR UPDATE")
        .execute(&mut lock)
        .await
        .expect("locking Dune");
    let writer = tokio::spawn({
        let (caches, new) = (caches.clone(), new.clone());
        async move { caches.update_delete_on_write(&new).await }
    });
    wait_until_blocked(&kata.db, "the writer's UPDATE").await;

    // A reader arrives while the write is in flight: it must see Dune as committed.
    let during = caches.get_product(1).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut lock)
        .await
        .expect("releasing Dune");
    let written = writer.await.expect("the writer panicked");
    let after = caches.get_product(1).await;

    assert!(
        written.is_ok(),
        "expected the write to succeed, got {written:?}"
    );
    assert!(
        matches!(&during, Ok(p) if *p == dune()),
        "expected the read during the write to return the committed Dune, got {during:?}"
    );
    assert!(
        matches!(&after, Ok(p) if *p == new),
        "expected a read after the write returned to see price 2222, got {after:?}: a reader \
         between the cache DEL and the COMMIT cached the old row again (delete AFTER commit)"
    );

    // Again, with the writer held up in its COMMIT (a deferred trigger waits for an advisory
    // lock the test holds): the UPDATE is done, the transaction is not committed yet.
    sqlx::raw_sql(
        "CREATE FUNCTION wait_at_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
         BEGIN PERFORM pg_advisory_xact_lock(2121); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER wait_at_commit AFTER UPDATE ON products
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION wait_at_commit();
         SELECT pg_advisory_lock(2121);",
    )
    .execute(&mut lock)
    .await
    .expect("installing the commit gate");
    let newer = product(1, "Dune", "books", 4_444);
    let writer = tokio::spawn({
        let (caches, newer) = (caches.clone(), newer.clone());
        async move { caches.update_delete_on_write(&newer).await }
    });
    wait_until_blocked(&kata.db, "the writer's COMMIT").await;
    let during = caches.get_product(1).await;
    sqlx::raw_sql("SELECT pg_advisory_unlock(2121)")
        .execute(&mut lock)
        .await
        .expect("opening the commit gate");
    let written = writer.await.expect("the writer panicked");
    let after = caches.get_product(1).await;

    assert!(
        written.is_ok(),
        "expected the second write to succeed, got {written:?}"
    );
    assert!(
        matches!(&during, Ok(p) if *p == new),
        "expected the read during the second write's COMMIT to return the committed price \
         2222, got {during:?}"
    );
    assert!(
        matches!(&after, Ok(p) if *p == newer),
        "expected a read after the second write returned to see price 4444, got {after:?}: \
         the cache DEL ran before the COMMIT, and a reader in between cached the old row again \
         (delete AFTER commit)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_concurrent_writers_settle_the_cache_matches_the_database() {
    const WRITERS: usize = 20;
    let kata = kata(LONG).await;
    let caches = Arc::new(support::caches(&kata.db, &kata.redis, LONG).await);
    caches.get_product(1).await.expect("warming the cache");
    let start = Arc::new(Barrier::new(WRITERS));

    let writers: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (caches, start) = (caches.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let new = product(1, "Dune", "books", 3_000 + i as i64);
                caches.update_delete_on_write(&new).await
            })
        })
        .collect();
    for writer in writers {
        let written = writer.await.expect("a writer panicked");
        assert!(
            written.is_ok(),
            "expected every write to succeed, got {written:?}"
        );
    }
    let cached = caches.get_product(1).await;

    let in_db = kata.row(1).await;
    assert!(
        matches!(&cached, Ok(p) if *p == in_db),
        "after {WRITERS} concurrent writes: expected the cache to serve the database's {in_db:?}, got {cached:?}"
    );
}

#[tokio::test]
async fn a_cached_value_that_does_not_decode_is_a_miss() {
    let kata = kata(LONG).await;
    let mut admin = kata.admin().await;
    let () = redis::cmd("SET")
        .arg(kata.redis.key("product:1"))
        .arg("not json {")
        .arg("PX")
        .arg(600_000)
        .query_async(&mut admin)
        .await
        .expect("storing a value that does not decode");

    let junk = kata.caches.get::<Product>("product:1").await;
    let missing = kata.caches.get::<Product>("nothing:here").await;
    let read = kata.caches.get_product(1).await;

    assert!(
        matches!(junk, Ok(None)),
        "expected get of a value that does not decode to be Ok(None), got {junk:?}"
    );
    assert!(
        matches!(missing, Ok(None)),
        "expected get of a missing key to be Ok(None), got {missing:?}"
    );
    assert!(
        matches!(&read, Ok(p) if *p == dune()),
        "expected get_product to treat the undecodable entry as a miss and load Dune, got {read:?}"
    );
    assert_eq!(
        kata.cached_product(1).await,
        Some(dune()),
        "expected the reload to replace the undecodable entry"
    );
}
