//! # Indexes: make the application's queries fast
//!
//! Read `README.md` first. The tables are in `schema.sql`. The application's three queries
//! below are complete: leave them as they are and write the migration that makes them fast.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use sqlx::PgPool;

/// "My orders": a customer's 20 latest orders, newest first.
pub const RECENT_ORDERS: &str = "SELECT id, customer_id, status, total_cents FROM orders \
     WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20";

/// The payment worker's queue: the 50 oldest orders still waiting for payment.
pub const PENDING_ORDERS: &str = "SELECT id, customer_id, status, total_cents FROM orders \
     WHERE status = 'pending' ORDER BY created_at LIMIT 50";

/// Sign-in: the customer with this email, whatever the case it was typed in.
pub const CUSTOMER_BY_EMAIL: &str =
    "SELECT id, email, name FROM customers WHERE lower(email) = lower($1)";

/// A row of `orders`, as the application reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Order {
    pub id: i64,
    pub customer_id: i64,
    pub status: String,
    pub total_cents: i64,
}

/// A row of `customers`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Customer {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// Runs [`RECENT_ORDERS`]. sqlx prepares it once per connection and reuses it: after a few
/// runs Postgres may plan it once for any `customer_id` (a *generic* plan).
pub async fn recent_orders(pool: &PgPool, customer_id: i64) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(RECENT_ORDERS)
        .bind(customer_id)
        .fetch_all(pool)
        .await
}

/// Runs [`PENDING_ORDERS`].
pub async fn pending_orders(pool: &PgPool) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(PENDING_ORDERS).fetch_all(pool).await
}

/// Runs [`CUSTOMER_BY_EMAIL`].
pub async fn customer_by_email(
    pool: &PgPool,
    email: &str,
) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as(CUSTOMER_BY_EMAIL)
        .bind(email)
        .fetch_optional(pool)
        .await
}

/// The migration: creates the indexes the three queries above need, on tables that already
/// hold their rows, and no others.
///
/// - [`RECENT_ORDERS`] reads one index in the order it asks for (no sort step): a composite
///   index whose columns come in the right order.
/// - [`PENDING_ORDERS`] reads a *partial* index holding only the pending orders, in order.
/// - [`CUSTOMER_BY_EMAIL`] reads an *expression* index on `lower(email)`.
/// - Every index costs every write: `orders` may carry at most 2 indexes besides its primary
///   key, `customers` at most 1, and each must serve one of the queries.
pub async fn create_indexes(pool: &PgPool) -> Result<(), sqlx::Error> {
    // TODO: run the `CREATE INDEX` statements with `sqlx::raw_sql("...").execute(pool)`
    // (raw_sql runs several `;`-separated statements in one go).
    todo!("create_indexes")
}
