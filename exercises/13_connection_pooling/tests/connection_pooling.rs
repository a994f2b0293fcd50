//! Hidden tests for the connection pooling kata: real Postgres, one database per test.
//!
//! Nothing here waits and hopes: the test parks the calls where it wants them (behind a table
//! lock inside Postgres, or inside the slow provider call behind a gate it controls), waits
//! until every call has arrived, then looks at what the server and the pool see.
//!
//! Rule (README, stub docs) -> the test that fails when that rule alone is broken:
//! - each invalid setting its error, checked in the README's order, before any connection;
//!   `min == max` and a sub-millisecond timeout are valid -> an_invalid_config_is_rejected_with_a_typed_error
//! - every setting carried (also `idle_timeout: None`), `min_connections` open -> the_pool_is_built_from_the_config
//! - Payment, `paid` + reference stored, unknown order `OrderNotFound` without calling the
//!   provider, any other database error `Database` -> paying_an_order_calls_the_provider_and_records_its_answer
//! - `Exhausted` after the acquire timeout, not before, not 10x later
//!   -> exhaustion::an_exhausted_pool_fails_fast_with_a_typed_error
//! - the pool exhausted during the provider call: recording the payment is `Exhausted` too
//!   (not `Database`) -> exhaustion::a_pool_exhausted_during_the_provider_call_fails_the_write_with_exhausted
//! - at most `max_connections` on the server; 5 paid, 95 `Exhausted`
//!   -> exhaustion::a_burst_of_100_calls_never_opens_more_than_max_connections
//! - connections reused -> connections_are_reused_across_calls
//! - no connection held (checked out, active, idle in transaction) while the provider runs ->
//!   no_connection_is_held_while_the_slow_call_is_awaited

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use connection_pooling::{ConfigError, Payment, PoolConfig, PoolError, build_pool, pay_order};
use kata_testkit::TestDb;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres};
use tokio::sync::{Barrier, mpsc, watch};

#[path = "connection_pooling/exhaustion.rs"]
mod exhaustion;

const SCHEMA: &str = include_str!("../schema.sql");

/// A database with orders 1..=n (order i costs i * 100 cents). The learner's role may open at
/// most 20 connections, so a wrong answer cannot starve the server shared by parallel tests.
async fn shop(orders: i64) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    sqlx::query(
        "INSERT INTO orders (id, amount_cents) SELECT i, i * 100 FROM generate_series(1, $1) i",
    )
    .bind(orders)
    .execute(&mut admin)
    .await
    .expect("seeding orders");
    let limit = format!("ALTER ROLE {} CONNECTION LIMIT 20", db.role());
    sqlx::raw_sql(AssertSqlSafe(limit))
        .execute(&mut admin)
        .await
        .expect("limiting the role's connections");
    db
}

fn config(max_connections: u32, acquire_timeout: Duration) -> PoolConfig {
    PoolConfig {
        max_connections,
        min_connections: 0,
        acquire_timeout,
        idle_timeout: None,
    }
}

/// The learner's pool. On a loaded machine, opening a connection can take longer than the
/// short acquire timeouts used here, so `Exhausted` while building is retried (up to 30 s).
async fn pool_of(db: &TestDb, config: &PoolConfig) -> PgPool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match build_pool(db.options(), config).await {
            Ok(pool) => return pool,
            Err(PoolError::Exhausted) if Instant::now() < deadline => {}
            Err(e) => panic!("build_pool({config:?}) should succeed, got the error: {e}"),
        }
    }
}

/// Takes `n` connections out of the pool for the test (retrying timeouts of slow connects).
async fn take(pool: &PgPool, n: usize) -> Vec<PoolConnection<Postgres>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut held = Vec::new();
    while held.len() < n {
        match pool.acquire().await {
            Ok(conn) => held.push(conn),
            Err(sqlx::Error::PoolTimedOut) if Instant::now() < deadline => {}
            Err(e) => panic!("the test could not take a connection of the pool: {e}"),
        }
    }
    held
}

/// A provider that answers at once.
async fn instant_provider(amount: i64) -> String {
    format!("pay_{amount}")
}

