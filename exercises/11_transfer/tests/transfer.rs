//! Hidden tests for the transfer kata: real Postgres, one database per test.
//!
//! Races are forced, not hoped for: the test holds a lock in its own transaction (the
//! accounts' rows, or a pending ledger row with the key), waits until every concurrent call is
//! blocked on it inside Postgres, then lets them all go at once.
//!
//! Rule (README / stub) -> test:
//! - amount <= 0 is `InvalidAmount(amount)` (0, -1, -5, `i64::MIN`); `from == to` is
//!   `SameAccount` (also for an account that does not exist); both checked before touching the
//!   database -> `zero_negative_and_self_transfers_are_refused_before_touching_the_database`
//! - missing account, either side -> `UnknownAccount(id)`, nothing changes
//!   -> `an_unknown_account_is_an_error_that_changes_nothing`
//! - balance below the amount -> `InsufficientFunds { account, balance_cents, needed_cents }`
//!   exactly (from a lower and a higher id), nothing changes, the key stays unused
//!   -> `insufficient_funds_is_an_error_that_changes_nothing`
//! - success: debit, credit, one ledger row (id, from, to, amount, key), `replayed: false`; also
//!   for 1 cent, the whole balance, a higher id to a lower one, ids and amounts past 32 bits
//!   -> `a_transfer_moves_the_money_and_writes_one_ledger_row`
//! - a failing ledger insert, credit or commit -> `Database(..)`, nothing changes
//!   -> `a_failure_part_way_through_changes_nothing`
//! - same key again -> first receipt, `replayed: true`, nothing moves (also once the balance no
//!   longer covers it); keys match exactly (no LIKE wildcard, case or prefix match)
//!   -> `idempotency::retrying_with_the_same_idempotency_key_moves_the_money_once`
//! - 10 retries at the same moment -> one applies, all get its receipt
//!   -> `idempotency::concurrent_retries_of_one_key_move_the_money_once`
//! - key reused with another from, to, amount or direction -> `IdempotencyKeyReused(key)`
//!   -> `idempotency::an_idempotency_key_reused_for_another_transfer_is_rejected`;
//!   at the same moment, between other accounts
//!   -> `idempotency::one_key_sent_at_once_for_different_transfers_applies_exactly_one`
//! - 20 x 10 cents out of 100 at once -> 10 ok, 10 `InsufficientFunds`
//!   -> `concurrency::concurrent_debits_never_overdraw_an_account`
//! - concurrent credits into one account are all kept
//!   -> `concurrency::concurrent_credits_into_one_account_all_land`
//! - 30 opposite transfers at once, no deadlock -> `concurrency::opposite_transfers_at_once_never_deadlock`;
//!   also when an update moved one account's row in front of the other between the two calls'
//!   reads (locks taken in the scan's order, without ORDER BY, then cross)
//!   -> `row_order::opposite_transfers_never_deadlock_when_an_update_moved_a_row`
//! - 100 random concurrent transfers conserve money and match the ledger (a stress test beside
//!   the forced races above; 100 keep it short in every learner's loop)
//!   -> `concurrency::a_hundred_concurrent_transfers_conserve_money`

use kata_testkit::TestDb;
use kata_testkit::race::HeldLocks;
use sqlx::PgPool;
use transfer::{Receipt, TransferError, transfer};

#[path = "transfer/concurrency.rs"]
mod concurrency;
#[path = "transfer/idempotency.rs"]
mod idempotency;
#[path = "transfer/row_order.rs"]
mod row_order;

const SCHEMA: &str = include_str!("../schema.sql");

/// A database holding `accounts` as (id, balance in cents).
async fn bank(accounts: &[(i64, i64)]) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let (ids, balances): (Vec<i64>, Vec<i64>) = accounts.iter().copied().unzip();
    sqlx::query(
        "INSERT INTO accounts (id, owner, balance_cents) \
         SELECT id, 'owner ' || id, balance FROM UNNEST($1::int8[], $2::int8[]) AS a (id, balance)",
    )
    .bind(ids)
    .bind(balances)
    .execute(&mut *db.inspect().await)
    .await
    .expect("seeding accounts");
    db
}

async fn balances(db: &TestDb) -> Vec<(i64, i64)> {
    sqlx::query_as("SELECT id, balance_cents FROM accounts ORDER BY id")
        .fetch_all(&mut *db.inspect().await)
        .await
        .expect("reading balances")
}

