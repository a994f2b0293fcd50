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
//!   -> `retrying_with_the_same_idempotency_key_moves_the_money_once`
//! - 10 retries at the same moment -> one applies, all get its receipt
//!   -> `concurrent_retries_of_one_key_move_the_money_once`
//! - key reused with another from, to, amount or direction -> `IdempotencyKeyReused(key)`
//!   -> `an_idempotency_key_reused_for_another_transfer_is_rejected`;
//!   at the same moment, between other accounts
//!   -> `one_key_sent_at_once_for_different_transfers_applies_exactly_one`
//! - 20 x 10 cents out of 100 at once -> 10 ok, 10 `InsufficientFunds`
//!   -> `concurrent_debits_never_overdraw_an_account`
//! - concurrent credits into one account are all kept
//!   -> `concurrent_credits_into_one_account_all_land`
//! - 30 opposite transfers at once, no deadlock -> `opposite_transfers_at_once_never_deadlock`;
//!   also when an update moved one account's row in front of the other between the two calls'
//!   reads (locks taken in the scan's order, without ORDER BY, then cross)
//!   -> `row_order::opposite_transfers_never_deadlock_when_an_update_moved_a_row`
//! - 100 random concurrent transfers conserve money and match the ledger (a stress test beside
//!   the forced races above; 100 keep it short in every learner's loop)
//!   -> `a_hundred_concurrent_transfers_conserve_money`

use kata_testkit::TestDb;
use kata_testkit::race::HeldLocks;
use sqlx::PgPool;
use transfer::{Receipt, TransferError, transfer};

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
    .execute(&mut db.admin().await)
    .await
    .expect("seeding accounts");
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
    .fetch_one(&mut db.admin().await)
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
        .execute(&mut db.admin().await)
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

