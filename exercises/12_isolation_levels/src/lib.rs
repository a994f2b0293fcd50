//! # Isolation levels: write skew and the on-call rota
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

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
    // TODO: run one attempt in a fresh SERIALIZABLE transaction (`pool.begin_with(...)`):
    // read the doctor, count who else is on call in the shift, update, commit.
    // TODO: retry the attempt on 40001 / 40P01 only, at most MAX_ATTEMPTS times in all.
    todo!("go_off_call")
}
