//! # Cache invalidation: five strategies side by side
//!
//! Read `README.md` first. The tables are in `schema.sql`.

// The stub does not use its arguments (nor the struct's fields) yet: delete this line when you
// implement it.
#![allow(unused_variables, dead_code)]

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// A row of `products`, cached as `serde_json` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub category: String,
    pub price_cents: i64,
}

/// How long a cached value lives: a TTL drawn uniformly from `[base, base + jitter]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtlPolicy {
    pub base: Duration,
    pub jitter: Duration,
}

/// A bound parameter of a cached query (`$1`, `$2`, ... in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Param {
    Int(i64),
    Text(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("product {0} does not exist")]
    NotFound(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The repository: Postgres is the source of truth, Redis holds copies under `"{prefix}:"`.
pub struct Caches {
    pool: PgPool,
    redis: ConnectionManager,
    prefix: String,
    ttl: TtlPolicy,
}

impl TtlPolicy {
    /// A TTL drawn uniformly from `[base, base + jitter]`, in whole milliseconds.
    pub fn pick(&self) -> Duration {
        // TODO: base + a uniformly random jitter in [0, jitter], in whole milliseconds.
        todo!("TtlPolicy::pick")
    }
}

impl Caches {
    /// Connects to Redis; every key is `"{prefix}:{name}"`, every value lives `ttl.pick()`.
    pub async fn new(
        pool: PgPool,
        client: redis::Client,
        prefix: &str,
        ttl: TtlPolicy,
    ) -> Result<Caches, CacheError> {
        // TODO: a `ConnectionManager` with connection and response timeouts.
        todo!("Caches::new")
    }

    // ------------------------------------------------------------------ TTL with jitter

    /// Stores `value` as JSON under `"{prefix}:{name}"` with a jittered TTL (`PSETEX`).
    pub async fn put<T: Serialize>(&self, name: &str, value: &T) -> Result<(), CacheError> {
        // TODO: JSON under `{prefix}:{name}` with a TTL from `self.ttl.pick()`, in ONE command.
        todo!("Caches::put")
    }

    /// The value under `"{prefix}:{name}"`, or `None` if it is missing or does not decode.
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, CacheError> {
        // TODO: GET; a missing key or bytes that do not decode as `T` are `None`.
        todo!("Caches::get")
    }

    // ------------------------------------------------------------------ cache-aside read

    /// Cache-aside read of `"{prefix}:product:{id}"`: a hit is returned, a miss is loaded from
    /// Postgres and stored with [`Caches::put`].
    pub async fn get_product(&self, id: i64) -> Result<Product, CacheError> {
        // TODO: `product:{id}`: hit -> return it; miss -> SELECT, `put`, return (NotFound if no row).
        todo!("Caches::get_product")
    }

    // ------------------------------------------------------------------ write-through

    /// Writes `product` to Postgres, and once that has COMMITTED, the new value to the cache.
    pub async fn update_write_through(&self, product: &Product) -> Result<(), CacheError> {
        // TODO: UPDATE in a transaction, COMMIT, and only then `put` the new value.
        todo!("Caches::update_write_through")
    }

    // ------------------------------------------------------------------ delete-on-write

    /// Writes `product` to Postgres, and once that has COMMITTED, deletes the cached copy.
    pub async fn update_delete_on_write(&self, product: &Product) -> Result<(), CacheError> {
        // TODO: UPDATE in a transaction, COMMIT, and only then DEL the cached copy.
        todo!("Caches::update_delete_on_write")
    }

    // ------------------------------------------------------------------ generations

    /// Cache-aside read of `key` in `group`, stored as
    /// `"{prefix}:group:{group}:{generation}:{key}"` (the generation lives under
    /// `"{prefix}:gen:{group}"`, missing = 0).
    pub async fn group_get_or_load<T, F, Fut>(
        &self,
        group: &str,
        key: &str,
        loader: F,
    ) -> Result<T, CacheError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, CacheError>>,
    {
        // TODO: read the group's generation, and use it in the key of the entry.
        todo!("Caches::group_get_or_load")
    }

    /// Invalidates every entry of `group` at once, in O(1): one `INCR` of its generation.
    /// Returns the new generation.
    pub async fn invalidate_group(&self, group: &str) -> Result<u64, CacheError> {
        // TODO: one INCR of the group's generation; never KEYS / SCAN + DEL.
        todo!("Caches::invalidate_group")
    }

    // ------------------------------------------------------------------ query-result cache

    /// Runs `sql` (which selects `id, name, category, price_cents`) with `params`, cached
    /// under `"{prefix}:query:{sha256 hex}"` of the SQL text, the parameters and the current
    /// generation of every table in `reads` (`"{prefix}:table_gen:{table}"`, missing = 0).
    pub async fn query_products(
        &self,
        sql: &'static str,
        params: &[Param],
        reads: &[&str],
    ) -> Result<Vec<Product>, CacheError> {
        // TODO: key = sha256 of (SQL, params, generation of each table read); miss -> bind the
        // params in order, fetch, `put`.
        todo!("Caches::query_products")
    }

    /// Runs the write `sql` with `params` (its own transaction, committed when it returns),
    /// then bumps the generation of every table in `writes`. Returns the rows affected.
    pub async fn execute(
        &self,
        sql: &'static str,
        params: &[Param],
        writes: &[&str],
    ) -> Result<u64, CacheError> {
        // TODO: run the write with its params, then INCR the generation of each table written.
        todo!("Caches::execute")
    }
}
