//! Hidden tests for the isolation levels kata: real Postgres, one database per test.
//!
//! Races are forced, not hoped for: the test holds `FOR UPDATE` locks on the shift's rows,
//! so every concurrent call reads the rota and then stops at its first write (or, if it locks
//! while reading, at that read), waits until every call is blocked inside Postgres, then lets
//! them all go at once: each call has read the rota before any other one wrote.
//!
//! Conflicts are injected, not provoked by luck (`retries`, in `isolation_levels/retries.rs`).
//!
//! Rule (README / stub) -> test:
//! - goes off call while a colleague of the shift stays on call; the update runs at
//!   SERIALIZABLE
//!   -> `a_doctor_goes_off_call_in_a_serializable_transaction_while_a_colleague_stays_on_call`
//! - nobody else of the shift on call (other shifts do not count) -> `LastOnCall(id)` (the
//!   doctor's id, not the shift's), nothing changes; already off call -> `Ok(())`, also in a
//!   shift with nobody on call -> `the_last_doctor_on_call_of_a_shift_cannot_go_off_call`
//! - unknown doctor -> `UnknownDoctor(id)`, nothing changes -> `an_unknown_doctor_is_an_error`
//! - two at once, both read first -> one `Ok`, one `LastOnCall`
//!   -> `two_doctors_going_off_call_at_once_leave_one_on_call`
//! - 50 at once -> never empty, only `Ok`/`LastOnCall`/`RetriesExhausted`, `Ok` = now off call
//!   -> `fifty_concurrent_requests_never_leave_the_shift_empty`
//! - 40001 at an update -> re-run from BEGIN
//!   -> `retries::a_serialization_failure_is_retried_in_a_fresh_transaction`;
//!   40001 at COMMIT, up to the last allowed attempt
//!   -> `retries::a_serialization_failure_at_commit_is_retried_up_to_the_last_attempt`;
//!   40P01 -> `retries::a_deadlock_is_retried_too`; every attempt, retries included, at
//!   SERIALIZABLE -> each `retries::` test
//! - every attempt 40001 -> exactly `MAX_ATTEMPTS`, `RetriesExhausted`, nothing changes
//!   -> `retries::retries_stop_after_max_attempts`
//! - any other error (P0001, and 40002 of the same class 40) -> `Database(..)` after one
//!   attempt -> `retries::an_error_that_is_not_a_conflict_is_not_retried`

use isolation_levels::{RotaError, go_off_call};
use kata_testkit::TestDb;
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;

#[path = "isolation_levels/retries.rs"]
mod retries;

const SCHEMA: &str = include_str!("../schema.sql");

/// A database holding `doctors` as (id, shift, on call).
async fn rota(doctors: &[(i64, i64, bool)]) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    for (id, shift, on_call) in doctors {
        sqlx::query("INSERT INTO doctors (id, name, shift_id, on_call) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(format!("Dr {id}"))
            .bind(shift)
            .bind(on_call)
            .execute(&mut admin)
            .await
            .expect("seeding doctors");
    }
    db
}

/// The ids of the doctors on call in `shift`.
async fn on_call(db: &TestDb, shift: i64) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM doctors WHERE shift_id = $1 AND on_call ORDER BY id")
        .bind(shift)
        .fetch_all(&mut db.admin().await)
        .await
        .expect("reading the rota")
}

/// Holds `FOR UPDATE` locks on the doctors of `shift` until the returned transaction commits.
async fn hold_row_locks(db: &TestDb, shift: i64) -> PgConnection {
    let mut conn = db.admin().await;
    sqlx::raw_sql("BEGIN")
        .execute(&mut conn)
        .await
        .expect("BEGIN");
    sqlx::query("SELECT id FROM doctors WHERE shift_id = $1 ORDER BY id FOR UPDATE")
        .bind(shift)
        .execute(&mut conn)
        .await
        .expect("locking the rota");
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

/// Runs `go_off_call` for each doctor of `shift` in `doctors` at once, every call having read
/// the rota before any call writes, and returns each call's result in order.
async fn race(db: &TestDb, shift: i64, doctors: &[i64]) -> Vec<Result<(), RotaError>> {
    let pool: PgPool = db.pool_with_max(doctors.len() as u32).await;
    // Open every connection now, so no call is still connecting once the others wait.
    let mut warm = Vec::new();
    for _ in doctors {
        warm.push(pool.acquire().await.expect("opening a connection"));
    }
    drop(warm);
    let mut locks = hold_row_locks(db, shift).await;
    let calls: Vec<_> = doctors
        .iter()
        .map(|&doctor| {
            let pool = pool.clone();
            tokio::spawn(async move { go_off_call(&pool, doctor).await })
        })
        .collect();
    wait_until_all_blocked(db, &calls).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut locks)
        .await
        .expect("releasing the locks");
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.expect("a go_off_call call panicked"));
    }
    results
}

