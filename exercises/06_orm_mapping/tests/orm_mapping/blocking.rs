//! Forcing a race: wait until every concurrent call is blocked on a lock inside Postgres.

use std::time::{Duration, Instant};

use kata_testkit::TestDb;
use tokio::task::JoinHandle;

/// Waits until every call has either finished or is waiting for a lock inside Postgres.
pub async fn wait_until_blocked<T>(db: &TestDb, calls: &[JoinHandle<T>]) {
    let mut observer = db.admin().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'",
        )
        .bind(db.role())
        .fetch_one(&mut observer)
        .await
        .expect("reading pg_stat_activity");
        let finished = calls.iter().filter(|call| call.is_finished()).count();
        if waiting as usize + finished >= calls.len() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {waiting} of {} calls reached the database in 60 s",
            calls.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
