//! Generations: a group invalidated by one INCR, and query results keyed by their tables' generations.

use super::*;

#[tokio::test]
async fn bumping_the_generation_makes_every_old_entry_unreachable() {
    let kata = kata(LONG).await;
    let loads = AtomicUsize::new(0);
    for i in 0..20 {
        group_read(&kata, "catalog", &format!("page:{i}"), "v1", &loads).await;
    }
    group_read(&kata, "reviews", "page:0", "v1", &loads).await;

    let invalidated = kata.caches.invalidate_group("catalog").await;
    let mut after = Vec::new();
    for i in 0..20 {
        after.push(group_read(&kata, "catalog", &format!("page:{i}"), "v2", &loads).await);
    }
    let other_group = group_read(&kata, "reviews", "page:0", "v2", &loads).await;

    assert!(invalidated.is_ok(), "expected Ok, got {invalidated:?}");
    assert!(
        after.iter().all(|v| v == "v2"),
        "expected every catalog entry to be reloaded after invalidate_group, got {after:?}: \
         is the generation part of the key?"
    );
    assert_eq!(
        other_group, "v1",
        "expected the reviews group to keep its entry"
    );
    assert_eq!(
        loads.load(SeqCst),
        41,
        "expected 21 loads, then 20 reloads of the catalog"
    );
}

#[tokio::test]
async fn invalidating_a_group_leaves_old_entries_to_expire_instead_of_deleting_them() {
    let kata = kata(LONG).await;
    let loads = AtomicUsize::new(0);
    for i in 0..20 {
        group_read(&kata, "catalog", &format!("page:{i}"), "v1", &loads).await;
    }
    let before = kata.keys().await;

    let first = kata.caches.invalidate_group("catalog").await;
    assert!(
        matches!(first, Ok(1)),
        "invalidate_group returns the new generation: expected Ok(1) for a group never \
         invalidated (missing = 0), got {first:?}"
    );

    let after = kata.keys().await;
    let gone: Vec<_> = before.iter().filter(|k| !after.contains(k)).collect();
    assert!(
        gone.is_empty() && after.len() <= before.len() + 1,
        "expected invalidate_group to change one generation counter and delete nothing (O(1), \
         no KEYS or SCAN + DEL), but these keys were deleted: {gone:?}"
    );
    let counter = kata.redis.key("gen:catalog");
    for key in before.iter().filter(|key| **key != counter) {
        let ttl = kata.pttl(key).await;
        assert!(
            ttl > 0,
            "expected the old entry {key} to carry a TTL so that it ages out, got PTTL {ttl}"
        );
    }
    let second = kata.caches.invalidate_group("catalog").await;
    assert!(
        matches!(second, Ok(2)),
        "invalidate_group returns the new generation: expected Ok(2) for the second one (the \
         first made it 1), got {second:?}"
    );
    let ttl = kata.pttl(&counter).await;
    assert_eq!(
        ttl, -1,
        "expected the generation counter gen:catalog to have no TTL (were it to expire, \
         generation 0 and its invalidated entries would come back), got PTTL {ttl}"
    );
}

#[tokio::test]
async fn a_cached_query_is_served_until_a_write_to_its_table() {
    let kata = kata(LONG).await;
    let first = query(&kata, BY_CATEGORY, &books(), &["products"]).await;
    let entries: Vec<String> = kata
        .keys()
        .await
        .into_iter()
        .filter(|k| k.contains(":query:"))
        .collect();
    assert!(
        !entries.is_empty(),
        "expected query_products to cache its rows under query:{{sha256}}"
    );
    for key in &entries {
        let ttl = kata.pttl(key).await;
        assert!(
            ttl > 0,
            "expected the cached query result {key} to carry a TTL (every copy expires by \
             itself; superseded generations are never read again), got PTTL {ttl} (-1: no TTL)"
        );
    }
    kata.sneak("UPDATE products SET price_cents = 1 WHERE id = 2")
        .await;

    let cached = query(&kata, BY_CATEGORY, &books(), &["products"]).await;
    // The test holds Dune's row lock: execute's UPDATE waits inside Postgres while a query
    // runs (bumping the generation before the write would let it cache the old rows anew).
    let mut lock = kata.db.admin().await;
    sqlx::raw_sql("BEGIN; SELECT * FROM products WHERE id = 1 FOR UPDATE")
        .execute(&mut lock)
        .await
        .expect("locking Dune");
    let write = "UPDATE products SET price_cents = $1 WHERE id = $2";
    let writing = kata
        .caches
        .execute(write, &[Param::Int(777), Param::Int(1)], &["products"]);
    let reading = async {
        wait_until_blocked(&kata.db, "execute's UPDATE").await;
        query(&kata, BY_CATEGORY, &books(), &["products"]).await;
        sqlx::raw_sql("COMMIT")
            .execute(&mut lock)
            .await
            .expect("releasing Dune");
    };
    let (changed, ()) = tokio::join!(writing, reading);
    let fresh = query(&kata, BY_CATEGORY, &books(), &["products"]).await;

    assert_eq!(
        prices(&first),
        vec![(1, 1_000), (2, 800)],
        "expected the seeded books"
    );
    assert_eq!(
        prices(&cached),
        prices(&first),
        "expected the second run to come from the cache"
    );
    assert!(
        matches!(changed, Ok(1)),
        "expected execute to report 1 row, got {changed:?}"
    );
    assert_eq!(
        prices(&fresh),
        vec![(1, 777), (2, 1)],
        "expected a write to products through execute() to invalidate the cached query (a \
         query that ran while the write waited for its row lock must not be served after it: \
         bump the generations AFTER the write)"
    );
}

#[tokio::test]
async fn the_same_sql_with_different_parameters_does_not_collide() {
    let kata = kata(LONG).await;

    let books = query(&kata, BY_CATEGORY, &books(), &["products"]).await;
    let games = query(
        &kata,
        BY_CATEGORY,
        &[Param::Text("games".into())],
        &["products"],
    )
    .await;

    assert_eq!(
        prices(&books),
        vec![(1, 1_000), (2, 800)],
        "expected the two books"
    );
    assert_eq!(
        prices(&games),
        vec![(3, 2_500)],
        "expected the game: the cache key must include the parameters, not only the SQL"
    );
}

#[tokio::test]
async fn a_write_invalidates_only_the_queries_that_read_its_table() {
    let kata = kata(LONG).await;
    let both = ["products", "promotions"];
    query(&kata, BY_CATEGORY, &books(), &["products"]).await;
    query(&kata, PROMOTED, &[], &both).await;
    kata.sneak("UPDATE products SET price_cents = 5 WHERE id = 2")
        .await;

    let insert = "INSERT INTO promotions (product_id, label) VALUES ($1, $2)";
    let params = [Param::Int(2), Param::Text("new".into())];
    let changed = kata.caches.execute(insert, &params, &["promotions"]).await;
    let promoted = query(&kata, PROMOTED, &[], &both).await;
    let by_category = query(&kata, BY_CATEGORY, &books(), &["products"]).await;

    assert!(
        matches!(changed, Ok(1)),
        "expected execute to report 1 row, got {changed:?}"
    );
    assert_eq!(
        prices(&promoted),
        vec![(1, 1_000), (2, 5)],
        "expected the promotions query to be reloaded after a write to promotions"
    );
    assert_eq!(
        prices(&by_category),
        vec![(1, 1_000), (2, 800)],
        "expected the query reading only products to stay cached after a write to promotions \
         (one generation per table, not one for everything)"
    );
}
