//! # Cache invalidation: five strategies side by side
//!
//! Read `README.md` first. The tables are in `schema.sql`.

use std::future::Future;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};

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
        // Keys written together (a deploy, a warm-up, a burst of traffic) would otherwise
        // expire together, and their reloads would hit the database together.
        let jitter_ms = self.jitter.as_millis() as u64;
        self.base + Duration::from_millis(rand::random_range(0..=jitter_ms))
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
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let redis = ConnectionManager::new_with_config(client, config).await?;
        Ok(Caches {
            pool,
            redis,
            prefix: prefix.to_owned(),
            ttl,
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    // ------------------------------------------------------------------ TTL with jitter

    /// Stores `value` as JSON under `"{prefix}:{name}"` with a jittered TTL (`PSETEX`).
    pub async fn put<T: Serialize>(&self, name: &str, value: &T) -> Result<(), CacheError> {
        let json = serde_json::to_vec(value)?;
        let ttl_ms = self.ttl.pick().as_millis() as u64;
        // Value and TTL in one command: no moment where the key exists without an expiry.
        let () = self
            .redis
            .clone()
            .pset_ex(self.key(name), json, ttl_ms)
            .await?;
        Ok(())
    }

    /// The value under `"{prefix}:{name}"`, or `None` if it is missing or does not decode.
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, CacheError> {
        let raw: Option<Vec<u8>> = self.redis.clone().get(self.key(name)).await?;
        Ok(raw.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    // ------------------------------------------------------------------ cache-aside read

    /// Cache-aside read of `"{prefix}:product:{id}"`: a hit is returned, a miss is loaded from
    /// Postgres and stored with [`Caches::put`].
    pub async fn get_product(&self, id: i64) -> Result<Product, CacheError> {
        let name = format!("product:{id}");
        if let Some(product) = self.get(&name).await? {
            return Ok(product);
        }
        let product: Product =
            sqlx::query_as("SELECT id, name, category, price_cents FROM products WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(CacheError::NotFound(id))?;
        self.put(&name, &product).await?;
        Ok(product)
    }

    // ------------------------------------------------------------------ write-through

    /// Writes `product` to Postgres, and once that has COMMITTED, the new value to the cache.
    pub async fn update_write_through(&self, product: &Product) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        update_row(&mut tx, product).await?;
        // The commit can still fail (a deferred constraint, a serialization failure): the
        // cache learns about the write only once it is durable, or it would serve a value
        // that never existed.
        tx.commit().await?;
        self.put(&format!("product:{}", product.id), product).await
    }

    // ------------------------------------------------------------------ delete-on-write

    /// Writes `product` to Postgres, and once that has COMMITTED, deletes the cached copy.
    pub async fn update_delete_on_write(&self, product: &Product) -> Result<(), CacheError> {
        let mut tx = self.pool.begin().await?;
        update_row(&mut tx, product).await?;
        tx.commit().await?;
        // Delete AFTER the commit: deleted before, a reader could miss, load the old row
        // (still the committed one) and cache it again, stale until the TTL.
        let () = self
            .redis
            .clone()
            .del(self.key(&format!("product:{}", product.id)))
            .await?;
        Ok(())
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
        let generation: Option<u64> = self
            .redis
            .clone()
            .get(self.key(&format!("gen:{group}")))
            .await?;
        // The generation is part of the key: after a bump, nobody ever reads the old keys
        // again, and their TTL removes them. A reader that loaded before the bump writes
        // under the old generation, where no one looks: no stale repopulation either.
        let name = format!("group:{group}:{}:{key}", generation.unwrap_or(0));
        if let Some(value) = self.get(&name).await? {
            return Ok(value);
        }
        let value = loader().await?;
        self.put(&name, &value).await?;
        Ok(value)
    }

    /// Invalidates every entry of `group` at once, in O(1): one `INCR` of its generation.
    /// Returns the new generation.
    pub async fn invalidate_group(&self, group: &str) -> Result<u64, CacheError> {
        // No KEYS, no SCAN + DEL: their cost grows with the keyspace and they block or race.
        // The counter itself has no TTL: were it to expire, generation 0 would come back.
        Ok(self
            .redis
            .clone()
            .incr(self.key(&format!("gen:{group}")), 1)
            .await?)
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
        let generations: Vec<Option<u64>> = if reads.is_empty() {
            Vec::new()
        } else {
            let keys: Vec<String> = reads.iter().map(|t| self.table_gen_key(t)).collect();
            self.redis.clone().mget(keys).await?
        };
        let tables: Vec<(&str, u64)> = reads
            .iter()
            .zip(&generations)
            .map(|(table, generation)| (*table, generation.unwrap_or(0)))
            .collect();
        // Hash an unambiguous encoding of everything the result depends on: the SQL alone
        // would give `category = 'books'` and `category = 'games'` the same entry.
        let identity = serde_json::to_vec(&(sql, params, &tables))?;
        let name = format!("query:{:x}", Sha256::digest(&identity));
        if let Some(rows) = self.get(&name).await? {
            return Ok(rows);
        }
        let mut query = sqlx::query_as::<_, Product>(sql);
        for param in params {
            query = match param {
                Param::Int(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.clone()),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        self.put(&name, &rows).await?;
        Ok(rows)
    }

    /// Runs the write `sql` with `params` (its own transaction, committed when it returns),
    /// then bumps the generation of every table in `writes`. Returns the rows affected.
    pub async fn execute(
        &self,
        sql: &'static str,
        params: &[Param],
        writes: &[&str],
    ) -> Result<u64, CacheError> {
        let mut query = sqlx::query(sql);
        for param in params {
            query = match param {
                Param::Int(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.clone()),
            };
        }
        let done = query.execute(&self.pool).await?;
        // After the commit, one round trip for all the tables written.
        let mut bump = redis::pipe();
        for table in writes {
            bump.incr(self.table_gen_key(table), 1).ignore();
        }
        let () = bump.query_async(&mut self.redis.clone()).await?;
        Ok(done.rows_affected())
    }

    fn table_gen_key(&self, table: &str) -> String {
        self.key(&format!("table_gen:{table}"))
    }
}

async fn update_row(tx: &mut Transaction<'_, Postgres>, p: &Product) -> Result<(), CacheError> {
    let done =
        sqlx::query("UPDATE products SET name = $2, category = $3, price_cents = $4 WHERE id = $1")
            .bind(p.id)
            .bind(&p.name)
            .bind(&p.category)
            .bind(p.price_cents)
            .execute(&mut **tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(CacheError::NotFound(p.id));
    }
    Ok(())
}
