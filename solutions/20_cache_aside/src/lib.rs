//! # Cache-aside: read through Redis, fall back to the source
//!
//! Read `README.md` first.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long the cache waits for Redis to accept a connection, and then for each reply, before
/// it gives up and serves the value from the loader.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// A cache-aside cache of JSON values in Redis, shared by all tasks (wrap it in an `Arc`).
pub struct Cache {
    /// One auto-reconnecting, multiplexed connection shared by every call.
    redis: ConnectionManager,
    /// Every key this cache touches is `"{namespace}:{key}"`.
    namespace: String,
    /// How long a stored value lives.
    ttl: Duration,
    /// Single-flight: one async lock per full Redis key that is being loaded right now.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Cache {
    /// A cache storing values as `"{namespace}:{key}"` for `ttl` (whole milliseconds, at least
    /// 1 ms).
    ///
    /// Does not connect: it succeeds even when Redis is down, and the connection is made on
    /// first use (and made again after it breaks). Connecting (never retried) and every reply
    /// are bounded by [`REDIS_TIMEOUT`]. Must be called inside a Tokio runtime.
    pub fn new(client: redis::Client, namespace: &str, ttl: Duration) -> Cache {
        // A lazy ConnectionManager reconnects by itself. No retry loop: a cache that waits for
        // Redis to come back is slower than no cache, so one failed attempt means "miss".
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(0);
        let redis = ConnectionManager::new_lazy_with_config(client, config)
            .expect("a ConnectionManagerConfig without push settings is always valid");
        Cache {
            redis,
            namespace: namespace.to_owned(),
            ttl,
            in_flight: Mutex::default(),
        }
    }

    /// Returns the value cached under `key`, or calls `loader` once, caches its `Ok` value for
    /// the TTL and returns it.
    ///
    /// - A hit does not call `loader`, and leaves the value and its TTL as they are.
    /// - The loader's `Err` is returned as is, and nothing is cached.
    /// - A cached value that is not valid JSON for `T` is a miss: it is loaded and overwritten.
    /// - Redis being down, slow or refusing the write is never an error: the value comes from
    ///   `loader`.
    /// - Concurrent misses for the same key call `loader` once; the others get the cached value.
    pub async fn get_or_load<T, E, F, Fut>(&self, key: &str, loader: F) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = self.key(key);
        match self.read(&key).await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            // Redis is unreachable: the source of truth still is. No lock, no write attempt.
            Err(_) => return loader().await,
        }

        // Single-flight: one loader per key at a time; whoever waited here re-reads first,
        // because the call that held the lock has usually just filled the cache.
        let lock = self.lock_for(&key);
        let _loading = lock.lock().await;
        if let Ok(Some(value)) = self.read(&key).await {
            return Ok(value);
        }

        let value = loader().await?;
        if let Ok(json) = serde_json::to_vec(&value) {
            // PSETEX stores the value and its TTL in one command. A failed write only costs
            // a future miss, so it is not the caller's problem.
            let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
            let _: redis::RedisResult<()> = self.redis.clone().pset_ex(&key, json, ttl_ms).await;
        }
        Ok(value)
    }

    /// Deletes the cached value of `key`: call it after writing to the source of truth.
    /// Deleting a key that is not cached is fine; Redis being unreachable is an error, since
    /// the caller must know the cache may now be stale.
    pub async fn invalidate(&self, key: &str) -> redis::RedisResult<()> {
        self.redis.clone().del(self.key(key)).await
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }

    /// `Ok(None)` on a miss, including a value that does not decode as `T`.
    async fn read<T: DeserializeOwned>(&self, key: &str) -> redis::RedisResult<Option<T>> {
        let raw: Option<Vec<u8>> = self.redis.clone().get(key).await?;
        Ok(raw.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget the locks nobody holds any more (the map holds the only reference), so the
        // map only ever contains the keys being loaded right now.
        in_flight.retain(|_, lock| Arc::strong_count(lock) > 1);
        in_flight.entry(key.to_owned()).or_default().clone()
    }
}
