//! # Connection pooling: size it, bound the wait, never hold a connection across slow work
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use std::future::Future;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

/// How the service's pool is sized and how long a request may wait for a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most connections the pool opens at once (at least 1). Every instance of the service
    /// shares the server's own `max_connections`, so this is a budget, not a wish.
    pub max_connections: u32,
    /// Connections opened up front and kept open even when idle (at most `max_connections`).
    pub min_connections: u32,
    /// How long a caller waits for a free connection before giving up (longer than zero).
    pub acquire_timeout: Duration,
    /// An idle connection above `min_connections` is closed after this long; `None`: never.
    pub idle_timeout: Option<Duration>,
}

/// A [`PoolConfig`] that makes no sense, found before any connection is opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("max_connections must be at least 1")]
    NoConnections,
    #[error("acquire_timeout must be longer than zero")]
    ZeroAcquireTimeout,
    #[error("min_connections ({min}) is more than max_connections ({max})")]
    MinAboveMax { min: u32, max: u32 },
}

/// Why building the pool or serving a request failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("invalid pool configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
    /// Every connection stayed busy for the whole `acquire_timeout`.
    #[error("no database connection became free within the acquire timeout")]
    Exhausted,
    #[error("order {0} does not exist")]
    OrderNotFound(i64),
    #[error(transparent)]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for PoolError {
    /// Lets `?` turn sqlx errors into [`PoolError`]: sqlx reports a timed-out acquire as
    /// `sqlx::Error::PoolTimedOut`, which is [`PoolError::Exhausted`]; anything else is
    /// [`PoolError::Database`].
    fn from(error: sqlx::Error) -> Self {
        // TODO: map `sqlx::Error::PoolTimedOut` to `Exhausted`, everything else to `Database`.
        todo!("From<sqlx::Error> for PoolError")
    }
}

/// What a paid order looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: i64,
    pub amount_cents: i64,
    /// What the payment provider answered.
    pub payment_ref: String,
}

impl PoolConfig {
    /// Checks the configuration, in this order:
    /// - `max_connections == 0` is [`ConfigError::NoConnections`];
    /// - a zero `acquire_timeout` is [`ConfigError::ZeroAcquireTimeout`];
    /// - `min_connections > max_connections` is [`ConfigError::MinAboveMax`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        // TODO: return the first problem found, or Ok(()).
        todo!("PoolConfig::validate")
    }
}

/// Builds the service's pool from `config`, connecting with `options`.
///
/// - An invalid config is [`PoolError::InvalidConfig`], and no connection is opened.
/// - Every field of the config is applied: at most `max_connections` server connections,
///   `min_connections` of them opened right away, an acquire that waits longer than
///   `acquire_timeout` fails, idle connections close after `idle_timeout`.
/// - The server must be reachable: the pool opens its first connection(s) before returning.
pub async fn build_pool(
    options: PgConnectOptions,
    config: &PoolConfig,
) -> Result<PgPool, PoolError> {
    // TODO: validate, then `sqlx::postgres::PgPoolOptions::new()` with every setting of the
    // config, and `.connect_with(options)`.
    todo!("build_pool")
}

/// Pays order `order_id`: reads its amount, calls the (slow) payment provider `charge` with
/// it, then records the provider's reference and marks the order `'paid'`.
///
/// - An unknown order is [`PoolError::OrderNotFound`]; `charge` is not called.
/// - **No pooled connection is held while `charge` runs**: the provider may take seconds,
///   and a connection parked there is one that no other request can use.
/// - When no connection comes free within the pool's acquire timeout, the call fails with
///   [`PoolError::Exhausted`] instead of waiting on.
pub async fn pay_order<F, Fut>(
    pool: &PgPool,
    order_id: i64,
    charge: F,
) -> Result<Payment, PoolError>
where
    F: FnOnce(i64) -> Fut,
    Fut: Future<Output = String>,
{
    // TODO: read the amount (SELECT amount_cents FROM orders WHERE id = $1), let the
    // connection go, await `charge(amount)`, then
    // UPDATE orders SET status = 'paid', payment_ref = $2 WHERE id = $1.
    todo!("pay_order")
}