#[tokio::test]
async fn a_doctor_goes_off_call_in_a_serializable_transaction_while_a_colleague_stays_on_call() {
    let db = rota(&[(1, 1, true), (2, 1, true)]).await;
    // Records the isolation level of every transaction that updates `doctors`.
    sqlx::raw_sql(
        "CREATE TABLE levels_seen (level text NOT NULL);
         CREATE FUNCTION record_level() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
         BEGIN
             INSERT INTO levels_seen VALUES (current_setting('transaction_isolation'));
             RETURN NEW;
         END $$;
         CREATE TRIGGER record_level BEFORE UPDATE ON doctors
             FOR EACH ROW EXECUTE FUNCTION record_level();",
    )
    .execute(&mut db.admin().await)
    .await
    .expect("installing the isolation level recorder");
    let result = go_off_call(&db.pool().await, 1).await;
    assert!(
        result.is_ok(),
        "doctor 1 may go off call while doctor 2 stays on call, got {result:?}"
    );
    assert_eq!(on_call(&db, 1).await, vec![2], "doctors on call afterwards");
    let levels: Vec<String> = sqlx::query_scalar("SELECT level FROM levels_seen")
        .fetch_all(&mut db.admin().await)
        .await
        .expect("reading the recorded isolation levels");
    assert_eq!(
        levels,
        vec!["serializable".to_string()],
        "the update must run in a SERIALIZABLE transaction (BEGIN ISOLATION LEVEL \
         SERIALIZABLE); the isolation levels the updates ran at"
    );
}

#[tokio::test]
async fn the_last_doctor_on_call_of_a_shift_cannot_go_off_call() {
    // Shift ids differ from doctor ids, so `LastOnCall` must name the doctor, not the shift.
    let db = rota(&[
        (1, 10, true),
        (2, 10, false),
        (3, 20, true),
        (4, 20, true),
        (5, 30, false),
    ])
    .await;
    let pool = db.pool().await;
    let result = go_off_call(&pool, 1).await;
    assert!(
        matches!(result, Err(RotaError::LastOnCall(1))),
        "doctor 1 is the only one on call in shift 10 (doctors 3 and 4 cover shift 20): \
         expected LastOnCall(1), naming the doctor, got {result:?}"
    );
    let result = go_off_call(&pool, 2).await;
    assert!(
        result.is_ok(),
        "doctor 2 is already off call: expected Ok(()), got {result:?}"
    );
    let result = go_off_call(&pool, 5).await;
    assert!(
        result.is_ok(),
        "doctor 5 is already off call (nobody of shift 30 is on call): expected Ok(()), got \
         {result:?}"
    );
    assert_eq!(
        on_call(&db, 10).await,
        vec![1],
        "shift 10 on call afterwards"
    );
    assert_eq!(
        on_call(&db, 20).await,
        vec![3, 4],
        "shift 20 on call afterwards"
    );
}

#[tokio::test]
async fn an_unknown_doctor_is_an_error() {
    let db = rota(&[(1, 1, true), (2, 1, true)]).await;
    let result = go_off_call(&db.pool().await, 99).await;
    assert!(
        matches!(result, Err(RotaError::UnknownDoctor(99))),
        "expected UnknownDoctor(99), got {result:?}"
    );
    assert_eq!(on_call(&db, 1).await, vec![1, 2], "nothing may change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_doctors_going_off_call_at_once_leave_one_on_call() {
    let db = rota(&[(1, 1, true), (2, 1, true)]).await;
    let results = race(&db, 1, &[1, 2]).await;
    let left = on_call(&db, 1).await;
    assert_eq!(
        left.len(),
        1,
        "doctors 1 and 2 both read \"2 on call\" before either wrote: exactly one may go off \
         call, but {left:?} are on call now (write skew: each check passed on a snapshot the \
         other changed). Results: {results:?}"
    );
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let last = results
        .iter()
        .filter(|r| matches!(r, Err(RotaError::LastOnCall(_))))
        .count();
    assert_eq!(
        (ok, last),
        (1, 1),
        "one call must succeed and the other be LastOnCall (a serialization failure must be \
         retried, not returned), got {results:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_never_leave_the_shift_empty() {
    let mut doctors: Vec<(i64, i64, bool)> = (1..=50).map(|id| (id, 1, true)).collect();
    doctors.push((51, 2, true));
    let db = rota(&doctors).await;
    let ids: Vec<i64> = (1..=50).collect();
    let results = race(&db, 1, &ids).await;

    let unexpected: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .filter(|e| !matches!(e, RotaError::LastOnCall(_) | RotaError::RetriesExhausted))
        .map(|e| e.to_string())
        .collect();
    assert!(
        unexpected.is_empty(),
        "every call must succeed, be LastOnCall or (under heavy contention) RetriesExhausted, \
         but {} of 50 failed, the first with: {}",
        unexpected.len(),
        unexpected.first().map_or("", String::as_str)
    );
    let left = on_call(&db, 1).await;
    assert!(
        !left.is_empty(),
        "50 doctors went off call at once and left shift 1 with nobody on call (write skew)"
    );
    let went_off: Vec<i64> = ids
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| *id)
        .collect();
    let off_now: Vec<i64> = ids
        .iter()
        .filter(|id| !left.contains(id))
        .copied()
        .collect();
    assert_eq!(
        went_off, off_now,
        "the doctors whose call returned Ok must be exactly those now off call"
    );
    assert_eq!(on_call(&db, 2).await, vec![51], "shift 2 must not change");
}
