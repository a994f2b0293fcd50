//! Idempotency keys: a retry replays the first receipt, a key reused for another transfer is refused, also when the calls arrive at the same moment.

use super::*;

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
