//! Locks in one global order, whatever order the rows sit in the table.

use kata_testkit::TestDb;
use sqlx::PgPool;
use transfer::transfer;

use super::{balances, bank};

/// Runs `sql` on the learner's role (so a wait for a lock counts as one of the calls waiting).
fn spawn_statement(
    pool: &PgPool,
    sql: &'static str,
) -> tokio::task::JoinHandle<Result<(), sqlx::Error>> {
    let pool = pool.clone();
    tokio::spawn(async move { sqlx::query(sql).execute(&pool).await.map(|_| ()) })
}

/// Frees the table's first slot: account 3 is inserted first, deleted, and vacuumed away, so
/// the next new row version lands in front of accounts 1 and 2.
async fn free_the_first_slot(db: &TestDb) {
    let mut admin = db.admin().await;
    for statement in [
        "DELETE FROM accounts WHERE id = 3",
        "VACUUM (INDEX_CLEANUP ON) accounts",
    ] {
        sqlx::raw_sql(statement)
            .execute(&mut admin)
            .await
            .unwrap_or_else(|e| panic!("the test could not prepare the table ({statement}): {e}"));
    }
}

/// Without `ORDER BY`, `SELECT ... FOR UPDATE` locks the rows in the order the scan meets them,
/// which is where they sit in the table, and an update moves a row. The test makes two opposite
/// transfers see the two accounts in opposite orders: the first reads the table while account
/// 1 sits in front of account 2 (and waits for account 1, which the test holds), then an update
/// of account 2 commits and moves it in front of account 1, then the second transfer reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_transfers_never_deadlock_when_an_update_moved_a_row() {
    let db = bank(&[(3, 0), (1, 10_000), (2, 10_000)]).await;
    free_the_first_slot(&db).await;
    let pool = db.pool_with_max(3).await;
    let held = db
        .hold_locks("SELECT id FROM accounts WHERE id = 1 FOR UPDATE")
        .await;
    let first = {
        let pool = pool.clone();
        tokio::spawn(async move { transfer(&pool, 1, 2, 7, "first").await })
    };
    db.wait_until_blocked(
        "the first transfer to wait for account 1, which the test holds",
        &[&first],
    )
    .await;
    let mover = spawn_statement(
        &pool,
        "UPDATE accounts SET owner = 'owner 2, renamed' WHERE id = 2",
    );
    db.wait_for_lock_waiters(
        "an update of account 2's owner to commit (or to wait for the first transfer)",
        |waiting| waiting + usize::from(mover.is_finished()) >= 2,
    )
    .await;
    let second = {
        let pool = pool.clone();
        tokio::spawn(async move { transfer(&pool, 2, 1, 5, "second").await })
    };
    db.wait_for_lock_waiters(
        "the second transfer to wait for a lock as well",
        |waiting| waiting + usize::from(mover.is_finished()) >= 3,
    )
    .await;
    held.rollback().await;
    let first = first.await.expect("a transfer call panicked");
    let second = second.await.expect("a transfer call panicked");
    mover
        .await
        .expect("the update panicked")
        .expect("the test's update of account 2's owner failed");
    assert!(
        first.is_ok() && second.is_ok(),
        "two opposite transfers between accounts 1 and 2 must both succeed, but 1 -> 2 returned \
         {first:?} and 2 -> 1 returned {second:?}. The first one read the table while account 1 \
         sat in front of account 2; an update then moved account 2's row in front of account 1 \
         before the second one read it. Rows locked in the order a query returns them without \
         ORDER BY follow where they sit in the table, so the two transfers locked in opposite \
         orders: lock the rows in one order of your choosing (ORDER BY id)"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 9_998), (2, 10_002)],
        "7 cents one way and 5 cents back"
    );
}
