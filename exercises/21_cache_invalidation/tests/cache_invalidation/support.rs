//! Test helpers: a seeded database, a Redis namespace, and inspection through unrestricted
//! connections (the learner's code never sees them).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use cache_invalidation::{CacheError, Caches, Param, Product, TtlPolicy};
use kata_testkit::{TestDb, TestRedis};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;

pub const SCHEMA: &str = include_str!("../../schema.sql");

/// Long enough never to expire during a test: 600 s plus up to 120 s of jitter.
pub const LONG: TtlPolicy = TtlPolicy {
    base: Duration::from_millis(600_000),
    jitter: Duration::from_millis(120_000),
};

pub fn dune() -> Product {
    product(1, "Dune", "books", 1_000)
}

pub fn product(id: i64, name: &str, category: &str, price_cents: i64) -> Product {
    Product {
        id,
        name: name.into(),
        category: category.into(),
        price_cents,
    }
}

pub struct Kata {
    pub db: TestDb,
    pub redis: TestRedis,
    pub caches: Caches,
}

/// Books Dune (1) and Emma (2), game Tetris (3); Dune is promoted.
pub async fn kata(ttl: TtlPolicy) -> Kata {
    let db = TestDb::new(SCHEMA).await;
    sqlx::raw_sql(
        "INSERT INTO categories VALUES ('books'), ('games');
         INSERT INTO products VALUES (1, 'Dune', 'books', 1000), (2, 'Emma', 'books', 800),
                                     (3, 'Tetris', 'games', 2500);
         INSERT INTO promotions VALUES (1, 'staff pick');",
    )
    .execute(&mut db.admin().await)
    .await
    .expect("seeding the catalogue");
    let redis = TestRedis::new().await;
    let caches = caches(&db, &redis, ttl).await;
    Kata { db, redis, caches }
}

/// Another instance of the repository: its own pool and its own Redis connection.
pub async fn caches(db: &TestDb, redis: &TestRedis, ttl: TtlPolicy) -> Caches {
    let made = Caches::new(db.pool().await, redis.client(), redis.namespace(), ttl).await;
    made.unwrap_or_else(|e| panic!("expected Caches::new to succeed, but got: {e}"))
}

impl Kata {
    pub async fn admin(&self) -> MultiplexedConnection {
        self.redis.admin().await
    }

    /// The product as Postgres has it, read by the superuser.
    pub async fn row(&self, id: i64) -> Product {
        let row =
            sqlx::query_as("SELECT id, name, category, price_cents FROM products WHERE id = $1")
                .bind(id)
                .fetch_one(&mut self.db.admin().await)
                .await;
        row.unwrap_or_else(|e| panic!("could not read product {id}: {e}"))
    }

    /// Changes a row behind the cache's back (no invalidation): shows whether a read is cached.
    pub async fn sneak(&self, sql: &'static str) {
        sqlx::raw_sql(sql)
            .execute(&mut self.db.admin().await)
            .await
            .unwrap_or_else(|e| panic!("could not run {sql:?}: {e}"));
    }

    /// The cached product under `{ns}:product:{id}`, decoded, or `None`.
    pub async fn cached_product(&self, id: i64) -> Option<Product> {
        let raw: Option<Vec<u8>> = self
            .admin()
            .await
            .get(self.redis.key(&format!("product:{id}")))
            .await
            .expect("GET");
        raw.map(|raw| {
            serde_json::from_slice(&raw).unwrap_or_else(|e| {
                panic!(
                    "expected a Product as JSON, got {:?} ({e})",
                    String::from_utf8_lossy(&raw)
                )
            })
        })
    }

    pub async fn pttl(&self, full_key: &str) -> i64 {
        self.admin()
            .await
            .pttl(full_key)
            .await
            .unwrap_or_else(|e| panic!("PTTL {full_key}: {e}"))
    }

    /// Every key of this test's namespace.
    pub async fn keys(&self) -> Vec<String> {
        let mut admin = self.admin().await;
        let pattern = format!("{}:*", self.redis.namespace());
        let mut keys: Vec<String> = Vec::new();
        let mut iter = admin.scan_match::<_, String>(pattern).await.expect("SCAN");
        while let Some(key) = iter.next_item().await {
            keys.push(key.expect("a key name"));
        }
        keys.sort();
        keys
    }
}

/// Polls (generous deadline) until `full_key` is gone: Redis expired it.
pub async fn wait_until_expired(admin: &mut MultiplexedConnection, full_key: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while admin.exists::<_, bool>(full_key).await.expect("EXISTS") {
        assert!(
            Instant::now() < deadline,
            "Redis did not expire {full_key} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls until some statement of the learner's role waits for a lock in Postgres.
pub async fn wait_until_blocked(db: &TestDb, what: &str) {
    let expected = format!("{what} to wait for the row lock the test holds");
    db.wait_for_lock_waiters(&expected, |waiting| waiting > 0)
        .await;
}

/// Reads `key` in `group` with a loader that counts its calls and returns `value`.
pub async fn group_read(
    k: &Kata,
    group: &str,
    key: &str,
    value: &str,
    loads: &AtomicUsize,
) -> String {
    let loader = || async {
        loads.fetch_add(1, SeqCst);
        Ok::<_, CacheError>(value.to_owned())
    };
    let got = k.caches.group_get_or_load(group, key, loader).await;
    got.unwrap_or_else(|e| panic!("expected group_get_or_load to succeed, got {e}"))
}

pub const BY_CATEGORY: &str =
    "SELECT id, name, category, price_cents FROM products WHERE category = $1 ORDER BY id";
pub const PROMOTED: &str = "SELECT p.id, p.name, p.category, p.price_cents FROM products p \
                        JOIN promotions pr ON pr.product_id = p.id ORDER BY p.id";

pub fn books() -> Vec<Param> {
    vec![Param::Text("books".into())]
}

pub async fn query(k: &Kata, sql: &'static str, params: &[Param], reads: &[&str]) -> Vec<Product> {
    let rows = k.caches.query_products(sql, params, reads).await;
    rows.unwrap_or_else(|e| panic!("expected the query {sql:?} to succeed, got {e}"))
}

pub fn prices(rows: &[Product]) -> Vec<(i64, i64)> {
    rows.iter().map(|p| (p.id, p.price_cents)).collect()
}