async fn ledger_rows(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM ledger")
        .fetch_one(&mut *db.inspect().await)
        .await
        .expect("reading ledger")
}

/// Starts `transfers` (from, to, amount, key) at once while `gate` holds them up, releases
/// them together, and returns each call's result in order.
async fn race_behind(
    db: &TestDb,
    gate: HeldLocks,
    transfers: Vec<(i64, i64, i64, String)>,
) -> Vec<Result<Receipt, TransferError>> {
    let pool: PgPool = db.pool_with_max(transfers.len() as u32).await;
    let calls: Vec<_> = transfers
        .into_iter()
        .map(|(from, to, amount, key)| {
            let pool = pool.clone();
            tokio::spawn(async move { transfer(&pool, from, to, amount, &key).await })
        })
        .collect();
    db.wait_until_blocked(
        "every call to wait for the lock the test holds (or to finish)",
        &calls,
    )
    .await;
    gate.rollback().await;
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("a transfer call panicked"));
    }
    results
}

/// [`race_behind`] the `FOR UPDATE` locks of every account the transfers touch.
async fn race(
    db: &TestDb,
    transfers: Vec<(i64, i64, i64, String)>,
) -> Vec<Result<Receipt, TransferError>> {
    let mut ids: Vec<String> = transfers
        .iter()
        .flat_map(|t| [t.0.to_string(), t.1.to_string()])
        .collect();
    ids.sort();
    ids.dedup();
    let locks = db
        .hold_locks(&format!(
            "SELECT id FROM accounts WHERE id IN ({}) ORDER BY id FOR UPDATE",
            ids.join(", ")
        ))
        .await;
    race_behind(db, locks, transfers).await
}

#[tokio::test]
async fn a_transfer_moves_the_money_and_writes_one_ledger_row() {
    const BIG_A: i64 = 5_000_000_001;
    const BIG_B: i64 = 5_000_000_002;
    let opening = [
        (1, 10_000),
        (2, 500),
        (3, 1),
        (4, 0),
        (BIG_A, 6_000_000_000),
        (BIG_B, 0),
    ];
    let db = bank(&opening).await;
    let pool = db.pool().await;
    let receipt = transfer(&pool, 1, 2, 2_500, "k1").await;
    let receipt =
        receipt.unwrap_or_else(|e| panic!("expected the transfer to succeed, got the error: {e}"));
    assert!(
        !receipt.replayed,
        "a first call must report replayed: false"
    );
    assert_eq!(
        balances(&db).await[..2],
        [(1, 7_500), (2, 3_000)],
        "balances after moving 2500 cents from 1 to 2"
    );
    let row: (i64, i64, i64, i64, String) = sqlx::query_as(
        "SELECT id, from_account, to_account, amount_cents, idempotency_key FROM ledger",
    )
    .fetch_one(&mut *db.inspect().await)
    .await
    .expect("expected exactly one ledger row");
    assert_eq!(
        row,
        (receipt.ledger_id, 1, 2, 2_500, "k1".into()),
        "the ledger row (id, from, to, amount, key)"
    );

    // One cent, the whole balance, from a higher id to a lower one, ids and amounts past 32 bits.
    for (from, to, amount, key) in [
        (3, 4, 1, "one-cent"),
        (4, 3, 1, "back-down-the-ids"),
        (BIG_A, BIG_B, 6_000_000_000, "big"),
        (BIG_B, BIG_A, 6_000_000_000, "big-back"),
    ] {
        let result = transfer(&pool, from, to, amount, key).await;
        assert!(
            matches!(
                result,
                Ok(Receipt {
                    replayed: false,
                    ..
                })
            ),
            "moving {amount} cents from {from} to {to}, the sender holding exactly {amount}: \
             expected a receipt with replayed: false, got {result:?}"
        );
    }
    assert_eq!(
        balances(&db).await[2..],
        opening[2..],
        "after moving each amount there and back"
    );
    assert_eq!(
        ledger_rows(&db).await,
        5,
        "five transfers, five ledger rows"
    );
}

