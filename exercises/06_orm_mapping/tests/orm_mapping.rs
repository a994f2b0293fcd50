//! Hidden tests for the ORM mapping kata: real Postgres, one database per test.
//!
//! The concurrent duplicate is forced, not hoped for: the test inserts the email in its own
//! open transaction, waits until every call is blocked on it inside Postgres, then commits.
//! Rows a page reads are counted by Postgres itself (`pg_stat_statements`).
//!
//! Rule (README / stub) -> test:
//! - create returns the stored user; get / find_by_email read it back
//!   -> `created_users_round_trip_through_get_and_find_by_email`
//! - ids beyond 32 bits; unknown id / email: `Ok(None)`; exact comparison (case, spaces, `LIKE`
//!   `_` and `%`) -> `lookups_are_exact_and_missing_users_are_none`
//! - taken email: `Conflict { email }`, first user unchanged -> `a_duplicate_email_is_a_conflict_error`;
//!   against an uncommitted insert, 5 calls -> `a_duplicate_email_inserted_concurrently_is_a_conflict_too`
//! - any other database failure on create (the table dropped) is `Database`, not `Conflict`
//!   -> `failures::a_database_failure_on_create_is_a_database_error_not_a_conflict`
//! - hostile lookups find nothing, table survives
//!   -> `hostile_input_in_a_lookup_matches_nothing_and_the_table_survives`; all four hostile
//!   strings, `O'Brien`, specials, padded names stored verbatim, and paged through (each name a
//!   cursor) -> `hostile_input_is_stored_read_back_and_paged_verbatim`
//! - order (name, id), every user once for sizes 1..100 over 23 users sharing 4 names
//!   -> `paging::paging_visits_every_user_once_in_name_then_id_order`
//! - order (name, id) in the `name` column's collation (a linguistic one, `und-x-icu`: spaces,
//!   punctuation, letter case), every user once -> `collation::paging_follows_the_name_columns_collation`
//! - `next` exactly when more follow, empty table -> `paging::next_is_none_exactly_on_the_last_page`
//! - inserts / deletes between pages, the cursor's own row deleted
//!   -> `paging::users_inserted_or_deleted_between_pages_cause_no_repeats`
//! - page size outside 1..=100 refused (first page and with a cursor), 1 and 100 served
//!   -> `paging::a_page_size_outside_1_to_100_is_rejected`
//! - at most `page_size + 1` rows per call over 3000 users, a full page of 100 with `next`
//!   -> `rows_read::a_page_receives_at_most_page_size_plus_one_rows_whatever_the_table_size`

#[path = "orm_mapping/blocking.rs"]
mod blocking;
#[path = "orm_mapping/collation.rs"]
mod collation;
#[path = "orm_mapping/failures.rs"]
mod failures;
#[path = "orm_mapping/paging.rs"]
mod paging;
#[path = "orm_mapping/rows_read.rs"]
mod rows_read;

use std::collections::HashSet;

use kata_testkit::TestDb;
use orm_mapping::{MAX_PAGE_SIZE, Page, RepoError, User, UserRepo};

const SCHEMA: &str = include_str!("../schema.sql");

/// Hostile strings: each one breaks out of a quoted SQL literal if pasted into the SQL text.
const HOSTILE: [&str; 4] = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "x'; DROP TABLE users; --",
    "'); DROP TABLE users; --",
];

/// A database with `users` holding `rows` as (email, name), inserted in that order.
async fn seeded(rows: &[(&str, &str)]) -> (TestDb, UserRepo) {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    for (email, name) in rows {
        sqlx::query("INSERT INTO users (email, name) VALUES ($1, $2)")
            .bind(email)
            .bind(name)
            .execute(&mut admin)
            .await
            .expect("seeding users");
    }
    let repo = UserRepo::new(db.pool().await);
    (db, repo)
}

/// Every row of `users` as the admin sees it, ordered by id; panics if the table is gone.
async fn stored_rows(db: &TestDb) -> Vec<(i64, String, String)> {
    let mut admin = db.admin().await;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('public.users') IS NOT NULL")
        .fetch_one(&mut admin)
        .await
        .expect("looking for the users table");
    assert!(
        exists,
        "the users table is gone: a hostile string was run as SQL instead of being bound as a value"
    );
    sqlx::query_as("SELECT id, email, name FROM users ORDER BY id")
        .fetch_all(&mut admin)
        .await
        .expect("reading users")
}

