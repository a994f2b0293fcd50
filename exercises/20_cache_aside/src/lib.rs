//! # Cache-aside: read through Redis, fall back to the source
//!
//! Read `README.md` first.
// The stub does not use its arguments (nor the struct's fields) yet: delete this line when you
// implement it.
#![allow(unused_variables, dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
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
        // TODO: a lazy `ConnectionManager` (`ConnectionManager::new_lazy_with_config`) whose
        // `ConnectionManagerConfig` sets both timeouts to REDIS_TIMEOUT and does not retry.
        todo!("Cache::new")
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
        // TODO: GET "{namespace}:{key}" and decode it; on a miss take this key's lock from
        // `in_flight`, look again, then load and store the JSON with its TTL (PSETEX).
        todo!("Cache::get_or_load")
    }

    /// Deletes the cached value of `key`: call it after writing to the source of truth.
    /// Deleting a key that is not cached is fine; Redis being unreachable is an error, since
    /// the caller must know the cache may now be stale.
    pub async fn invalidate(&self, key: &str) -> redis::RedisResult<()> {
        // TODO: DEL "{namespace}:{key}".
        todo!("Cache::invalidate")
    }
}
