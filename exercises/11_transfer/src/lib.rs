//! # Transactions: move money atomically
//!
//! Read `README.md` first. The tables are in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use sqlx::PgPool;

/// Why a transfer did not happen. Whatever the error, no balance and no ledger row changed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("the amount must be positive, got {0} cents")]
    InvalidAmount(i64),
    #[error("an account cannot transfer to itself")]
    SameAccount,
    #[error("account {0} does not exist")]
    UnknownAccount(i64),
    #[error("account {account} holds {balance_cents} cents, {needed_cents} needed")]
    InsufficientFunds {
        account: i64,
        balance_cents: i64,
        needed_cents: i64,
    },
    #[error("idempotency key {0:?} was already used for a different transfer")]
    IdempotencyKeyReused(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a successful call returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `ledger.id` of the row recording this transfer.
    pub ledger_id: i64,
    /// `true` when the key had already been applied and this call changed nothing.
    pub replayed: bool,
}

/// Moves `amount_cents` from account `from` to account `to`, all or nothing, and records it in
/// `ledger` under `idempotency_key`.
///
/// - `amount_cents <= 0` is [`TransferError::InvalidAmount`]; `from == to` is
///   [`TransferError::SameAccount`] (checked before touching the database).
/// - A missing account is [`TransferError::UnknownAccount`] naming it; a balance below the amount
///   is [`TransferError::InsufficientFunds`]. Neither changes anything.
/// - The debit, the credit and the ledger row commit together or not at all.
/// - Any number of concurrent calls, in any direction, conserve the total, never overdraw an
///   account and never fail with a deadlock.
/// - Calling again with an `idempotency_key` that was applied returns the first call's receipt
///   with `replayed: true` and moves no money, even when the calls run at the same time; the same
///   key with a different `from`, `to` or amount is [`TransferError::IdempotencyKeyReused`], even
///   when those calls run at the same time (only one of them applies).
pub async fn transfer(
    pool: &PgPool,
    from: i64,
    to: i64,
    amount_cents: i64,
    idempotency_key: &str,
) -> Result<Receipt, TransferError> {
    // TODO: validate the input, then do the whole transfer inside one transaction
    // (`pool.begin()`), locking the two account rows before reading their balances.
    todo!("transfer")
}
