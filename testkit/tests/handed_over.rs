//! On the warm servers, whose holder tends their Postgres, a test does not wait for `DROP
//! DATABASE` (a checkpoint) at its end: it closes its database to new connections and the
//! holder drops it, and its role, between runs. This test plays both sides on a Postgres of
//! its own: a `services.json` that says it tends the server, a topic-like test in a child
//! process, then the holder's loop.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use kata_testkit::local;
use kata_testkit::services::ServicesFile;
use sqlx::{Connection, PgConnection};

/// The per-test databases and roles on the server, with whether each database takes
/// connections.
async fn per_test_objects(url: &str) -> BTreeSet<String> {
    let mut admin = PgConnection::connect(url).await.expect("admin connection");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT 'db ' || datname || CASE WHEN datallowconn THEN '' ELSE ' (closed)' END \
         FROM pg_database WHERE datname LIKE 'kata\\_t\\_%' \
         UNION SELECT 'role ' || rolname FROM pg_roles WHERE rolname LIKE 'kata\\_t\\_%'",
    )
    .fetch_all(&mut admin)
    .await
    .expect("listing databases and roles");
    names.into_iter().collect()
}

#[tokio::test]
async fn a_test_hands_its_database_over_and_the_holder_drops_it() {
    let state = std::env::temp_dir().join(format!("kata-handed-over-{}", std::process::id()));
    std::fs::create_dir_all(&state).expect("state dir");
    let postgres = local::start_postgres(&state.join("cache")).expect("a local Postgres");
    let file = ServicesFile {
        postgres: Some(postgres.url.clone()),
        origin: "local".into(),
        holder_pid: std::process::id(),
        tends_postgres: true,
        ..ServicesFile::default()
    };
    std::fs::write(
        state.join("services.json"),
        serde_json::to_string(&file).expect("json"),
    )
    .expect("services.json");

    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "topic_like_test", "--include-ignored"])
        .env("KATA_STATE_DIR", &state)
        .env("KATA_POSTGRES_URL", &postgres.url)
        .env_remove("KATA_DATABASE_URL")
        .env_remove("KATA_EPHEMERAL")
        .output()
        .expect("the child test runs");
    assert!(
        child.status.success(),
        "the topic-like test failed:\n{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );

    // No holder has run yet: the test's database is still there, closed, with its role.
    let handed_over = per_test_objects(&postgres.url).await;
    let name = handed_over
        .iter()
        .find_map(|o| o.strip_prefix("role "))
        .unwrap_or_else(|| panic!("no per-test role after the test: {handed_over:?}"));
    assert_eq!(
        handed_over,
        BTreeSet::from([format!("db {name} (closed)"), format!("role {name}")]),
        "after the test, before any holder ran"
    );

    kata_testkit::spares::keep(postgres.url.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut left = handed_over;
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = per_test_objects(&postgres.url).await;
    }
    assert!(
        left.is_empty(),
        "the holder left the test's database and role for a minute: {left:?}"
    );
    let _ = std::fs::remove_dir_all(&state);
}

/// Run by the test above, in its own process, against the server it tends.
#[tokio::test]
#[ignore = "run by a_test_hands_its_database_over_and_the_holder_drops_it"]
async fn topic_like_test() {
    let db = kata_testkit::TestDb::new("CREATE TABLE notes (id int PRIMARY KEY, body text);").await;
    let pool = db.pool().await;
    sqlx::query("INSERT INTO notes VALUES (1, 'kept until the holder drops it')")
        .execute(&pool)
        .await
        .expect("the learner's role writes");
}