/// The ids in the order the kata specifies, as Postgres sorts them.
async fn ids_by_name_then_id(db: &TestDb) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM users ORDER BY name, id")
        .fetch_all(&mut db.admin().await)
        .await
        .expect("reading ids")
}

async fn page(repo: &UserRepo, after: Option<&Page>, size: i64) -> Page {
    let cursor = after.and_then(|p| p.next.as_ref());
    let page = repo
        .list(cursor, size)
        .await
        .unwrap_or_else(|e| panic!("list(.., {size}) failed: {e}"));
    assert!(
        page.users.len() as i64 <= size,
        "a page of size {size} held {} users",
        page.users.len()
    );
    page
}

/// Follows `next` from the first page to the last and returns every user in order.
async fn every_page(repo: &UserRepo, size: i64) -> Vec<User> {
    let mut seen = Vec::new();
    let mut current = page(repo, None, size).await;
    for _ in 0..1_000 {
        seen.extend(current.users.iter().cloned());
        if current.next.is_none() {
            return seen;
        }
        current = page(repo, Some(&current), size).await;
    }
    panic!("pages of size {size} never ended (1000 pages): `next` must become None");
}

fn ids(users: &[User]) -> Vec<i64> {
    users.iter().map(|u| u.id).collect()
}

#[tokio::test]
async fn created_users_round_trip_through_get_and_find_by_email() {
    let (db, repo) = seeded(&[]).await;
    let ann = repo.create("ann@example.com", "Ann").await;
    let ann = ann.unwrap_or_else(|e| panic!("creating ann@example.com failed: {e}"));
    let bob = repo.create("bob@example.com", "Bob").await;
    let bob = bob.unwrap_or_else(|e| panic!("creating bob@example.com failed: {e}"));
    assert_eq!(
        (ann.email.as_str(), ann.name.as_str()),
        ("ann@example.com", "Ann"),
        "create must return the stored email and name"
    );
    assert_ne!(ann.id, bob.id, "two users must get two different ids");
    assert_eq!(
        stored_rows(&db).await,
        vec![
            (ann.id, "ann@example.com".into(), "Ann".into()),
            (bob.id, "bob@example.com".into(), "Bob".into())
        ],
        "the rows in the table (id, email, name) must be the users create returned"
    );
    for user in [&ann, &bob] {
        let got = repo.get(user.id).await.expect("get failed");
        assert_eq!(got.as_ref(), Some(user), "get({}) must return it", user.id);
        let found = repo
            .find_by_email(&user.email)
            .await
            .expect("find_by_email failed");
        assert_eq!(
            found.as_ref(),
            Some(user),
            "find_by_email({:?}) must return it",
            user.email
        );
    }
}

#[tokio::test]
async fn lookups_are_exact_and_missing_users_are_none() {
    let (db, repo) = seeded(&[("ann@example.com", "Ann")]).await;
    let big: i64 = 5_000_000_000;
    sqlx::query("INSERT INTO users (id, email, name) VALUES ($1, 'big@example.com', 'Big')")
        .bind(big)
        .execute(&mut db.admin().await)
        .await
        .expect("seeding a user with an id beyond 32 bits");
    let got = repo.get(big).await;
    assert!(
        matches!(&got, Ok(Some(user)) if user.id == big && user.email == "big@example.com"),
        "get({big}) must find the user with that id (ids are i64), got {got:?}"
    );
    let got = repo.get(big + 1).await;
    assert!(
        matches!(got, Ok(None)),
        "get({}) must be Ok(None), got {got:?}",
        big + 1
    );
    let got = repo.get(987_654).await;
    assert!(
        matches!(got, Ok(None)),
        "get of an id that does not exist must be Ok(None), got {got:?}"
    );
    let found = repo.find_by_email("nobody@example.com").await;
    assert!(
        matches!(found, Ok(None)),
        "find_by_email of an unknown email must be Ok(None), got {found:?}"
    );
    for probe in [
        "ANN@example.com",
        " ann@example.com",
        "ann@example.com ",
        "ann_example.com",
        "%",
        "ann@%",
    ] {
        let found = repo.find_by_email(probe).await;
        assert!(
            matches!(found, Ok(None)),
            "emails are compared exactly (`=`, not `LIKE`, no case folding or trimming): \
             {probe:?} must not find ann@example.com, got {found:?}"
        );
    }
}

