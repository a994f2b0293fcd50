//! Races forced, never hoped for: the test holds something up (a lock in a transaction of its
//! own, or every write on the Redis server), waits until each concurrent call is stuck behind
//! it, then lets them all go at once. No sleeps: the wait polls the server's own view.
//!
//! ```ignore
//! let held = db.hold_locks("SELECT id FROM accounts WHERE id = 6 FOR UPDATE").await;
//! let calls: Vec<_> = (0..10).map(|_| tokio::spawn(call(pool.clone()))).collect();
//! db.wait_until_blocked("every call to wait for the lock the test holds", &calls).await;
//! held.rollback().await;
//! ```

use std::borrow::Borrow;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sqlx::{AssertSqlSafe, PgConnection};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{TestDb, TestRedis};

/// A transaction of the test's own, on an admin connection, holding the locks its statement
/// took until [`commit`](HeldLocks::commit) or [`rollback`](HeldLocks::rollback).
pub struct HeldLocks {
    conn: PgConnection,
}

impl TestDb {
    /// Begins a transaction and runs `sql` in it (`SELECT ... FOR UPDATE`, an `UPDATE`, an
    /// `INSERT` of a key the code will want): whatever it locks stays locked until the returned
    /// [`HeldLocks`] ends. Dropping it without ending it rolls back when the connection closes.
    pub async fn hold_locks(&self, sql: &str) -> HeldLocks {
        let mut conn = self.admin().await;
        for statement in ["BEGIN", sql] {
            sqlx::raw_sql(AssertSqlSafe(statement.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("the test could not take its lock ({sql}): {e}"));
        }
        HeldLocks { conn }
    }

    /// Waits until each of `calls` waits for a lock inside Postgres (held by the test) or has
    /// finished; after 60 s fails the test, saying `expected`.
    pub async fn wait_until_blocked<T>(
        &self,
        expected: &str,
        calls: &[impl Borrow<JoinHandle<T>>],
    ) {
        self.wait_for_lock_waiters(expected, |waiting| {
            let finished = calls.iter().filter(|c| (*c).borrow().is_finished()).count();
            waiting + finished >= calls.len()
        })
        .await;
    }
}

impl HeldLocks {
    /// Commits the test's transaction: its write lands, then the calls behind it go on.
    pub async fn commit(self) {
        self.end("COMMIT").await;
    }

    /// Rolls the test's transaction back: nothing of it stays, the calls behind it go on.
    pub async fn rollback(self) {
        self.end("ROLLBACK").await;
    }

    async fn end(mut self, how: &'static str) {
        let ended = sqlx::raw_sql(how).execute(&mut self.conn).await;
        ended.unwrap_or_else(|e| panic!("the test could not release its lock ({how}): {e}"));
    }
}

/// Every write on the Redis server held (`CLIENT PAUSE ... WRITE`; reads still run) until
/// [`unpause`](PausedWrites::unpause), or the pause's end. The pause is server-wide: other
/// tests' writes wait too, so keep it short.
pub struct PausedWrites {
    admin: MultiplexedConnection,
}

impl TestRedis {
    /// Holds every write for `at_most` (the pause ends then even if the test fails first).
    pub async fn pause_writes(&self, at_most: Duration) -> PausedWrites {
        let mut admin = self.admin().await;
        let paused: redis::RedisResult<()> = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(at_most.as_millis() as u64)
            .arg("WRITE")
            .query_async(&mut admin)
            .await;
        paused.unwrap_or_else(|e| panic!("the test could not pause Redis's writes: {e}"));
        PausedWrites { admin }
    }
}

impl PausedWrites {
    /// How many of the connections named `clients` (`CLIENT SETNAME`), or logged in as one of
    /// them (a [`TestRedis`] user is its namespace), have a command held.
    pub async fn held(&mut self, clients: &[&str]) -> usize {
        let list: redis::RedisResult<String> = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut self.admin)
            .await;
        let list = list.unwrap_or_else(|e| panic!("the test could not read CLIENT LIST: {e}"));
        list.lines()
            .filter(|line| {
                let field = |key: &str| {
                    let mut fields = line.split(' ');
                    fields
                        .find_map(|kv| kv.strip_prefix(key))
                        .unwrap_or_default()
                };
                let ours = clients.contains(&field("name=")) || clients.contains(&field("user="));
                ours && field("flags=").contains('b')
            })
            .count()
    }

    /// Waits until `ready(held)` holds, `held` being what [`held`](Self::held) counts; after
    /// 30 s fails the test, saying `expected`.
    pub async fn wait_until_held(
        &mut self,
        clients: &[&str],
        expected: &str,
        mut ready: impl FnMut(usize) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let held = self.held(clients).await;
            if ready(held) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected {expected}, but after 30 s Redis holds {held} of the calls"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Lets every held write go.
    pub async fn unpause(mut self) {
        let unpaused: redis::RedisResult<()> = redis::cmd("CLIENT")
            .arg("UNPAUSE")
            .query_async(&mut self.admin)
            .await;
        unpaused.unwrap_or_else(|e| panic!("the test could not unpause Redis: {e}"));
    }
}