/// Server connections of the learner's role to this database, in total and not idle.
async fn server_connections(db: &TestDb, observer: &mut PgConnection) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE state IN ('active', 'idle in transaction')) \
         FROM pg_stat_activity WHERE datname = $1 AND usename = $2",
    )
    .bind(db.name())
    .bind(db.role())
    .fetch_one(observer)
    .await
    .expect("reading pg_stat_activity")
}

#[tokio::test]
async fn the_pool_is_built_from_the_config() {
    let db = shop(1).await;
    let config = PoolConfig {
        max_connections: 7,
        min_connections: 3,
        acquire_timeout: Duration::from_millis(4_321),
        idle_timeout: Some(Duration::from_secs(90)),
    };
    let pool = pool_of(&db, &config).await;
    let options = pool.options();
    let applied = (
        options.get_max_connections(),
        options.get_min_connections(),
        options.get_acquire_timeout(),
        options.get_idle_timeout(),
    );
    assert_eq!(
        applied,
        (
            7,
            3,
            Duration::from_millis(4_321),
            Some(Duration::from_secs(90))
        ),
        "the pool's (max_connections, min_connections, acquire_timeout, idle_timeout) must be the config's"
    );
    let (open, _) = server_connections(&db, &mut db.admin().await).await;
    assert!(
        open >= 3 && pool.size() >= 3,
        "min_connections = 3: expected 3 connections open once build_pool returns, the server sees {open} and the pool {}",
        pool.size()
    );

    let never = PoolConfig {
        idle_timeout: None,
        ..config
    };
    let never = pool_of(&db, &never).await;
    let idle_timeout = never.options().get_idle_timeout();
    assert_eq!(
        idle_timeout, None,
        "idle_timeout: None means idle connections are never closed, but the pool's idle_timeout is {idle_timeout:?} (sqlx's default is 10 minutes)"
    );
}

#[tokio::test]
async fn an_invalid_config_is_rejected_with_a_typed_error() {
    // No server listens there: an invalid config must be refused before any connection.
    let nowhere: PgConnectOptions = "postgres://kata@127.0.0.1:9/nowhere"
        .parse()
        .expect("valid options");
    let second = Duration::from_secs(1);
    let with_min = |min_connections, config: PoolConfig| PoolConfig {
        min_connections,
        ..config
    };
    let cases = [
        (config(0, second), ConfigError::NoConnections),
        (config(5, Duration::ZERO), ConfigError::ZeroAcquireTimeout),
        (
            with_min(6, config(5, second)),
            ConfigError::MinAboveMax { min: 6, max: 5 },
        ),
        // Several rules broken at once: the first one in the README's order is reported.
        (
            with_min(1, config(0, Duration::ZERO)),
            ConfigError::NoConnections,
        ),
        (
            with_min(6, config(5, Duration::ZERO)),
            ConfigError::ZeroAcquireTimeout,
        ),
    ];
    for (config, expected) in cases {
        let result = build_pool(nowhere.clone(), &config).await;
        assert!(
            matches!(&result, Err(PoolError::InvalidConfig(e)) if *e == expected),
            "build_pool({config:?}): expected InvalidConfig({expected:?}) before connecting \
             anywhere, got {result:?}"
        );
    }
    for valid in [
        with_min(5, config(5, second)),
        config(1, Duration::from_micros(500)),
    ] {
        let result = valid.validate();
        assert_eq!(
            result,
            Ok(()),
            "{valid:?} is a valid config (min_connections may equal max_connections, and any \
             acquire_timeout longer than zero is fine)"
        );
    }
}

