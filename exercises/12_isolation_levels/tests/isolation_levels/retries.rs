//! Conflicts are injected, not provoked by luck: a trigger on `doctors` makes the first N
//! updates fail with a chosen SQLSTATE and counts every update in a sequence, which a rollback
//! does not undo (or, for failures at COMMIT, a deferred constraint trigger).

use isolation_levels::{MAX_ATTEMPTS, RotaError, go_off_call};
use sqlx::AssertSqlSafe;

use super::{on_call, rota};
use kata_testkit::TestDb;

/// Counts, in a sequence (which a rollback does not undo), each attempt that does not run at
/// SERIALIZABLE: a retry that begins a default transaction.
const COUNT_BELOW_SERIALIZABLE: &str = "IF current_setting('transaction_isolation') <> \
    'serializable' THEN PERFORM nextval('below_serializable'); END IF;";

/// Makes the first `failures` updates of `doctors` fail with SQLSTATE `code`; every update,
/// failed or not, is counted by [`attempts`].
async fn inject_failures(db: &TestDb, code: &str, failures: u32) {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SEQUENCE attempts;
         CREATE SEQUENCE below_serializable;
         CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
         BEGIN
             {COUNT_BELOW_SERIALIZABLE}
             IF nextval('attempts') <= {failures} THEN
                 RAISE EXCEPTION 'injected failure {code}' USING ERRCODE = '{code}';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER flaky BEFORE UPDATE ON doctors FOR EACH ROW EXECUTE FUNCTION flaky();"
    )))
    .execute(&mut db.admin().await)
    .await
    .expect("installing the failing trigger");
}

/// Makes the first `failures` commits of a transaction that updated `doctors` fail with
/// SQLSTATE `code` (a deferred constraint trigger: it runs at COMMIT); every such commit is
/// counted by [`attempts`].
async fn inject_commit_failures(db: &TestDb, code: &str, failures: u32) {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SEQUENCE attempts;
         CREATE SEQUENCE below_serializable;
         CREATE FUNCTION flaky_commit() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
         BEGIN
             {COUNT_BELOW_SERIALIZABLE}
             IF nextval('attempts') <= {failures} THEN
                 RAISE EXCEPTION 'injected failure {code} at commit' USING ERRCODE = '{code}';
             END IF;
             RETURN NULL;
         END $$;
         CREATE CONSTRAINT TRIGGER flaky_commit AFTER UPDATE ON doctors
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION flaky_commit();"
    )))
    .execute(&mut db.admin().await)
    .await
    .expect("installing the failing commit trigger");
}

