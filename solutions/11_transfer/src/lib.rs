//! # Transactions: move money atomically
//!
//! Read `README.md` first. The tables are in `schema.sql`.

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
    if amount_cents <= 0 {
        return Err(TransferError::InvalidAmount(amount_cents));
    }
    if from == to {
        return Err(TransferError::SameAccount);
    }
    // Every early return below drops `tx`, which rolls it back: nothing half-done survives.
    let mut tx = pool.begin().await?;

    // One lock per idempotency key, held until the end of the transaction: two calls with the
    // same key queue here even when they touch different accounts, where the row locks below
    // would never make them meet (both would insert the key; the second would hit UNIQUE).
    // Two keys that `hashtext` maps to one number merely wait for each other.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind(idempotency_key)
        .execute(&mut *tx)
        .await?;

    // Lock both rows in one statement, always in id order: two opposite transfers then queue
    // for the same first lock instead of each holding the lock the other one needs (deadlock).
    let locked: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, balance_cents FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind([from, to])
    .fetch_all(&mut *tx)
    .await?;
    let balance_of = |id| {
        locked
            .iter()
            .find(|(account, _)| *account == id)
            .map(|(_, balance)| *balance)
    };
    let from_balance = balance_of(from).ok_or(TransferError::UnknownAccount(from))?;
    balance_of(to).ok_or(TransferError::UnknownAccount(to))?;

    // Under the key's lock, an earlier call with this key has either committed or not started.
    let earlier: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, from_account, to_account, amount_cents FROM ledger WHERE idempotency_key = $1",
    )
    .bind(idempotency_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((ledger_id, earlier_from, earlier_to, earlier_amount)) = earlier {
        return if (earlier_from, earlier_to, earlier_amount) == (from, to, amount_cents) {
            Ok(Receipt {
                ledger_id,
                replayed: true,
            })
        } else {
            Err(TransferError::IdempotencyKeyReused(
                idempotency_key.to_owned(),
            ))
        };
    }

    if from_balance < amount_cents {
        return Err(TransferError::InsufficientFunds {
            account: from,
            balance_cents: from_balance,
            needed_cents: amount_cents,
        });
    }
    sqlx::query("UPDATE accounts SET balance_cents = balance_cents - $2 WHERE id = $1")
        .bind(from)
        .bind(amount_cents)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE accounts SET balance_cents = balance_cents + $2 WHERE id = $1")
        .bind(to)
        .bind(amount_cents)
        .execute(&mut *tx)
        .await?;
    let ledger_id = sqlx::query_scalar(
        "INSERT INTO ledger (from_account, to_account, amount_cents, idempotency_key) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(from)
    .bind(to)
    .bind(amount_cents)
    .bind(idempotency_key)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Receipt {
        ledger_id,
        replayed: false,
    })
}
