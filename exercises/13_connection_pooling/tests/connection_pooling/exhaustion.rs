//! The pool runs out: every call that cannot get a connection within `acquire_timeout` fails
//! with `Exhausted`, whether at the read, at the write, or in a burst of 100 calls.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use connection_pooling::{PoolError, pay_order};
use sqlx::AssertSqlSafe;
use tokio::sync::Mutex;

use super::{config, instant_provider, pool_of, server_connections, shop, take};

#[tokio::test]
async fn an_exhausted_pool_fails_fast_with_a_typed_error() {
    let db = shop(1).await;
    let timeout = Duration::from_millis(200);
    let pool = pool_of(&db, &config(2, timeout)).await;
    let held = take(&pool, 2).await;

    let called = AtomicBool::new(false);
    let started = Instant::now();
    let call = pay_order(&pool, 1, |_| async {
        called.store(true, SeqCst);
        String::new()
    });
    let result = tokio::time::timeout(timeout * 10, call).await;
    let waited = started.elapsed();
    let result = result.unwrap_or_else(|_| {
        panic!(
            "with every connection taken, pay_order was still waiting after {waited:?}, 10 times \
             the configured acquire_timeout of {timeout:?}: the pool must give up after acquire_timeout"
        )
    });
    assert!(
        matches!(result, Err(PoolError::Exhausted)),
        "with every connection taken: expected Err(Exhausted), got {result:?}"
    );
    assert!(
        waited >= timeout,
        "pay_order gave up after {waited:?}, before the configured acquire_timeout of {timeout:?}"
    );
    assert!(
        !called.load(SeqCst),
        "the order could not be read, so the provider must not be charged"
    );

    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_100_calls_never_opens_more_than_max_connections() {
    let db = shop(100).await;
    // The role's 10 s lock_timeout is a safety net against hangs: this test needs a bit longer.
    let relax = format!("ALTER ROLE {} SET lock_timeout = '30s'", db.role());
    sqlx::raw_sql(AssertSqlSafe(relax))
        .execute(&mut db.admin().await)
        .await
        .expect("raising lock_timeout");
    // The 95 calls left without a connection give up after this: short, as every run waits it.
    let pool = pool_of(&db, &config(5, Duration::from_millis(500))).await;
    drop(take(&pool, 5).await); // 5 open connections, so nobody waits for a connect
    // The test locks the table: every call that gets a connection blocks on its first read.
    let mut lock = db.admin().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .expect("locking orders");
    let calls: Vec<_> = (1..=100)
        .map(|id| {
            let pool = pool.clone();
            tokio::spawn(async move { pay_order(&pool, id, instant_provider).await })
        })
        .collect();

    // Wait until every call is blocked inside Postgres (holding a connection) or has given up.
    let blocked = db
        .wait_for_lock_waiters(
            "every call to be blocked in Postgres (holding a connection) or to have given up \
             after the 500 ms acquire_timeout",
            |waiting| {
                waiting + calls.iter().filter(|call| call.is_finished()).count() >= calls.len()
            },
        )
        .await;
    let mut observer = db.admin().await;
    let (open, _) = server_connections(&db, &mut observer).await;
    assert!(
        open <= 5 && pool.size() <= 5,
        "max_connections = 5, but during a burst of 100 calls the server saw {open} connections \
         ({blocked} busy) and the pool reports {}",
        pool.size()
    );

    sqlx::raw_sql("COMMIT")
        .execute(&mut lock)
        .await
        .expect("unlocking orders");
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("a pay_order call panicked"));
    }
    let paid = results.iter().filter(|r| r.is_ok()).count();
    let exhausted = results
        .iter()
        .filter(|r| matches!(r, Err(PoolError::Exhausted)))
        .count();
    assert_eq!(
        (paid, exhausted),
        (5, 95),
        "5 calls held the 5 connections while the table was locked; the other 95 must fail \
         with Exhausted. Other errors: {:?}",
        results
            .iter()
            .filter(|r| !matches!(r, Ok(_) | Err(PoolError::Exhausted)))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_pool_exhausted_during_the_provider_call_fails_the_write_with_exhausted() {
    let db = shop(1).await;
    let timeout = Duration::from_millis(200);
    let pool = pool_of(&db, &config(2, timeout)).await;
    // While the provider runs, other requests take both connections (the test holds them
    // until the call is over): recording the payment cannot get a connection in time.
    let held = Mutex::new(Vec::new());
    let (held_, pool_) = (&held, &pool);
    let call = pay_order(&pool, 1, |amount| async move {
        held_.lock().await.extend(take(pool_, 2).await);
        format!("pay_{amount}")
    });
    let result = tokio::time::timeout(timeout * 10, call).await;
    let result = result.unwrap_or_else(|_| {
        panic!(
            "with every connection taken after the provider call, pay_order was still waiting \
             after 10 times the configured acquire_timeout of {timeout:?}"
        )
    });
    assert!(
        matches!(result, Err(PoolError::Exhausted)),
        "every connection was taken while the provider ran, so the UPDATE that records the \
         payment could not get one within acquire_timeout: expected Err(Exhausted) (the pool \
         ran out, as for the read; not Database(PoolTimedOut)), got {result:?}"
    );
    drop(held);
}
