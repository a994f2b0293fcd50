//! The page size is a bound parameter: one SQL text for every page size. `pg_stat_statements`
//! cannot tell (it replaces constants by `$n` too), so the test reads the statement's text as
//! sent, from `pg_stat_activity`, while it waits for a lock the test holds on `posts`.

use std::future::Future;

use super::*;

/// A page size no correct statement contains.
const LIMIT: i64 = 7_919;

#[tokio::test]
async fn the_page_size_is_bound_not_written_into_the_sql() {
    let db = seeded(&blog(3)).await;
    let pool = db.pool().await;

    let with_author = text_while_blocked(&db, latest_posts_with_author(&pool, LIMIT)).await;
    let with_tags = text_while_blocked(&db, latest_posts_with_tags(&pool, LIMIT)).await;

    for (function, text) in [
        ("latest_posts_with_author", with_author),
        ("latest_posts_with_tags", with_tags),
    ] {
        assert!(
            !text.contains(&LIMIT.to_string()),
            "expected {function}'s page query to bind the page size (`LIMIT $1`, \
             `.bind(limit)`), but the page size {LIMIT} is written into its SQL text: every \
             page size is then a new statement to parse, plan and cache. Its text: {text}"
        );
    }
}

/// The text of the first statement of `call` that reads `posts`, as Postgres received it;
/// `call` must then succeed.
async fn text_while_blocked<T, E: std::fmt::Display>(
    db: &TestDb,
    call: impl Future<Output = Result<T, E>>,
) -> String {
    let mut holder = db.admin().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE posts IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut holder)
        .await
        .expect("the test could not lock posts");
    let observe = async {
        db.wait_for_lock_waiters("the page query to wait for the lock on posts", |n| n >= 1)
            .await;
        let text: String = sqlx::query_scalar(
            "SELECT query FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'",
        )
        .bind(db.role())
        .fetch_one(&mut db.admin().await)
        .await
        .expect("the test could not read pg_stat_activity");
        sqlx::raw_sql("COMMIT")
            .execute(&mut holder)
            .await
            .expect("releasing the lock on posts");
        text
    };
    let (result, text) = tokio::join!(call, observe);
    if let Err(e) = result {
        panic!("expected the call to succeed once posts was unlocked, got: {e}");
    }
    text
}
