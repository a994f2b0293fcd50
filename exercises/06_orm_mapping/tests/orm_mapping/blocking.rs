//! Forcing a race: wait until every concurrent call is blocked on a lock inside Postgres.

use kata_testkit::TestDb;
use tokio::task::JoinHandle;

/// Waits until every call has either finished or is waiting for a lock inside Postgres.
pub async fn wait_until_blocked<T>(db: &TestDb, calls: &[JoinHandle<T>]) {
    db.wait_for_lock_waiters(
        "every call to wait for the lock the test holds (or to finish)",
        |waiting| waiting + calls.iter().filter(|call| call.is_finished()).count() >= calls.len(),
    )
    .await;
}
