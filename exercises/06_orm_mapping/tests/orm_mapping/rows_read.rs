//! Paging in SQL, counted by Postgres: a page of a large table receives a page of rows.

use std::future::Future;

use kata_testkit::TestDb;
use orm_mapping::{MAX_PAGE_SIZE, Page, UserRepo};

use super::{SCHEMA, ids, ids_by_name_then_id};

/// Runs `call` and returns its page with the number of rows Postgres sent for it.
async fn rows_received(
    db: &TestDb,
    call: impl Future<Output = Result<Page, orm_mapping::RepoError>>,
) -> (Page, i64) {
    let (page, ran) = db.counted(call).await;
    let page = page.unwrap_or_else(|e| panic!("list failed: {e}"));
    (page, ran.rows)
}

#[tokio::test]
async fn a_page_receives_at_most_page_size_plus_one_rows_whatever_the_table_size() {
    const USERS: i64 = 3_000;
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    sqlx::query(
        "INSERT INTO users (email, name) \
         SELECT 'bulk' || i || '@example.com', 'name ' || (i % 37) FROM generate_series(1, $1) AS i",
    )
    .bind(USERS)
    .execute(&mut admin)
    .await
    .expect("seeding 3000 users");
    let expected = ids_by_name_then_id(&db).await;
    let repo = UserRepo::new(db.pool().await);

    let (first, rows) = rows_received(&db, repo.list(None, MAX_PAGE_SIZE)).await;
    assert_eq!(
        ids(&first.users),
        expected[..100],
        "a page of {MAX_PAGE_SIZE} over {USERS} users must hold the first 100 by (name, id)"
    );
    assert!(
        first.next.is_some(),
        "a full page of {MAX_PAGE_SIZE} with {USERS} users in the table must have a next cursor"
    );
    assert!(
        rows <= MAX_PAGE_SIZE + 1,
        "list(None, {MAX_PAGE_SIZE}) over {USERS} users received {rows} rows from Postgres; at \
         most {} are needed (LIMIT page_size + 1 in the SQL, not a cut in Rust)",
        MAX_PAGE_SIZE + 1
    );

    let (small, rows) = rows_received(&db, repo.list(None, 10)).await;
    assert_eq!(
        ids(&small.users),
        expected[..10],
        "a first page of 10 over {USERS} users must hold the first 10 by (name, id)"
    );
    assert!(
        rows <= 11,
        "list(None, 10) over {USERS} users received {rows} rows from Postgres; at most 11 are \
         needed (LIMIT page_size + 1 on the first page too, not a cut of a larger page in Rust)"
    );

    let (second, rows) = rows_received(&db, repo.list(first.next.as_ref(), 10)).await;
    assert_eq!(
        ids(&second.users),
        expected[100..110],
        "the page of 10 after the first 100 users must hold users 101 to 110 by (name, id)"
    );
    assert!(
        rows <= 11,
        "list(cursor, 10) over {USERS} users received {rows} rows from Postgres; at most 11 are \
         needed (WHERE (name, id) > cursor ... LIMIT 11 in the SQL, not a skip in Rust)"
    );
}