#[tokio::test]
async fn retrying_with_the_same_idempotency_key_moves_the_money_once() {
    let db = bank(&[(1, 600), (2, 0)]).await;
    let pool = db.pool().await;
    let first = transfer(&pool, 1, 2, 300, "order-42")
        .await
        .expect("the first call should succeed");
    // `_` is LIKE's one-character wildcard: this is another key, so another transfer.
    let second = transfer(&pool, 1, 2, 300, "order_42")
        .await
        .expect("the same transfer under another key (order_42) should succeed");
    assert!(
        !second.replayed && second.ledger_id != first.ledger_id,
        "key order_42 is not order-42: it must move the money again with a new ledger row, \
         got {second:?} after {first:?}"
    );
    // Account 1 is now empty: a retry must still be answered from the ledger.
    for (key, receipt) in [("order-42", &first), ("order_42", &second)] {
        let retry = transfer(&pool, 1, 2, 300, key).await;
        let expected = Receipt {
            ledger_id: receipt.ledger_id,
            replayed: true,
        };
        assert!(
            matches!(&retry, Ok(r) if *r == expected),
            "a retry of key {key} must return its first receipt marked replayed ({expected:?}), \
             even though account 1 no longer holds the amount; got {retry:?}"
        );
    }
    for key in ["Order-42", "order-4", "order%"] {
        let result = transfer(&pool, 1, 2, 300, key).await;
        assert!(
            matches!(result, Err(TransferError::InsufficientFunds { .. })),
            "key {key:?} was never used (keys match exactly), so this is a new transfer out of \
             an empty account: expected InsufficientFunds, got {result:?}"
        );
    }
    assert_eq!(
        balances(&db).await,
        vec![(1, 0), (2, 600)],
        "two transfers of 300 under two keys; retries must not move the money again"
    );
    assert_eq!(
        ledger_rows(&db).await,
        2,
        "retries must not write another ledger row"
    );
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_transfer_is_rejected() {
    let db = bank(&[(1, 1_000), (2, 0), (3, 0)]).await;
    let pool = db.pool().await;
    transfer(&pool, 1, 2, 300, "order-42")
        .await
        .expect("the first call should succeed");
    for (what, from, to, amount) in [
        ("another amount", 1, 2, 299),
        ("another receiver", 1, 3, 300),
        ("another sender", 3, 2, 300),
        ("the opposite direction", 2, 1, 300),
    ] {
        let result = transfer(&pool, from, to, amount, "order-42").await;
        assert!(
            matches!(&result, Err(TransferError::IdempotencyKeyReused(k)) if k == "order-42"),
            "key order-42 moved 300 cents from 1 to 2; reused with {what} ({amount} from {from} \
             to {to}): expected IdempotencyKeyReused(\"order-42\"), got {result:?}"
        );
    }
    assert_eq!(
        balances(&db).await,
        vec![(1, 700), (2, 300), (3, 0)],
        "a rejected key must not move money"
    );
    assert_eq!(
        ledger_rows(&db).await,
        1,
        "a rejected key must not write a ledger row"
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
async fn one_key_sent_at_once_for_different_transfers_applies_exactly_one() {
    // Every sender can cover its transfer, so whichever call takes the key first applies (a
    // refused first call would rightly leave the key unused).
    let db = bank(&[(1, 1_000), (2, 0), (3, 1_000), (4, 1_000), (5, 0), (6, 0)]).await;
    // The test's own pending (then rolled back) ledger row holds key k: every call that looks
    // the key up before it can insert it is held up here, so all of them race for it.
    let pending = db
        .hold_locks(
            "INSERT INTO ledger (from_account, to_account, amount_cents, idempotency_key) \
         VALUES (5, 6, 1, 'k')",
        )
        .await;
    let transfers = vec![
        (1, 2, 100, "k".to_string()),
        (3, 4, 100, "k".to_string()),
        (1, 2, 200, "k".to_string()),
        (4, 3, 100, "k".to_string()),
    ];
    let results = race_behind(&db, pending, transfers.clone()).await;
    let applied: Vec<_> = transfers
        .iter()
        .zip(&results)
        .filter(|(_, r)| {
            matches!(
                r,
                Ok(Receipt {
                    replayed: false,
                    ..
                })
            )
        })
        .map(|(t, _)| (t.0, t.1, t.2))
        .collect();
    let wrong: Vec<_> = results
        .iter()
        .filter(|r| {
            !matches!(
                r,
                Ok(Receipt {
                    replayed: false,
                    ..
                })
            ) && !matches!(r, Err(TransferError::IdempotencyKeyReused(k)) if k == "k")
        })
        .collect();
    assert!(
        applied.len() == 1 && wrong.is_empty(),
        "four different transfers sent at the same moment with key k (1->2 100, 3->4 100, \
         1->2 200, 4->3 100): exactly one may apply, every other one must be \
         IdempotencyKeyReused(\"k\"); got {results:?}"
    );
    let (from, to, amount) = applied[0];
    let mut expected = vec![(1, 1_000), (2, 0), (3, 1_000), (4, 1_000), (5, 0), (6, 0)];
    expected[from as usize - 1].1 -= amount;
    expected[to as usize - 1].1 += amount;
    assert_eq!(
        balances(&db).await,
        expected,
        "only the applied transfer ({amount} from {from} to {to}) may move money"
    );
    assert_eq!(ledger_rows(&db).await, 1, "one key, one ledger row");
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
async fn concurrent_credits_into_one_account_all_land() {
    let db = bank(&[(1, 100), (2, 100), (3, 100), (4, 100), (5, 100), (6, 0)]).await;
    // Only the receiver is locked by the test: each call can lock (or read) its own sender, then
    // waits for account 6.
    let locks = db
        .hold_locks("SELECT id FROM accounts WHERE id = 6 FOR UPDATE")
        .await;
    let results = race_behind(
        &db,
        locks,
        (1..=5).map(|id| (id, 6, 10, format!("k{id}"))).collect(),
    )
    .await;
    let failures: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failures.is_empty(),
        "5 transfers of 10 cents from 5 different accounts into account 6 must all succeed, \
         got: {failures:?}"
    );
    assert_eq!(
        balances(&db).await,
        vec![(1, 90), (2, 90), (3, 90), (4, 90), (5, 90), (6, 50)],
        "5 concurrent credits of 10 cents into account 6: every one must land (a credit \
         computed from a balance read before taking the row's lock overwrites the others)"
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
async fn a_hundred_concurrent_transfers_conserve_money() {
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
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(100));
    let calls: Vec<_> = (0..100)
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
