//! What the tests read back from Postgres's catalog, through the admin connection.

use kata_testkit::TestDb;
use sqlx::PgConnection;
use tokio::task::JoinHandle;

/// Columns of `users` and `posts` as [table, column, data_type, is_nullable].
pub async fn columns(admin: &mut PgConnection) -> Vec<Vec<String>> {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name IN ('users', 'posts')
         ORDER BY 1, 2",
    )
    .fetch_all(admin)
    .await
    .expect("reading information_schema.columns");
    rows.into_iter()
        .map(|(t, c, ty, n)| vec![t, c, ty, n])
        .collect()
}

/// Constraints of `users` and `posts` as [table, type (p/u/f/c), columns, referenced table,
/// ON DELETE action of a foreign key].
pub async fn constraints(admin: &mut PgConnection) -> Vec<Vec<String>> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text, c.contype::text,
                (SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_attribute a
                 WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)),
                CASE WHEN c.confrelid <> 0 THEN c.confrelid::regclass::text ELSE '' END,
                CASE c.contype WHEN 'f' THEN c.confdeltype::text ELSE '' END
         FROM pg_constraint c
         WHERE c.connamespace = 'public'::regnamespace AND c.contype IN ('p', 'u', 'f', 'c')
           AND c.conrelid::regclass::text IN ('users', 'posts')
         ORDER BY 1, 2, 3",
    )
    .fetch_all(admin)
    .await
    .expect("reading pg_constraint");
    rows.into_iter()
        .map(|(t, ty, cols, r, d)| vec![t, ty, cols, r, d])
        .collect()
}

/// `is_nullable` of a column (`YES` / `NO`), `None` if the column does not exist.
pub async fn nullable(admin: &mut PgConnection, table: &str, column: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT is_nullable::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name = $1 AND column_name = $2",
    )
    .bind(table)
    .bind(column)
    .fetch_optional(admin)
    .await
    .expect("reading information_schema.columns")
}

pub async fn recorded_versions(admin: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(admin)
        .await
        .expect("reading schema_migrations")
}

pub async fn exists(admin: &mut PgConnection, relation: &str) -> bool {
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(relation)
        .fetch_one(admin)
        .await
        .expect("looking up a relation")
}

pub fn strings<const N: usize>(rows: &[[&str; N]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| s.to_string()).collect())
        .collect()
}

/// Waits until every call has either finished or is waiting for a lock inside Postgres.
pub async fn wait_until_blocked<T>(db: &TestDb, calls: &[JoinHandle<T>]) {
    db.wait_for_lock_waiters(
        "every migrator to wait for the lock the test holds (or to finish)",
        |waiting| waiting + calls.iter().filter(|call| call.is_finished()).count() >= calls.len(),
    )
    .await;
}
