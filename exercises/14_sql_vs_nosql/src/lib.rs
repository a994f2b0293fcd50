//! # SQL vs NoSQL: one leaderboard in Postgres and in Redis, one catalogue as rows and as documents
//!
//! Read `README.md` first. The tables are in `schema.sql`.
// The stub does not use its arguments or fields yet: delete this line when you implement it.
#![allow(unused_variables, dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sqlx::PgPool;

/// A failure of either store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Postgres(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

// ---------------------------------------------------------------------------------------------
// The same leaderboard twice: rows in Postgres, a sorted set in Redis.
//
// Both boards order players the same way: **higher score first; equal scores by player name
// ascending, byte by byte** (`"Bob" < "alice" < "bob"`). Ranks are 1-based.
// ---------------------------------------------------------------------------------------------

/// One line of the leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub player: String,
    pub score: i64,
}

impl Entry {
    pub fn new(player: &str, score: i64) -> Entry {
        Entry {
            player: player.to_owned(),
            score,
        }
    }
}

/// The leaderboard as the `scores` table.
pub struct PgBoard {
    pool: PgPool,
}

/// The leaderboard as one Redis sorted set: members are player names.
pub struct RedisBoard {
    redis: MultiplexedConnection,
    /// The sorted set's key.
    key: String,
}

impl PgBoard {
    pub fn new(pool: PgPool) -> PgBoard {
        PgBoard { pool }
    }

    /// Sets each player's score (a new player is inserted, a known one overwritten), all in
    /// one transaction: if any row fails, no score changes.
    pub async fn set_scores(&self, entries: &[Entry]) -> Result<(), StoreError> {
        // TODO: begin a transaction; INSERT ... ON CONFLICT (player) DO UPDATE for each entry;
        // commit.
        todo!("PgBoard::set_scores")
    }

    /// Adds `points` (may be negative) to `player`'s score, starting from 0 for a new player,
    /// and returns the new score. Atomic: concurrent calls never lose an update.
    pub async fn add(&self, player: &str, points: i64) -> Result<i64, StoreError> {
        // TODO: one upsert statement that adds to the stored score, RETURNING score.
        todo!("PgBoard::add")
    }

    /// The `k` best entries, best first, in the board's order (fewer if there are fewer).
    pub async fn top(&self, k: usize) -> Result<Vec<Entry>, StoreError> {
        // TODO: ORDER BY the index's order, LIMIT k.
        todo!("PgBoard::top")
    }

    /// `player`'s 1-based position in the board's order; `None` for an unknown player.
    pub async fn rank(&self, player: &str) -> Result<Option<u64>, StoreError> {
        // TODO: 1 + the number of players ahead of this one (higher score, or equal score
        // and a smaller name).
        todo!("PgBoard::rank")
    }
}

impl RedisBoard {
    /// Connects to Redis; the board lives in the sorted set `key`.
    pub async fn new(client: redis::Client, key: &str) -> Result<RedisBoard, StoreError> {
        // Given: redis answers time out after 500 ms by default, too tight for a busy machine.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        let redis = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(RedisBoard {
            redis,
            key: key.to_owned(),
        })
    }

    /// Same contract as [`PgBoard::set_scores`]: all scores set by one command.
    pub async fn set_scores(&self, entries: &[Entry]) -> Result<(), StoreError> {
        // TODO: one ZADD with every (score, player) pair (nothing to do for an empty slice).
        // Think first about which score you store: see `top`.
        todo!("RedisBoard::set_scores")
    }

    /// Same contract as [`PgBoard::add`]: atomic, and no read-then-write.
    pub async fn add(&self, player: &str, points: i64) -> Result<i64, StoreError> {
        // TODO: ZINCRBY.
        todo!("RedisBoard::add")
    }

    /// Same contract as [`PgBoard::top`], in the same order, ties included.
    pub async fn top(&self, k: usize) -> Result<Vec<Entry>, StoreError> {
        // TODO: ZREVRANGE puts equal scores in *descending* member order, ZRANGE in ascending
        // order. Store the scores so that ZRANGE ... WITHSCORES gives the board's order.
        todo!("RedisBoard::top")
    }

    /// Same contract as [`PgBoard::rank`]: 1-based, `None` for an unknown player.
    pub async fn rank(&self, player: &str) -> Result<Option<u64>, StoreError> {
        // TODO: ZRANK is 0-based.
        todo!("RedisBoard::rank")
    }
}

// ---------------------------------------------------------------------------------------------
// One product catalogue stored twice in Postgres: as a JSONB document per product
// (`products.attributes`) and as normalized rows (`product_attributes`).
// ---------------------------------------------------------------------------------------------

/// A product and its attributes (only some products have a given attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: String,
    /// Attribute name to value, e.g. `{"color": "red", "size": "M"}`.
    pub attributes: BTreeMap<String, String>,
}

/// Inserts `product` in both forms, in one transaction: the `products` row with its
/// attributes as a JSON object, and one `product_attributes` row per attribute. If any row
/// fails, nothing is stored.
pub async fn insert_product(pool: &PgPool, product: &Product) -> Result<(), StoreError> {
    // TODO: pool.begin(); INSERT INTO products (binding the map with sqlx::types::Json);
    // INSERT INTO product_attributes for each attribute; commit.
    todo!("insert_product")
}

/// The query [`find_by_attribute_json`] runs: the ids of the products whose `attributes`
/// document has attribute `$1` (text) equal to `$2` (text), in ascending id order. It must be
/// able to use the GIN index `products_attributes` (the tests check with `EXPLAIN`).
// TODO: write the query.
pub const FIND_BY_ATTRIBUTE_JSON: &str = "-- TODO";

/// Ids of the products whose document has attribute `name` equal to `value`, ascending.
pub async fn find_by_attribute_json(
    pool: &PgPool,
    name: &str,
    value: &str,
) -> Result<Vec<i64>, StoreError> {
    // TODO: run FIND_BY_ATTRIBUTE_JSON with `name` and `value` bound.
    todo!("find_by_attribute_json")
}

/// The same answer as [`find_by_attribute_json`], from the `product_attributes` rows.
pub async fn find_by_attribute_normalized(
    pool: &PgPool,
    name: &str,
    value: &str,
) -> Result<Vec<i64>, StoreError> {
    // TODO: SELECT product_id FROM product_attributes WHERE ... ORDER BY product_id.
    todo!("find_by_attribute_normalized")
}
