//! Transfers at the same moment: no overdraft, no lost credit, no deadlock, money conserved.

use super::*;

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
    .fetch_all(&mut *db.inspect().await)
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
