//! Paging in SQL, counted by Postgres: a page of a large table receives a page of rows.

use std::future::Future;

use kata_testkit::TestDb;
use orm_mapping::{MAX_PAGE_SIZE, Page, UserRepo};
use sqlx::PgConnection;

use super::{SCHEMA, ids, ids_by_name_then_id};

/// Rows and statements the learner's role has received in this database, from
/// `pg_stat_statements` (the extension is created here by the test's admin connection).
async fn received_so_far(db: &TestDb, admin: &mut PgConnection) -> (i64, i64) {
    let counted = sqlx::query_as(
        "SELECT coalesce(sum(s.rows), 0)::int8, coalesce(sum(s.calls), 0)::int8 \
         FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid \
         WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND r.rolname = $1",
    )
    .bind(db.role())
    .fetch_one(admin)
    .await;
    counted.unwrap_or_else(|e| {
        panic!(
            "this test counts the rows your code receives with Postgres's pg_stat_statements \
             extension, but reading it failed ({e}); start Postgres with \
             shared_preload_libraries = 'pg_stat_statements' (the servers the tests and \
             `cargo xtask` start do)"
        )
    })
}

/// Runs `call` and returns its page with the number of rows Postgres sent for it.
async fn rows_received(
    db: &TestDb,
    admin: &mut PgConnection,
    call: impl Future<Output = Result<Page, orm_mapping::RepoError>>,
) -> (Page, i64) {
    let (rows_before, calls_before) = received_so_far(db, admin).await;
    let page = call.await.unwrap_or_else(|e| panic!("list failed: {e}"));
    let (rows_after, calls_after) = received_so_far(db, admin).await;
    assert!(
        calls_after > calls_before,
        "Postgres counted no statement for this call, so the count cannot be trusted: is \
         pg_stat_statements tracking this server (pg_stat_statements.track = top)?"
    );
    (page, rows_after - rows_before)
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
    sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut admin)
        .await
        .expect("creating the pg_stat_statements view in the test database");
    let expected = ids_by_name_then_id(&db).await;
    let repo = UserRepo::new(db.pool().await);

    let (first, rows) = rows_received(&db, &mut admin, repo.list(None, MAX_PAGE_SIZE)).await;
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

    let (second, rows) = rows_received(&db, &mut admin, repo.list(first.next.as_ref(), 10)).await;
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
