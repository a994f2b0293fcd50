//! # SQL vs NoSQL: one leaderboard in Postgres and in Redis, one catalogue as rows and as documents
//!
//! Read `README.md` first. The tables are in `schema.sql`.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, AsyncConnectionConfig};
use sqlx::PgPool;
use sqlx::types::Json;

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
        // Dropping `tx` on an early `?` rolls back: the batch lands whole or not at all.
        let mut tx = self.pool.begin().await?;
        for entry in entries {
            sqlx::query(
                "INSERT INTO scores (player, score) VALUES ($1, $2) \
                 ON CONFLICT (player) DO UPDATE SET score = EXCLUDED.score",
            )
            .bind(&entry.player)
            .bind(entry.score)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds `points` (may be negative) to `player`'s score, starting from 0 for a new player,
    /// and returns the new score. Atomic: concurrent calls never lose an update.
    pub async fn add(&self, player: &str, points: i64) -> Result<i64, StoreError> {
        // One statement: the row lock taken by the update serialises concurrent adds, and the
        // addition happens in the database, so nothing can slip between a read and a write.
        let score = sqlx::query_scalar(
            "INSERT INTO scores (player, score) VALUES ($1, $2) \
             ON CONFLICT (player) DO UPDATE SET score = scores.score + EXCLUDED.score \
             RETURNING score",
        )
        .bind(player)
        .bind(points)
        .fetch_one(&self.pool)
        .await?;
        Ok(score)
    }

    /// The `k` best entries, best first, in the board's order (fewer if there are fewer).
    pub async fn top(&self, k: usize) -> Result<Vec<Entry>, StoreError> {
        // The ORDER BY is the index `scores_ranking`: Postgres reads its first k entries.
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT player, score FROM scores ORDER BY score DESC, player LIMIT $1")
                .bind(i64::try_from(k).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(player, score)| Entry { player, score })
            .collect())
    }

    /// `player`'s 1-based position in the board's order; `None` for an unknown player.
    pub async fn rank(&self, player: &str) -> Result<Option<u64>, StoreError> {
        // SQL has no "position in an index": counting the players ahead is O(n), where Redis
        // answers ZRANK in O(log n) from its skip list.
        let rank: Option<i64> = sqlx::query_scalar(
            "SELECT 1 + (SELECT count(*) FROM scores ahead \
                         WHERE ahead.score > me.score \
                            OR (ahead.score = me.score AND ahead.player < me.player)) \
             FROM scores me WHERE me.player = $1",
        )
        .bind(player)
        .fetch_optional(&self.pool)
        .await?;
        Ok(rank.map(|rank| rank as u64))
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
        if entries.is_empty() {
            return Ok(()); // ZADD needs at least one member
        }
        // The score is stored negated (see `top`). One ZADD is one atomic command.
        let items: Vec<(i64, &str)> = entries
            .iter()
            .map(|entry| (-entry.score, entry.player.as_str()))
            .collect();
        let _: usize = self.redis.clone().zadd_multiple(&self.key, &items).await?;
        Ok(())
    }

    /// Same contract as [`PgBoard::add`]: atomic, and no read-then-write.
    pub async fn add(&self, player: &str, points: i64) -> Result<i64, StoreError> {
        // ZINCRBY runs inside Redis's single command loop: atomic, whatever the concurrency.
        let stored: f64 = self.redis.clone().zincr(&self.key, player, -points).await?;
        Ok(-stored as i64)
    }

    /// Same contract as [`PgBoard::top`], in the same order, ties included.
    pub async fn top(&self, k: usize) -> Result<Vec<Entry>, StoreError> {
        // Redis orders equal scores by member bytes: ascending for ZRANGE, *descending* for
        // ZREVRANGE. Storing -score lets ascending ZRANGE give "best first, then name A-Z".
        if k == 0 {
            return Ok(Vec::new()); // ZRANGE 0 -1 would mean "everything"
        }
        let stop = isize::try_from(k - 1).unwrap_or(isize::MAX);
        let rows: Vec<(String, f64)> = self
            .redis
            .clone()
            .zrange_withscores(&self.key, 0, stop)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(player, stored)| Entry {
                player,
                score: -stored as i64,
            })
            .collect())
    }

    /// Same contract as [`PgBoard::rank`]: 1-based, `None` for an unknown player.
    pub async fn rank(&self, player: &str) -> Result<Option<u64>, StoreError> {
        let rank: Option<u64> = self.redis.clone().zrank(&self.key, player).await?;
        Ok(rank.map(|zero_based| zero_based + 1)) // ZRANK counts from 0
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
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO products (id, name, attributes) VALUES ($1, $2, $3)")
        .bind(product.id)
        .bind(&product.name)
        .bind(Json(&product.attributes))
        .execute(&mut *tx)
        .await?;
    for (name, value) in &product.attributes {
        sqlx::query("INSERT INTO product_attributes (product_id, name, value) VALUES ($1, $2, $3)")
            .bind(product.id)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The query [`find_by_attribute_json`] runs: the ids of the products whose `attributes`
/// document has attribute `$1` (text) equal to `$2` (text), in ascending id order. It must be
/// able to use the GIN index `products_attributes` (the tests check with `EXPLAIN`).
// Containment (`@>`) is what the GIN index answers. `attributes ->> $1 = $2` means the same,
// but no index on the column can serve it: Postgres would read every row.
pub const FIND_BY_ATTRIBUTE_JSON: &str = "SELECT id FROM products \
     WHERE attributes @> jsonb_build_object($1::text, $2::text) ORDER BY id";

/// Ids of the products whose document has attribute `name` equal to `value`, ascending.
pub async fn find_by_attribute_json(
    pool: &PgPool,
    name: &str,
    value: &str,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar(FIND_BY_ATTRIBUTE_JSON)
        .bind(name)
        .bind(value)
        .fetch_all(pool)
        .await?;
    Ok(ids)
}

/// The same answer as [`find_by_attribute_json`], from the `product_attributes` rows.
pub async fn find_by_attribute_normalized(
    pool: &PgPool,
    name: &str,
    value: &str,
) -> Result<Vec<i64>, StoreError> {
    // Served by the b-tree index (name, value).
    let ids = sqlx::query_scalar(
        "SELECT product_id FROM product_attributes WHERE name = $1 AND value = $2 \
         ORDER BY product_id",
    )
    .bind(name)
    .bind(value)
    .fetch_all(pool)
    .await?;
    Ok(ids)
}
