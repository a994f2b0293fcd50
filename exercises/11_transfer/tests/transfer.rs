//! Hidden tests for the transfer kata: real Postgres, one database per test.
//!
//! Races are forced, not hoped for: the test holds the accounts' row locks in its own
//! transaction, waits until every concurrent call is blocked inside Postgres, then lets them
//! all go at once.

use kata_testkit::TestDb;
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use transfer::{Receipt, TransferError, transfer};

const SCHEMA: &str = include_str!("../schema.sql");

/// A database holding `accounts` as (id, balance in cents).
async fn bank(accounts: &[(i64, i64)]) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    for (id, balance) in accounts {
        sqlx::query("INSERT INTO accounts (id, owner, balance_cents) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(format!("owner {id}"))
            .bind(balance)
            .execute(&mut admin)
            .await
            .expect("seeding accounts");
    }
    db
}

async fn balances(db: &TestDb) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT id, balance_cents FROM accounts ORDER BY id")
        .fetch_all(&mut db.admin().await)
        .await
        .expect("reading balances")
}

async fn ledger_rows(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger")
        .fetch_one(&mut db.admin().await)
        .await
        .expect("reading ledger")
}

/// Holds `FOR UPDATE` locks on the accounts until the returned transaction commits.
async fn hold_row_locks(db: &TestDb, ids: &[i64]) -> PgConnection {
    let mut conn = db.admin().await;
    sqlx::raw_sql("BEGIN")
        .execute(&mut conn)
        .await
        .expect("BEGIN");
    sqlx::query("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .execute(&mut conn)
        .await
        .expect("locking the accounts");
    conn
}

/// Waits until every call has either finished or is waiting for a lock inside Postgres.
async fn wait_until_all_blocked<T>(db: &TestDb, calls: &[JoinHandle<T>]) {
    db.wait_for_lock_waiters(
        "every call to wait for the row locks the test holds (or to finish)",
        |waiting| waiting + calls.iter().filter(|call| call.is_finished()).count() >= calls.len(),
    )
    .await;
}

/// Starts `transfers` (from, to, amount, key) at once against accounts locked by the test,
/// releases them together, and returns each call's result in order.
async fn race(
    db: &TestDb,
    transfers: Vec<(i64, i64, i64, String)>,
) -> Vec<Result<Receipt, TransferError>> {
    let pool: PgPool = db.pool_with_max(transfers.len() as u32).await;
    let mut ids: Vec<i64> = transfers.iter().flat_map(|t| [t.0, t.1]).collect();
    ids.dedup();
    let mut locks = hold_row_locks(db, &ids).await;
    let calls: Vec<_> = transfers
        .into_iter()
        .map(|(from, to, amount, key)| {
            let pool = pool.clone();
            tokio::spawn(async move { transfer(&pool, from, to, amount, &key).await })
        })
        .collect();
    wait_until_all_blocked(db, &calls).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut locks)
        .await
        .expect("releasing the locks");
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("a transfer call panicked"));
    }
    results
}

#[tokio::test]
async fn a_transfer_moves_the_money_and_writes_one_ledger_row() {
    let db = bank(&[(1, 10_000), (2, 500)]).await;
    let receipt = transfer(&db.pool().await, 1, 2, 2_500, "k1").await;
    let receipt =
        receipt.unwrap_or_else(|e| panic!("expected the transfer to succeed, got the error: {e}"));
    assert!(
        !receipt.replayed,
        "a first call must report replayed: false"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 7_500), (2, 3_000)],
        "balances after moving 2500 cents from 1 to 2"
    );
    let row: (i64, i64, i64, i64, String) = sqlx::query_as(
        "SELECT id, from_account, to_account, amount_cents, idempotency_key FROM ledger",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("expected exactly one ledger row");
    assert_eq!(
        row,
        (receipt.ledger_id, 1, 2, 2_500, "k1".into()),
        "the ledger row (id, from, to, amount, key)"
    );
}

#[tokio::test]
async fn insufficient_funds_is_an_error_that_changes_nothing() {
    let db = bank(&[(1, 100), (2, 0)]).await;
    let result = transfer(&db.pool().await, 1, 2, 101, "k1").await;
    assert!(
        matches!(
            result,
            Err(TransferError::InsufficientFunds {
                account: 1,
                balance_cents: 100,
                needed_cents: 101
            })
        ),
        "moving 101 cents out of an account holding 100 must be InsufficientFunds {{ account: 1, balance_cents: 100, needed_cents: 101 }}, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100), (2, 0)],
        "a refused transfer must not change any balance"
    );
    assert_eq!(
        ledger_rows(&db).await,
        0,
        "a refused transfer must not write a ledger row"
    );
}

