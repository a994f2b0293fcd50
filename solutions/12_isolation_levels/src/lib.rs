//! # Isolation levels: write skew and the on-call rota
//!
//! Read `README.md` first. The table is in `schema.sql`.

use sqlx::PgPool;

/// How many times [`go_off_call`] runs its transaction before giving up on conflicts.
pub const MAX_ATTEMPTS: u32 = 5;

/// Why a doctor is still on call. Whatever the error, nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum RotaError {
    #[error("doctor {0} does not exist")]
    UnknownDoctor(i64),
    #[error("doctor {0} is the last one on call for the shift")]
    LastOnCall(i64),
    #[error(
        "gave up after {} attempts that all hit a serialization failure or deadlock",
        MAX_ATTEMPTS
    )]
    RetriesExhausted,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Takes doctor `doctor_id` off call, unless that would leave their shift with nobody on call.
///
/// - An unknown doctor is [`RotaError::UnknownDoctor`]; a doctor already off call is `Ok(())`
///   and nothing changes.
/// - When no other doctor of the same shift is on call, the answer is
///   [`RotaError::LastOnCall`] and nothing changes.
/// - Any number of concurrent calls, for any doctors, leave every shift with at least one
///   doctor on call (no write skew).
/// - The check and the update run in one `SERIALIZABLE` transaction. A serialization failure
///   (SQLSTATE `40001`) or a deadlock (`40P01`) re-runs the whole transaction from `BEGIN`, at
///   most [`MAX_ATTEMPTS`] runs in all, then [`RotaError::RetriesExhausted`]; any other error is
///   returned at once as [`RotaError::Database`].
pub async fn go_off_call(pool: &PgPool, doctor_id: i64) -> Result<(), RotaError> {
    for _ in 0..MAX_ATTEMPTS {
        match attempt(pool, doctor_id).await {
            // Postgres aborted the transaction to keep the rule, and `attempt` dropped it
            // (rollback): run the whole transaction again, from a new BEGIN.
            Err(RotaError::Database(e)) if is_conflict(&e) => continue,
            outcome => return outcome,
        }
    }
    Err(RotaError::RetriesExhausted)
}

/// One run of the transaction. Under SERIALIZABLE, Postgres tracks what each transaction read:
/// when two of them each read what the other then writes, one of them fails with 40001
/// (possibly only at COMMIT) instead of both committing a result no serial order could give.
async fn attempt(pool: &PgPool, doctor_id: i64) -> Result<(), RotaError> {
    // Dropping `tx` on an early return rolls it back.
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await?;
    let doctor: Option<(i64, bool)> =
        sqlx::query_as("SELECT shift_id, on_call FROM doctors WHERE id = $1")
            .bind(doctor_id)
            .fetch_optional(&mut *tx)
            .await?;
    let (shift_id, on_call) = doctor.ok_or(RotaError::UnknownDoctor(doctor_id))?;
    if !on_call {
        return Ok(());
    }
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM doctors WHERE shift_id = $1 AND on_call AND id <> $2",
    )
    .bind(shift_id)
    .bind(doctor_id)
    .fetch_one(&mut *tx)
    .await?;
    if others == 0 {
        return Err(RotaError::LastOnCall(doctor_id));
    }
    sqlx::query("UPDATE doctors SET on_call = false WHERE id = $1")
        .bind(doctor_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Serialization failure or deadlock: the transaction lost a race and may succeed if re-run.
fn is_conflict(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}
