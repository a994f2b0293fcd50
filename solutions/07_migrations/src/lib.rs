//! # Migrations: version-controlled schema changes
//!
//! Read `README.md` first. You write the SQL files in `src/migrations/` and [`run`].

use sqlx::PgPool;

/// One schema change: applied once, in `version` order, recorded in `schema_migrations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// This application's migrations, oldest first. `include_str!` embeds each file at compile
/// time (and makes `cargo` rebuild when one changes). A migration that was applied anywhere is
/// never edited again: change the schema with a new file.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "create_users",
        sql: include_str!("migrations/0001_create_users.sql"),
    },
    Migration {
        version: 2,
        name: "create_posts",
        sql: include_str!("migrations/0002_create_posts.sql"),
    },
    Migration {
        version: 3,
        name: "add_users_display_name",
        sql: include_str!("migrations/0003_add_users_display_name.sql"),
    },
];

/// Key of the advisory lock that lets one migrator at a time work on a database.
pub const MIGRATION_LOCK: i64 = 0x006d_6967_7261_7465; // "migrate" in ASCII

/// Why migrating stopped. Migrations before the failing one stay applied and recorded.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {version} ({name}) failed and was rolled back: {source}")]
    Failed {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Applies this application's [`MIGRATIONS`] (see [`run`]).
pub async fn migrate(pool: &PgPool, up_to: Option<i64>) -> Result<Vec<i64>, MigrationError> {
    run(pool, MIGRATIONS, up_to).await
}

/// Applies, in order, every migration of `migrations` (sorted by version) that is not recorded
/// in `schema_migrations` yet and whose version is `<= up_to` (all of them for `None`), and
/// returns the versions this call applied.
///
/// - Creates `schema_migrations (version bigint PRIMARY KEY, name text NOT NULL,
///   applied_at timestamptz NOT NULL DEFAULT now())` if it does not exist.
/// - Each migration runs in its own transaction together with its `schema_migrations` row:
///   if anything fails, neither its changes nor its row remain, and the result is
///   [`MigrationError::Failed`] naming it.
/// - Running again applies nothing and returns an empty list.
/// - Any number of concurrent calls, from any number of processes, all succeed and apply each
///   migration exactly once.
pub async fn run(
    pool: &PgPool,
    migrations: &[Migration],
    up_to: Option<i64>,
) -> Result<Vec<i64>, MigrationError> {
    // Every transaction below first takes the same transaction-level advisory lock: concurrent
    // migrators queue there, and the lock is released by COMMIT or ROLLBACK, whatever happens.
    let mut tx = pool.begin().await?;
    lock(&mut tx).await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    bigint      PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    let mut applied = Vec::new();
    for migration in migrations
        .iter()
        .filter(|m| up_to.is_none_or(|last| m.version <= last))
    {
        let mut tx = pool.begin().await?;
        lock(&mut tx).await?;
        // Checked under the lock: another migrator may have applied it while we waited.
        let done: bool =
            sqlx::query_scalar("SELECT exists(SELECT FROM schema_migrations WHERE version = $1)")
                .bind(migration.version)
                .fetch_one(&mut *tx)
                .await?;
        if done {
            continue; // dropping `tx` rolls it back and releases the lock
        }
        // The file's statements and the bookkeeping row commit together or not at all
        // (Postgres DDL is transactional: a CREATE TABLE rolls back like an INSERT).
        let outcome = async {
            sqlx::raw_sql(migration.sql).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
                .bind(migration.version)
                .bind(migration.name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
        .await;
        outcome.map_err(|source| MigrationError::Failed {
            version: migration.version,
            name: migration.name,
            source,
        })?;
        applied.push(migration.version);
    }
    Ok(applied)
}

async fn lock(tx: &mut sqlx::PgTransaction<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