#[tokio::test]
async fn an_unknown_account_is_an_error_that_changes_nothing() {
    let db = bank(&[(1, 100)]).await;
    let pool = db.pool().await;
    let result = transfer(&pool, 1, 99, 10, "k1").await;
    assert!(
        matches!(result, Err(TransferError::UnknownAccount(99))),
        "to a missing account 99: expected UnknownAccount(99), got {result:?}"
    );
    let result = transfer(&pool, 98, 1, 10, "k2").await;
    assert!(
        matches!(result, Err(TransferError::UnknownAccount(98))),
        "from a missing account 98: expected UnknownAccount(98), got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100)],
        "a refused transfer must not change any balance"
    );
    assert_eq!(
        ledger_rows(&db).await,
        0,
        "a refused transfer must not write a ledger row"
    );
}

#[tokio::test]
async fn zero_negative_and_self_transfers_are_rejected() {
    let db = bank(&[(1, 100), (2, 100)]).await;
    let pool = db.pool().await;
    for amount in [0, -5, i64::MIN] {
        let result = transfer(&pool, 1, 2, amount, &format!("k{amount}")).await;
        assert!(
            matches!(result, Err(TransferError::InvalidAmount(a)) if a == amount),
            "amount {amount}: expected InvalidAmount({amount}), got {result:?}"
        );
    }
    let result = transfer(&pool, 1, 1, 10, "self").await;
    assert!(
        matches!(result, Err(TransferError::SameAccount)),
        "from 1 to 1: expected SameAccount, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100), (2, 100)],
        "a refused transfer must not change any balance"
    );
}

#[tokio::test]
async fn a_failure_part_way_through_changes_nothing() {
    let db = bank(&[(1, 100), (2, 100)]).await;
    let pool = db.pool().await;
    let mut admin = db.admin().await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
         CREATE TRIGGER ledger_down BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION fail();",
    )
    .execute(&mut admin)
    .await
    .expect("installing a failing trigger");
    let result = transfer(&pool, 1, 2, 30, "k1").await;
    assert!(
        matches!(result, Err(TransferError::Database(_))),
        "with the ledger insert failing, expected a Database error, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100), (2, 100)],
        "the ledger insert failed, so the debit and credit must be rolled back too"
    );

    sqlx::raw_sql(
        "DROP TRIGGER ledger_down ON ledger;
         CREATE TRIGGER credit_down BEFORE UPDATE ON accounts FOR EACH ROW WHEN (NEW.id = 2) EXECUTE FUNCTION fail();",
    )
    .execute(&mut admin)
    .await
    .expect("installing a failing trigger");
    let result = transfer(&pool, 1, 2, 30, "k2").await;
    assert!(
        matches!(result, Err(TransferError::Database(_))),
        "with the credit failing, expected a Database error, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100), (2, 100)],
        "the credit failed, so the debit must be rolled back too"
    );
    assert_eq!(
        ledger_rows(&db).await,
        0,
        "the credit failed, so no ledger row may remain"
    );
}

