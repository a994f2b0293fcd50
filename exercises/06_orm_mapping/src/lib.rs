//! # ORM mapping: a repository over `users`, safe from SQL injection
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments or the pool yet: delete this line when you implement it.
#![allow(unused_variables, dead_code)]

use sqlx::PgPool;

/// The largest page [`UserRepo::list`] serves.
pub const MAX_PAGE_SIZE: i64 = 100;

/// One row of `users`, mapped column by column (`#[derive(FromRow)]` matches column names to
/// field names, so select exactly `id, email, name`).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
}

/// Where the next page starts: the sort key `(name, id)` of the last user already returned.
/// Callers treat it as opaque and hand it back to [`UserRepo::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub name: String,
    pub id: i64,
}

/// One page of users, ordered by `name`, then `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub users: Vec<User>,
    /// `Some` exactly when more users follow this page.
    pub next: Option<Cursor>,
}

/// Why a repository call failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("a user with email {email:?} already exists")]
    Conflict { email: String },
    #[error("the page size must be between 1 and {MAX_PAGE_SIZE}, got {0}")]
    InvalidPageSize(i64),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The `users` table seen as a collection of [`User`] values (Django's `User.objects`).
#[derive(Debug, Clone)]
pub struct UserRepo {
    pool: PgPool,
}

impl UserRepo {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Inserts a user and returns it with the id the database gave it.
    ///
    /// - `email` and `name` are data, stored verbatim whatever characters they hold.
    /// - An email that is already taken is [`RepoError::Conflict`], also when another call
    ///   inserts it at the same moment.
    pub async fn create(&self, email: &str, name: &str) -> Result<User, RepoError> {
        // TODO: INSERT with bind parameters ($1, $2) and RETURNING the row; turn a unique
        // violation (SQLSTATE 23505) into `RepoError::Conflict`.
        todo!("create")
    }

    /// The user with this id, or `None`.
    pub async fn get(&self, id: i64) -> Result<Option<User>, RepoError> {
        // TODO: SELECT the row by id with `sqlx::query_as` and `fetch_optional`.
        todo!("get")
    }

    /// The user with exactly this email (`=`: no case folding, trimming or `LIKE` wildcards), or
    /// `None`; whatever `email` holds, it is only ever compared as a value.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, RepoError> {
        // TODO: SELECT the row by email, the email bound as a parameter (never `format!`).
        todo!("find_by_email")
    }

    /// Up to `page_size` users ordered by `name`, then `id`, starting after `after` (from the
    /// start when `None`).
    ///
    /// - `page_size` outside `1..=MAX_PAGE_SIZE` is [`RepoError::InvalidPageSize`].
    /// - Following `next` visits every user exactly once, also users sharing a name, and users
    ///   inserted or deleted between two calls (the cursor's own user included) never make
    ///   another user repeat or go missing.
    /// - One call receives at most `page_size + 1` rows from Postgres, whatever the table's size.
    pub async fn list(&self, after: Option<&Cursor>, page_size: i64) -> Result<Page, RepoError> {
        // TODO: check the page size, then fetch the users after the cursor ordered by a key that
        // is unique (name alone is not), and build `next` from the last user returned.
        todo!("list")
    }
}