/// Fails the test if an attempt (a retry, say) ran below SERIALIZABLE.
async fn assert_every_attempt_serializable(db: &TestDb, tries: u32) {
    let below: i64 = sqlx::query_scalar(
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM below_serializable",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("reading the below-SERIALIZABLE counter");
    assert_eq!(
        below, 0,
        "{below} of {tries} attempts ran below SERIALIZABLE: every attempt, retries included, \
         must begin a SERIALIZABLE transaction (a retry at the default READ COMMITTED is open \
         to write skew again)"
    );
}

/// How many times learner code tried to update `doctors` (or, with [`inject_commit_failures`],
/// to commit such an update) since the failures were injected.
async fn attempts(db: &TestDb) -> u32 {
    let n: i64 =
        sqlx::query_scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM attempts")
            .fetch_one(&mut db.admin().await)
            .await
            .expect("reading the attempts counter");
    n as u32
}

#[tokio::test]
async fn a_serialization_failure_is_retried_in_a_fresh_transaction() {
    let db = rota(&[(1, 1, true), (2, 1, true), (3, 1, true)]).await;
    inject_failures(&db, "40001", 1).await;
    let result = go_off_call(&db.pool().await, 1).await;
    let tries = attempts(&db).await;
    assert_every_attempt_serializable(&db, tries).await;
    assert!(
        result.is_ok(),
        "the first update failed with a serialization failure (40001): the call must run its \
         transaction again from BEGIN and succeed, got {result:?} after {tries} update attempts"
    );
    assert_eq!(tries, 2, "update attempts: one failed, one succeeded");
    assert_eq!(on_call(&db, 1).await, vec![2, 3], "on call afterwards");
}

#[tokio::test]
async fn a_serialization_failure_at_commit_is_retried_up_to_the_last_attempt() {
    let db = rota(&[(1, 1, true), (2, 1, true), (3, 1, true)]).await;
    inject_commit_failures(&db, "40001", MAX_ATTEMPTS - 1).await;
    let result = go_off_call(&db.pool().await, 1).await;
    let tries = attempts(&db).await;
    assert_every_attempt_serializable(&db, tries).await;
    assert!(
        result.is_ok() && tries == MAX_ATTEMPTS,
        "the first {} COMMITs failed with a serialization failure (40001): the call must run \
         its transaction again each time and succeed on attempt {MAX_ATTEMPTS} (the last one \
         allowed), got {result:?} after {tries} commit attempts",
        MAX_ATTEMPTS - 1
    );
    assert_eq!(
        on_call(&db, 1).await,
        vec![2, 3],
        "the last attempt committed: doctor 1 must be off call"
    );
}

#[tokio::test]
async fn a_deadlock_is_retried_too() {
    let db = rota(&[(1, 1, true), (2, 1, true), (3, 1, true)]).await;
    inject_failures(&db, "40P01", 2).await;
    let result = go_off_call(&db.pool().await, 1).await;
    let tries = attempts(&db).await;
    assert_every_attempt_serializable(&db, tries).await;
    assert!(
        result.is_ok(),
        "the first two updates failed with a deadlock (40P01): the call must retry and \
         succeed, got {result:?} after {tries} update attempts"
    );
    assert_eq!(tries, 3, "update attempts: two failed, one succeeded");
    assert_eq!(on_call(&db, 1).await, vec![2, 3], "on call afterwards");
}

#[tokio::test]
async fn retries_stop_after_max_attempts() {
    let db = rota(&[(1, 1, true), (2, 1, true), (3, 1, true)]).await;
    // Fails a few more times than a bounded retry may try: a loop without a bound gets through
    // in the end and is caught by the count instead of hanging.
    inject_failures(&db, "40001", MAX_ATTEMPTS + 3).await;
    let result = go_off_call(&db.pool().await, 1).await;
    let tries = attempts(&db).await;
    assert_every_attempt_serializable(&db, tries).await;
    assert!(
        matches!(result, Err(RotaError::RetriesExhausted)) && tries == MAX_ATTEMPTS,
        "with every attempt failing with 40001, the call must give up after MAX_ATTEMPTS = \
         {MAX_ATTEMPTS} attempts with RetriesExhausted, got {result:?} after {tries} attempts"
    );
    assert_eq!(
        on_call(&db, 1).await,
        vec![1, 2, 3],
        "nothing may change when the call gives up"
    );
}

#[tokio::test]
async fn an_error_that_is_not_a_conflict_is_not_retried() {
    // P0001: a plain error; 40002: of the same SQLSTATE class 40 ("transaction rollback") as
    // 40001 and 40P01, but not a conflict that a re-run could win.
    for code in ["P0001", "40002"] {
        let db = rota(&[(1, 1, true), (2, 1, true), (3, 1, true)]).await;
        inject_failures(&db, code, 1_000).await;
        let result = go_off_call(&db.pool().await, 1).await;
        let tries = attempts(&db).await;
        assert_every_attempt_serializable(&db, tries).await;
        let got = match &result {
            Err(RotaError::Database(e)) => e
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.into_owned()),
            _ => None,
        };
        assert!(
            got.as_deref() == Some(code) && tries == 1,
            "an error other than 40001 or 40P01 will not go away by retrying: expected the \
             database error {code} after 1 attempt, got {result:?} after {tries} attempts"
        );
        assert_eq!(on_call(&db, 1).await, vec![1, 2, 3], "nothing may change");
    }
}
