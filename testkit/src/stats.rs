//! What the learner's code asked of Postgres, counted by Postgres itself
//! (`pg_stat_statements`, for the test's own database and role): the statements it ran and the
//! rows they returned. The test's own admin connections are another role and never count.
//! Neither do transaction control and session settings (`BEGIN`, `COMMIT`, `SET` ...): the
//! servers the katas start do not track them (`pg_stat_statements.track_utility = off`), and a
//! server that does must give the same counts.
//!
//! ```ignore
//! let (posts, cost) = db.counted(posts_with_authors(&pool)).await;
//! assert!(cost.statements <= 2, "... but it took {}", cost.statements);
//! ```

use std::ops::Sub;

use sqlx::{Connection, PgConnection};

use crate::TestDb;
use crate::postgres::replace_credentials;

/// Statements run and rows they returned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Statements {
    pub statements: i64,
    pub rows: i64,
}

impl Sub for Statements {
    type Output = Statements;

    fn sub(self, before: Statements) -> Statements {
        Statements {
            statements: self.statements - before.statements,
            rows: self.rows - before.rows,
        }
    }
}

const MISSING: &str = "this test counts the statements your code runs with Postgres's \
     pg_stat_statements extension, but this server does not provide it; start Postgres with \
     shared_preload_libraries = 'pg_stat_statements' (the servers the tests and `cargo xtask` \
     start do)";

impl TestDb {
    /// What the learner's role has run in this database so far; fails the test, saying how to
    /// start Postgres, where the server does not load `pg_stat_statements`.
    pub async fn statements_so_far(&self) -> Statements {
        self.learner_statements(&mut self.stats_reader().await)
            .await
            .unwrap_or_else(|e| panic!("{MISSING} ({e})"))
    }

    /// What the learner's role has run in this database so far, read on `reader` (an error
    /// where the server does not load `pg_stat_statements`).
    pub(crate) async fn learner_statements(
        &self,
        reader: &mut PgConnection,
    ) -> sqlx::Result<Statements> {
        let (statements, rows) = sqlx::query_as(
            "SELECT coalesce(sum(s.calls), 0)::int8, coalesce(sum(s.rows), 0)::int8 \
             FROM pg_stat_statements s \
             JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid \
             WHERE d.datname = $1 AND r.rolname = $2 \
             AND s.query !~* '^\\s*(begin|start|commit|end|rollback|abort|savepoint|release|set|reset|show)\\M'",
        )
        .bind(self.name())
        .bind(self.role())
        .fetch_one(reader)
        .await?;
        Ok(Statements { statements, rows })
    }

    /// Awaits `call` and returns its output with what it ran.
    pub async fn counted<T>(&self, call: impl Future<Output = T>) -> (T, Statements) {
        let before = self.statements_so_far().await;
        let output = call.await;
        let ran = self.statements_so_far().await - before;
        if ran.statements == 0 {
            self.assert_tracking().await;
        }
        (output, ran)
    }

    /// Fails the test where the server counts no statement at all (a count of 0 would pass
    /// any "at most" by accident).
    async fn assert_tracking(&self) {
        let track: String =
            sqlx::query_scalar("SELECT current_setting('pg_stat_statements.track')")
                .fetch_one(&mut self.stats_reader().await)
                .await
                .unwrap_or_else(|e| panic!("{MISSING} ({e})"));
        assert!(
            track != "none",
            "Postgres counted no statement for this call, so the count cannot be trusted: \
             pg_stat_statements.track is none on this server (the servers the tests and \
             `cargo xtask` start track the top-level statements)"
        );
    }

    /// The learner role's statements in this database as Postgres recorded them, by text:
    /// (text with constants replaced by `$n`, calls).
    pub async fn recorded_statements(&self) -> Vec<(String, i64)> {
        sqlx::query_as(
            "SELECT s.query, s.calls FROM pg_stat_statements s \
             JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid \
             WHERE d.datname = $1 AND r.rolname = $2 ORDER BY s.query",
        )
        .bind(self.name())
        .bind(self.role())
        .fetch_all(&mut self.stats_reader().await)
        .await
        .unwrap_or_else(|e| panic!("{MISSING} ({e})"))
    }

    /// An admin connection to the server's `postgres` database, where the harness created the
    /// extension's view (its figures are server-wide).
    async fn stats_reader(&self) -> PgConnection {
        let url = replace_credentials(&self.admin_url, None, "postgres");
        PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("could not open the admin connection: {e}"))
    }
}