#[tokio::test]
async fn insufficient_funds_is_an_error_that_changes_nothing() {
    let db = bank(&[(1, 100), (2, 40)]).await;
    let pool = db.pool().await;
    let result = transfer(&pool, 1, 2, 101, "k1").await;
    assert!(
        matches!(
            result,
            Err(TransferError::InsufficientFunds {
                account: 1,
                balance_cents: 100,
                needed_cents: 101
            })
        ),
        "moving 101 cents out of account 1 holding 100 must be InsufficientFunds \
         {{ account: 1, balance_cents: 100, needed_cents: 101 }}, got {result:?}"
    );
    let result = transfer(&pool, 2, 1, 41, "k2").await;
    assert!(
        matches!(
            result,
            Err(TransferError::InsufficientFunds {
                account: 2,
                balance_cents: 40,
                needed_cents: 41
            })
        ),
        "moving 41 cents out of account 2 holding 40 (to account 1, holding 100) must be \
         InsufficientFunds {{ account: 2, balance_cents: 40, needed_cents: 41 }}, got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 100), (2, 40)],
        "a refused transfer must not change any balance"
    );
    assert_eq!(
        ledger_rows(&db).await,
        0,
        "a refused transfer must not write a ledger row"
    );

    sqlx::query("UPDATE accounts SET balance_cents = 200 WHERE id = 1")
        .execute(&mut *db.inspect().await)
        .await
        .expect("topping up account 1");
    let result = transfer(&pool, 1, 2, 101, "k1").await;
    assert!(
        matches!(
            result,
            Ok(Receipt {
                replayed: false,
                ..
            })
        ),
        "a refused call changes nothing, so its key was never applied: once account 1 holds \
         200, the same call with key k1 must move the money (replayed: false), got {result:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 99), (2, 141)],
        "after the top-up, moving 101 cents from 1 to 2"
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
async fn zero_negative_and_self_transfers_are_refused_before_touching_the_database() {
    // A closed pool fails every query: only a check made before using it can answer.
    let pool = PgPool::connect_lazy("postgres://kata@127.0.0.1:1/never_connected")
        .expect("a lazy pool only parses its URL");
    pool.close().await;
    for amount in [0, -1, -5, i64::MIN] {
        for (from, to) in [(1, 2), (1, 99)] {
            let result = transfer(&pool, from, to, amount, &format!("k{amount}")).await;
            assert!(
                matches!(result, Err(TransferError::InvalidAmount(a)) if a == amount),
                "amount {amount} from {from} to {to}: expected InvalidAmount({amount}) without \
                 touching the database (the pool was closed), got {result:?}"
            );
        }
    }
    for id in [1, 99] {
        let result = transfer(&pool, id, id, 10, "self").await;
        assert!(
            matches!(result, Err(TransferError::SameAccount)),
            "from {id} to {id}: expected SameAccount without touching the database (the pool \
             was closed), got {result:?}"
        );
    }
}

#[tokio::test]
async fn a_failure_part_way_through_changes_nothing() {
    let db = bank(&[(1, 100), (2, 100)]).await;
    let pool = db.pool().await;
    let mut admin = db.admin().await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql \
         AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
    )
    .execute(&mut admin)
    .await
    .expect("creating the failing trigger function");
    let cases = [
        (
            "the ledger insert",
            "CREATE TRIGGER down BEFORE INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION fail()",
            "DROP TRIGGER down ON ledger",
        ),
        (
            "the credit",
            "CREATE TRIGGER down BEFORE UPDATE ON accounts FOR EACH ROW WHEN (NEW.id = 2) \
             EXECUTE FUNCTION fail()",
            "DROP TRIGGER down ON accounts",
        ),
        (
            "the commit",
            "CREATE CONSTRAINT TRIGGER down AFTER INSERT ON ledger \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail()",
            "DROP TRIGGER down ON ledger",
        ),
    ];
    for (i, (step, install, remove)) in cases.into_iter().enumerate() {
        sqlx::raw_sql(install)
            .execute(&mut admin)
            .await
            .expect("installing a failing trigger");
        let result = transfer(&pool, 1, 2, 30, &format!("k{i}")).await;
        assert!(
            matches!(result, Err(TransferError::Database(_))),
            "with {step} failing, expected a Database error, got {result:?}"
        );
        assert_eq!(
            balances(&db).await,
            vec![(1, 100), (2, 100)],
            "{step} failed, so the debit and credit must be rolled back too"
        );
        assert_eq!(
            ledger_rows(&db).await,
            0,
            "{step} failed, so no ledger row may remain"
        );
        sqlx::raw_sql(remove)
            .execute(&mut admin)
            .await
            .expect("removing the failing trigger");
    }
}
