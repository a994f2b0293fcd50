//! Only a taken email is a `Conflict`: any other failure of the insert stays a database error.

use orm_mapping::RepoError;

use super::seeded;

#[tokio::test]
async fn a_database_failure_on_create_is_a_database_error_not_a_conflict() {
    let (db, repo) = seeded(&[]).await;
    let mut admin = db.admin().await;
    sqlx::query("DROP TABLE users")
        .execute(&mut admin)
        .await
        .expect("the test could not drop the users table");

    let result = repo.create("ann@example.com", "Ann").await;

    assert!(
        matches!(result, Err(RepoError::Database(_))),
        "create with the users table gone must be Err(RepoError::Database(..)): only a unique \
         violation (SQLSTATE 23505) means the email is taken, any other error is not a \
         Conflict; got {result:?}"
    );
}