#[tokio::test]
async fn paying_an_order_calls_the_provider_and_records_its_answer() {
    let db = shop(3).await;
    let pool = pool_of(&db, &config(2, Duration::from_secs(10))).await;
    let payment = pay_order(&pool, 2, instant_provider)
        .await
        .unwrap_or_else(|e| panic!("paying order 2 should succeed, got the error: {e}"));
    let expected = Payment {
        order_id: 2,
        amount_cents: 200,
        payment_ref: "pay_200".into(),
    };
    assert_eq!(payment, expected, "order 2 costs 200 cents");
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, payment_ref FROM orders ORDER BY id")
            .fetch_all(&mut db.admin().await)
            .await
            .expect("reading orders");
    let paid = (2, "paid".to_string(), Some("pay_200".to_string()));
    let pending = |id| (id, "pending".to_string(), None);
    assert_eq!(
        rows,
        vec![pending(1), paid, pending(3)],
        "only order 2 is paid, with the provider's reference"
    );

    let called = AtomicBool::new(false);
    let result = pay_order(&pool, 99, |_| async {
        called.store(true, SeqCst);
        String::new()
    })
    .await;
    assert!(
        matches!(result, Err(PoolError::OrderNotFound(99))),
        "order 99 does not exist: expected OrderNotFound(99), got {result:?}"
    );
    assert!(
        !called.load(SeqCst),
        "the provider must not be charged for an order that does not exist"
    );

    sqlx::raw_sql("DROP TABLE orders")
        .execute(&mut db.admin().await)
        .await
        .expect("the test drops the table");
    let result = pay_order(&pool, 1, |_| async {
        called.store(true, SeqCst);
        String::new()
    })
    .await;
    assert!(
        matches!(result, Err(PoolError::Database(_))),
        "with the orders table gone, the read fails: expected Err(Database(..)) (not \
         OrderNotFound, not Exhausted), got {result:?}"
    );
    assert!(
        !called.load(SeqCst),
        "the order could not be read, so the provider must not be charged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_are_reused_across_calls() {
    let db = shop(100).await;
    let pool = pool_of(&db, &config(5, Duration::from_secs(20))).await;
    let start = Arc::new(Barrier::new(100));
    let calls: Vec<_> = (1..=100)
        .map(|id| {
            let (pool, start) = (pool.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                pay_order(&pool, id, instant_provider).await
            })
        })
        .collect();
    for call in calls {
        if let Err(e) = call.await.expect("a pay_order call panicked") {
            panic!("100 concurrent calls on a pool of 5 must all succeed, one failed with: {e}");
        }
    }
    let (paid, backends): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'paid'), count(DISTINCT paid_by_backend) FROM orders",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("reading orders");
    assert_eq!(paid, 100, "every one of the 100 orders must be paid");
    assert!(
        backends <= 5,
        "100 calls on a pool of max 5 were written by {backends} different server connections: \
         a pool hands the same few connections out again and again (at most 5 here)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_connection_is_held_while_the_slow_call_is_awaited() {
    const CALLS: usize = 50;
    let db = shop(CALLS as i64).await;
    let pool = pool_of(&db, &config(5, Duration::from_secs(5))).await;
    drop(take(&pool, 5).await); // 5 open connections, so nobody waits for a connect
    let (entered_tx, mut entered) = mpsc::unbounded_channel::<i64>();
    let (open_gate, gate) = watch::channel(false);
    let calls: Vec<_> = (1..=CALLS as i64)
        .map(|id| {
            let (pool, entered_tx, mut gate) = (pool.clone(), entered_tx.clone(), gate.clone());
            tokio::spawn(async move {
                // The slow provider: says it is in, then waits until the test opens the gate.
                let provider = |amount: i64| async move {
                    entered_tx.send(id).expect("the test stopped listening");
                    gate.wait_for(|open| *open).await.expect("the gate closed");
                    format!("pay_{amount}")
                };
                pay_order(&pool, id, provider).await
            })
        })
        .collect();
    drop(entered_tx);

    // Every call must get inside the provider call, 50 of them on a pool of 5.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut inside = 0;
    while inside < CALLS {
        if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(20), entered.recv()).await {
            inside += 1;
            continue;
        }
        let finished = calls.iter().filter(|call| call.is_finished()).count();
        assert!(
            finished == 0 && Instant::now() < deadline,
            "only {inside} of {CALLS} calls reached the slow provider call ({finished} finished \
             early, e.g. with Exhausted): with max_connections = 5, each call parked in the \
             provider call is still holding a pooled connection"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut observer = db.admin().await;
    loop {
        let in_use = (pool.size() as usize).saturating_sub(pool.num_idle());
        let (_, busy) = server_connections(&db, &mut observer).await;
        if in_use == 0 && busy == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "all {CALLS} calls are inside the slow provider call, yet the pool has {in_use} \
             connections checked out and the server sees {busy} active or idle in transaction"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    open_gate.send(true).expect("the calls stopped listening");
    for call in calls {
        if let Err(e) = call.await.expect("a pay_order call panicked") {
            panic!("once the provider answers, every call must succeed, one failed with: {e}");
        }
    }
}
