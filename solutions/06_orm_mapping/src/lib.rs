//! # ORM mapping: a repository over `users`, safe from SQL injection
//!
//! Read `README.md` first. The table is in `schema.sql`.

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
        // `$1`, `$2` are parameters: the values travel separately from the SQL text, so no
        // quote inside them can end the string and start a command.
        let inserted = sqlx::query_as(
            "INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id, email, name",
        )
        .bind(email)
        .bind(name)
        .fetch_one(&self.pool)
        .await;
        // Let the UNIQUE constraint decide (no "SELECT first": two calls can both find nothing),
        // then turn its SQLSTATE 23505 into the domain's error.
        match inserted {
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(RepoError::Conflict {
                email: email.to_owned(),
            }),
            other => Ok(other?),
        }
    }

    /// The user with this id, or `None`.
    pub async fn get(&self, id: i64) -> Result<Option<User>, RepoError> {
        let user = sqlx::query_as("SELECT id, email, name FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
    }

    /// The user with exactly this email (`=`: no case folding, trimming or `LIKE` wildcards), or
    /// `None`; whatever `email` holds, it is only ever compared as a value.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<User>, RepoError> {
        let user = sqlx::query_as("SELECT id, email, name FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(user)
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
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(RepoError::InvalidPageSize(page_size));
        }
        // Keyset pagination: continue strictly after the last (name, id) seen. `id` breaks
        // ties between equal names, so the order is total and no row sits "between" pages.
        // One extra row tells whether another page follows.
        let mut users: Vec<User> = match after {
            None => {
                sqlx::query_as("SELECT id, email, name FROM users ORDER BY name, id LIMIT $1")
                    .bind(page_size + 1)
                    .fetch_all(&self.pool)
                    .await?
            }
            Some(cursor) => {
                sqlx::query_as(
                    "SELECT id, email, name FROM users WHERE (name, id) > ($1, $2) \
                     ORDER BY name, id LIMIT $3",
                )
                .bind(&cursor.name)
                .bind(cursor.id)
                .bind(page_size + 1)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let more = users.len() as i64 > page_size;
        users.truncate(page_size as usize);
        let next = match users.last() {
            Some(last) if more => Some(Cursor {
                name: last.name.clone(),
                id: last.id,
            }),
            _ => None,
        };
        Ok(Page { users, next })
    }
}