#[tokio::test]
async fn retrying_with_the_same_idempotency_key_moves_the_money_once() {
    let db = bank(&[(1, 1_000), (2, 0)]).await;
    let pool = db.pool().await;
    let first = transfer(&pool, 1, 2, 300, "order-42")
        .await
        .expect("the first call should succeed");
    let retry = transfer(&pool, 1, 2, 300, "order-42")
        .await
        .expect("a retry should succeed too");
    assert_eq!(
        retry,
        Receipt {
            ledger_id: first.ledger_id,
            replayed: true
        },
        "a retry must return the first receipt, marked replayed"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 700), (2, 300)],
        "a retry must not move the money again"
    );
    assert_eq!(
        ledger_rows(&db).await,
        1,
        "a retry must not write a second ledger row"
    );
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_transfer_is_rejected() {
    let db = bank(&[(1, 1_000), (2, 0)]).await;
    let pool = db.pool().await;
    transfer(&pool, 1, 2, 300, "order-42")
        .await
        .expect("the first call should succeed");
    let result = transfer(&pool, 1, 2, 999, "order-42").await;
    assert!(
        matches!(&result, Err(TransferError::IdempotencyKeyReused(k)) if k == "order-42"),
        "the same key with another amount: expected IdempotencyKeyReused, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 700), (2, 300)],
        "a rejected key must not move money"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_key_move_the_money_once() {
    let db = bank(&[(1, 1_000), (2, 0)]).await;
    let results = race(
        &db,
        (0..10)
            .map(|_| (1, 2, 100, "pay-once".to_string()))
            .collect(),
    )
    .await;
    let mut receipts = Vec::new();
    for result in results {
        receipts.push(result.unwrap_or_else(|e| {
            panic!("10 concurrent retries of one key must all succeed, one failed with: {e}")
        }));
    }
    let applied = receipts.iter().filter(|r| !r.replayed).count();
    assert_eq!(
        applied, 1,
        "exactly one of 10 concurrent retries may apply the transfer, {applied} did"
    );
    assert!(
        receipts
            .iter()
            .all(|r| r.ledger_id == receipts[0].ledger_id),
        "every retry must return the same ledger id: {receipts:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 900), (2, 100)],
        "the money must move once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_overdraw_an_account() {
    let db = bank(&[(1, 100), (2, 0)]).await;
    let results = race(&db, (0..20).map(|i| (1, 2, 10, format!("k{i}"))).collect()).await;
    let succeeded = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(TransferError::InsufficientFunds { .. })))
        .count();
    let other: Vec<_> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| !matches!(e, TransferError::InsufficientFunds { .. }))
        .collect();
    assert!(
        other.is_empty(),
        "every call must succeed or be InsufficientFunds, but some failed with: {other:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 0), (2, 100)],
        "20 concurrent transfers of 10 cents out of 100: the balances"
    );
    assert_eq!(
        (succeeded, refused),
        (10, 10),
        "20 concurrent transfers of 10 cents out of 100: exactly 10 may succeed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_transfers_at_once_never_deadlock() {
    let db = bank(&[(1, 10_000), (2, 10_000)]).await;
    let transfers = (0..30).map(|i| {
        if i % 2 == 0 {
            (1, 2, 7, format!("k{i}"))
        } else {
            (2, 1, 5, format!("k{i}"))
        }
    });
    let results = race(&db, transfers.collect()).await;
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.to_string())
        .collect();
    assert!(
        failures.is_empty(),
        "30 transfers between two rich accounts in both directions must all succeed, but {} failed: {:?}",
        failures.len(),
        failures
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 9_970), (2, 10_030)],
        "15 x 7 cents one way and 15 x 5 cents back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_concurrent_transfers_conserve_money() {
    let accounts = [(1, 1_000), (2, 1_000), (3, 1_000), (4, 1_000)];
    let db = bank(&accounts).await;
    let pool = db.pool_with_max(20).await;
    let mut seed = 0x2545_f491_4f6c_dd1d_u64; // fixed seed: the same transfers every run
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n) as i64
    };
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(300));
    let calls: Vec<_> = (0..300)
        .map(|i| {
            let (from, to, amount) = (1 + next(4), 1 + next(4), 1 + next(400));
            let (pool, start) = (pool.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                transfer(
                    &pool,
                    from,
                    if to == from { to % 4 + 1 } else { to },
                    amount,
                    &format!("k{i}"),
                )
                .await
            })
        })
        .collect();
    for call in calls {
        match call.await.expect("a transfer call panicked") {
            Ok(_) | Err(TransferError::InsufficientFunds { .. }) => {}
            Err(e) => panic!(
                "under concurrency every transfer must succeed or be InsufficientFunds, one failed with: {e}"
            ),
        }
    }
    let after = balances(&db).await;
    let total: i64 = after.iter().map(|(_, b)| b).sum();
    assert_eq!(
        total, 4_000,
        "money was created or destroyed: the balances are {after:?}"
    );
    assert!(
        after.iter().all(|(_, b)| *b >= 0),
        "an account went negative: {after:?}"
    );
    let flows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.id, coalesce((SELECT sum(amount_cents) FROM ledger WHERE to_account = a.id), 0)::int8
                    - coalesce((SELECT sum(amount_cents) FROM ledger WHERE from_account = a.id), 0)::int8
         FROM accounts a ORDER BY a.id",
    )
    .fetch_all(&mut db.admin().await)
    .await
    .expect("reading the ledger");
    for ((id, before), ((_, now), (_, flow))) in accounts.iter().zip(after.iter().zip(&flows)) {
        assert_eq!(
            before + flow,
            *now,
            "account {id}: the ledger says {before} + {flow}, the balance says {now}"
        );
    }
}