#[tokio::test]
async fn a_duplicate_email_is_a_conflict_error() {
    let (db, repo) = seeded(&[]).await;
    let first = repo
        .create("ann@example.com", "Ann")
        .await
        .expect("the first create should succeed");
    let second = repo.create("ann@example.com", "Another Ann").await;
    assert!(
        matches!(&second, Err(RepoError::Conflict { email }) if email == "ann@example.com"),
        "a second user with ann@example.com must be Err(Conflict {{ email: \"ann@example.com\" }}) \
         (map SQLSTATE 23505), got {second:?}"
    );
    assert_eq!(
        stored_rows(&db).await,
        vec![(first.id, "ann@example.com".into(), "Ann".into())],
        "the refused duplicate must leave the first user as it was"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_email_inserted_concurrently_is_a_conflict_too() {
    let (db, _) = seeded(&[]).await;
    let repo = UserRepo::new(db.pool_with_max(5).await);
    // Another request has inserted the email but not committed yet: a "look first" check
    // finds nothing, and only the UNIQUE constraint can tell.
    let mut other = db.admin().await;
    sqlx::raw_sql("BEGIN; INSERT INTO users (email, name) VALUES ('race@example.com', 'first');")
        .execute(&mut other)
        .await
        .expect("inserting in an open transaction");
    let calls: Vec<_> = (0..5)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.create("race@example.com", &format!("late {i}")).await })
        })
        .collect();
    blocking::wait_until_blocked(&db, &calls).await;
    sqlx::raw_sql("COMMIT")
        .execute(&mut other)
        .await
        .expect("committing the first insert");
    for call in calls {
        let result = call.await.expect("a create call panicked");
        assert!(
            matches!(&result, Err(RepoError::Conflict { email }) if email == "race@example.com"),
            "create of an email another transaction inserted first must be Err(Conflict), \
             got {result:?}"
        );
    }
    let rows = stored_rows(&db).await;
    assert_eq!(
        rows.len(),
        1,
        "exactly one user may hold the email: {rows:?}"
    );
}

#[tokio::test]
async fn hostile_input_in_a_lookup_matches_nothing_and_the_table_survives() {
    let (db, repo) = seeded(&[("ann@example.com", "Ann")]).await;
    for hostile in HOSTILE {
        let found = repo.find_by_email(hostile).await;
        assert!(
            matches!(found, Ok(None)),
            "find_by_email({hostile:?}) must compare the string as a value and find nothing, \
             got {found:?}"
        );
    }
    assert_eq!(
        stored_rows(&db).await.len(),
        1,
        "the lookups must not change the table"
    );
}

#[tokio::test]
async fn hostile_input_is_stored_read_back_and_paged_verbatim() {
    let (db, repo) = seeded(&[]).await;
    let inputs = [
        ("o'brien@example.com", "Conan O'Brien"),
        (HOSTILE[3], "Robert'); DROP TABLE students; --"),
        (HOSTILE[0], "$1 \\ \" ; -- /* */ \u{1F600}"),
        (HOSTILE[1], HOSTILE[2]),
        (HOSTILE[2], "  two spaces either side  "),
    ];
    for (email, name) in inputs {
        let created = repo.create(email, name).await.unwrap_or_else(|e| {
            panic!("create({email:?}, {name:?}) must store the strings as data, but failed: {e}")
        });
        assert_eq!(
            (created.email.as_str(), created.name.as_str()),
            (email, name),
            "create must return the strings unchanged"
        );
        let got = repo.get(created.id).await.expect("get failed");
        assert_eq!(
            got.as_ref(),
            Some(&created),
            "get must read {name:?} back verbatim"
        );
        let found = repo
            .find_by_email(email)
            .await
            .expect("find_by_email failed");
        assert_eq!(
            found.as_ref(),
            Some(&created),
            "find_by_email({email:?}) must find exactly that user"
        );
    }
    let stored: Vec<(String, String)> = stored_rows(&db)
        .await
        .into_iter()
        .map(|(_, email, name)| (email, name))
        .collect();
    let expected: Vec<(String, String)> = inputs
        .iter()
        .map(|(e, n)| (e.to_string(), n.to_string()))
        .collect();
    assert_eq!(stored, expected, "the table must hold the strings verbatim");
    // Each of these names ends a page, so the next page's query carries it as its cursor.
    let in_order = ids_by_name_then_id(&db).await;
    for size in [1, 2] {
        let seen = every_page(&repo, size).await;
        assert_eq!(
            ids(&seen),
            in_order,
            "pages of {size} over users named {:?} must return every user once, ordered by \
             (name, id): a name holding quotes is a value to bind in the next page's query",
            inputs.map(|(_, name)| name)
        );
    }
}
