//! Servers that accept connections and never write a byte back (a frozen server, a dead
//! network path), for the tests of bounds: a client's timeout, a probe's deadline.
//!
//! Those tests run on tokio's paused clock (`#[tokio::test(start_paused = true)]`): with only
//! in-process servers on the other side, timeouts pass in virtual time, in the same order as in
//! real time, and cost the learner nothing on every save. A test that talks to a real server
//! cannot: its replies take real time, and the paused clock would jump past them.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

/// A server that accepts connections and never answers: its port, and the task to abort when
/// the test is done.
pub async fn silent_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, silent)
}

/// A pool for a Postgres at `port` (a [`silent_server`]) that would wait a minute for a
/// connection: only the bound of the code under test stops it.
pub fn silent_pool(port: u16) -> PgPool {
    PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(60))
        .connect_lazy(&format!("postgres://kata@127.0.0.1:{port}/kata"))
        .expect("a valid database URL")
}
