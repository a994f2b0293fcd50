//! On servers the run does not own (`KATA_DATABASE_URL`, `KATA_REDIS_URL`), tests leave
//! nothing behind: this test starts its own Postgres and Redis, plants what a killed run
//! would have left, runs a topic-like test in a child process pointed at them, and finds
//! exactly the databases, roles and Redis users it had before, leftovers swept. The one
//! exception is by design: the schema's template database (`kata_tpl_<hash>`, reused by every
//! later run) and the role owning templates' objects (`kata_template_owner`).

use std::collections::BTreeSet;
use std::process::Command;

use kata_testkit::local;
use sqlx::{Connection, PgConnection};

async fn postgres_objects(url: &str) -> BTreeSet<String> {
    let mut admin = PgConnection::connect(url).await.expect("admin connection");
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT 'db ' || datname FROM pg_database UNION SELECT 'role ' || rolname FROM pg_roles",
    )
    .fetch_all(&mut admin)
    .await
    .expect("listing databases and roles");
    names.into_iter().collect()
}

async fn redis_users_and_keys(url: &str) -> BTreeSet<String> {
    let mut admin = kata_testkit::redis::connect(url).await.expect("redis");
    let users: Vec<String> = redis::cmd("ACL")
        .arg("USERS")
        .query_async(&mut admin)
        .await
        .expect("ACL USERS");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut admin)
        .await
        .expect("KEYS");
    users
        .into_iter()
        .map(|u| format!("user {u}"))
        .chain(keys.into_iter().map(|k| format!("key {k}")))
        .collect()
}

#[tokio::test]
async fn a_test_on_servers_the_run_does_not_own_leaves_nothing_behind() {
    let cache = std::env::temp_dir().join(format!("kata-external-{}", std::process::id()));
    let postgres = local::start_postgres(&cache).expect("a local Postgres");
    let redis_server = local::start_redis().expect("a local Redis");
    let before_pg = postgres_objects(&postgres.url).await;
    let before_redis = redis_users_and_keys(&redis_server.url).await;
    // What a run killed an hour ago left behind.
    let old = format!(
        "kata_t_{:x}_0badc0ffee",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            - 3600
    );
    let mut admin = PgConnection::connect(&postgres.url).await.expect("admin");
    for sql in [
        format!("CREATE ROLE {old} LOGIN"),
        format!("CREATE DATABASE {old} OWNER {old}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .expect("planting a leftover");
    }
    let mut redis_admin = kata_testkit::redis::connect(&redis_server.url)
        .await
        .expect("redis");
    let _: () = redis::cmd("ACL")
        .arg(&["SETUSER", &old, "on", ">x", &format!("~{old}:*"), "+@all"][..])
        .query_async(&mut redis_admin)
        .await
        .expect("planting a leftover user");
    let _: () = redis::cmd("SET")
        .arg(format!("{old}:k"))
        .arg("v")
        .query_async(&mut redis_admin)
        .await
        .expect("planting a leftover key");

    let child = Command::new(std::env::current_exe().expect("this test binary"))
        .args([
            "--exact",
            "topic_like_test",
            "--include-ignored",
            "--test-threads",
            "1",
        ])
        .env("KATA_DATABASE_URL", &postgres.url)
        .env("KATA_REDIS_URL", &redis_server.url)
        .env_remove("KATA_POSTGRES_URL")
        .env_remove("KATA_EPHEMERAL")
        .output()
        .expect("the child test runs");

    assert!(
        child.status.success(),
        "the topic-like test failed:\n{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let mut after_pg = postgres_objects(&postgres.url).await;
    after_pg.retain(|o| !o.starts_with("db kata_tpl_") && o != "role kata_template_owner");
    assert_eq!(after_pg, before_pg, "databases and roles after the run");
    let after_redis = redis_users_and_keys(&redis_server.url).await;
    assert_eq!(
        after_redis, before_redis,
        "Redis users and keys after the run"
    );
    let _ = std::fs::remove_dir_all(&cache);
}

/// Run by the test above, in its own process, against the servers it started.
#[tokio::test]
#[ignore = "run by a_test_on_servers_the_run_does_not_own_leaves_nothing_behind"]
async fn topic_like_test() {
    let db = kata_testkit::TestDb::new("CREATE TABLE notes (id int PRIMARY KEY, body text);").await;
    let pool = db.pool().await;
    sqlx::query("INSERT INTO notes VALUES (1, 'kept until the test ends')")
        .execute(&pool)
        .await
        .expect("the learner's role writes");
    let redis = kata_testkit::TestRedis::new().await;
    let mut conn = redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let _: () = redis::cmd("SET")
        .arg(redis.key("session"))
        .arg("x")
        .query_async(&mut conn)
        .await
        .expect("the test's user writes under its namespace");
    assert!(redis.isolated(), "the per-test ACL user is in force");
}

#[test]
fn postgres_starts_for_a_checkout_the_server_user_cannot_reach() {
    use std::os::unix::fs::PermissionsExt;
    // Like a checkout under /root or in a `mktemp -d` directory: mode 0700.
    let checkout = std::env::temp_dir().join(format!("kata-private-{}", std::process::id()));
    std::fs::create_dir_all(&checkout).expect("dir");
    std::fs::set_permissions(&checkout, std::fs::Permissions::from_mode(0o700)).expect("chmod");

    let server = local::start_postgres(&checkout.join(".kata/cache"));

    let _ = std::fs::remove_dir_all(&checkout);
    assert!(server.is_ok(), "{:#}", server.err().expect("an error"));
}
