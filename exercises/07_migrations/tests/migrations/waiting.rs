//! A second migrator that finds the lock taken must wait for it, not skip: the test holds one
//! migrator inside a migration (its SQL reads a table the test has locked) and watches the
//! other in `pg_locks`, Postgres's own record of who waits for what.

use std::time::{Duration, Instant};

use kata_testkit::TestDb;
use migrations::{Migration, run};
use sqlx::{AssertSqlSafe, PgConnection};

/// Version 1 creates two gate tables; versions 2 and 3 each read one, so a migrator applying
/// them waits while the test holds that table's lock, holding MIGRATION_LOCK.
const GATED: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_gates",
        sql: "CREATE TABLE gate2 (); CREATE TABLE gate3 ();",
    },
    Migration {
        version: 2,
        name: "read_gate2",
        sql: "SELECT count(*) FROM gate2",
    },
    Migration {
        version: 3,
        name: "read_gate3",
        sql: "SELECT count(*) FROM gate3",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrator_does_not_return_while_another_is_inside_a_migration() {
    let db = TestDb::empty().await;
    let (pool_a, pool_b) = (db.pool().await, db.pool().await);
    run(&pool_a, &GATED[..1], None)
        .await
        .expect("applying version 1 (the gate tables)");
    let (mut gate2, mut gate3) = (
        lock_table(&db, "gate2").await,
        lock_table(&db, "gate3").await,
    );
    let mut observer = db.admin().await;

    // A holds MIGRATION_LOCK inside version 2, and B waits for it.
    let a = tokio::spawn(async move { run(&pool_a, GATED, None).await });
    let what = "the first migrator to wait inside version 2";
    until(&mut observer, what, GATE2, || false).await;
    let b = tokio::spawn(async move { run(&pool_b, GATED, None).await });
    let what = "the second migrator to wait for MIGRATION_LOCK";
    until(&mut observer, what, ADVISORY, || false).await;
    // Version 2 goes through; one of them takes the lock for version 3 and waits inside it,
    // holding MIGRATION_LOCK: the other must wait for it too, not return.
    commit(&mut gate2).await;
    let what = "a migrator to wait inside version 3";
    until(&mut observer, what, GATE3, || false).await;
    let what = "the other migrator to wait for MIGRATION_LOCK, or return";
    until(&mut observer, what, ADVISORY, || {
        a.is_finished() || b.is_finished()
    })
    .await;
    let returned_early = a.is_finished() || b.is_finished();
    commit(&mut gate3).await;
    let (a, b) = (a.await.expect("no panic"), b.await.expect("no panic"));

    assert!(
        !returned_early,
        "expected each migrator to wait while the other was inside version 3 (holding \
         MIGRATION_LOCK), but one returned with version 3 still pending ({a:?}, {b:?}): a \
         migrator must wait for the lock and re-check, not skip what it cannot lock (it would \
         start serving on the old schema)"
    );
    let mut all = [a, b].map(|r| r.expect("both migrators succeed")).concat();
    all.sort();
    assert_eq!(
        all,
        vec![2, 3],
        "expected versions 2 and 3 applied once between them"
    );
}

/// What a session of this database may be waiting for (a lock requested, not granted).
const GATE2: &str =
    "locktype = 'relation' AND relation IN (SELECT oid FROM pg_class WHERE relname = 'gate2')";
const GATE3: &str =
    "locktype = 'relation' AND relation IN (SELECT oid FROM pg_class WHERE relname = 'gate3')";
const ADVISORY: &str = "locktype = 'advisory'";

/// Polls `pg_locks` until a session waits for what `waited_for` describes, or `done()`.
async fn until(observer: &mut PgConnection, what: &str, waited_for: &str, done: impl Fn() -> bool) {
    let sql = format!(
        "SELECT exists(SELECT FROM pg_locks WHERE NOT granted AND {waited_for} \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting = sqlx::query_scalar(AssertSqlSafe(sql.as_str()))
            .fetch_one(&mut *observer)
            .await;
        if waiting.expect("the test could not read pg_locks") || done() {
            return;
        }
        assert!(Instant::now() < deadline, "expected {what} within 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// An open transaction of the test's, holding `table`'s ACCESS EXCLUSIVE lock.
async fn lock_table(db: &TestDb, table: &str) -> PgConnection {
    let mut admin = db.admin().await;
    let sql = format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("the test could not lock {table}: {e}"));
    admin
}

async fn commit(admin: &mut PgConnection) {
    sqlx::raw_sql("COMMIT")
        .execute(admin)
        .await
        .expect("releasing the test's lock");
}
