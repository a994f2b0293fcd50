//! "Ordered by `name`" means as Postgres orders the `name` column, in the column's collation:
//! here a linguistic one, where spaces, punctuation and letter case do not sort as bytes do.

use std::collections::HashMap;

use kata_testkit::TestDb;
use orm_mapping::{MAX_PAGE_SIZE, UserRepo};

use super::{SCHEMA, every_page, ids_by_name_then_id};

/// The ICU root collation: `"a b" < "a-c" < "ab" < "ann" < "Ann" < "bob" < "Bob"`, where byte
/// order (`C`) has `"Ann" < "Bob" < "a b" < "ann"`.
const LINGUISTIC: &str = "und-x-icu";

#[tokio::test]
async fn paging_follows_the_name_columns_collation() {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    sqlx::query("ALTER TABLE users ALTER COLUMN name TYPE text COLLATE \"und-x-icu\"")
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| {
            panic!("giving users.name the collation {LINGUISTIC} (Postgres built with ICU): {e}")
        });
    // Inserted in this order, so ids do not follow names; "Cy" before "cy" and "Bob" before
    // "bob" (the collation puts the lower case first).
    let names = [
        "ann", "Bob", "a b", "Cy", "ab", "Ann", "a-c", "cy", "bob", "Bob",
    ];
    let mut name_of = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let id: i64 =
            sqlx::query_scalar("INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id")
                .bind(format!("c{i}@example.com"))
                .bind(name)
                .fetch_one(&mut admin)
                .await
                .expect("seeding users");
        name_of.insert(id, *name);
    }
    let repo = UserRepo::new(db.pool().await);
    let expected = ids_by_name_then_id(&db).await;
    let named = |ids: &[i64]| -> Vec<String> {
        ids.iter()
            .map(|id| format!("{id}:{}", name_of.get(id).copied().unwrap_or("?")))
            .collect()
    };

    for size in [1, 2, 3, MAX_PAGE_SIZE] {
        let seen: Vec<i64> = every_page(&repo, size).await.iter().map(|u| u.id).collect();
        assert_eq!(
            named(&seen),
            named(&expected),
            "pages of {size} over a `name` column with the collation {LINGUISTIC}: expected \
             every user once, ordered by (name, id) as Postgres orders that column (id:name); \
             sort and compare the cursor with the column's own collation and the name itself, \
             not another collation (COLLATE \"C\") or another key (lower(name))"
        );
    }
}
