//! Nothing left behind on servers the run does not own (`KATA_DATABASE_URL`, `services up`, a
//! dev container): each test drops its database, role and Redis user (with its keys) when its
//! `TestDb` / `TestRedis` goes away, and the first test of a process sweeps what killed runs
//! left there. Servers the run started itself go away whole and are left alone; their
//! directories too, even when their supervisor could not clean up (a sweep of dead runs').
//! On the warm servers, whose holder started them, the holder drops the databases (`spares`).
//!
//! Every name a test creates is `kata_t_<seconds since the epoch, hex>_<random>`, so a sweep
//! can tell leftovers (older than any test can run) from a parallel run's live objects.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// What every per-test name starts with.
pub const PREFIX: &str = "kata_t_";
/// Older than this, a test's objects are leftovers: no test runs this long (the runner's
/// per-test limit is 60 s; statements time out after 30 s).
const LEFTOVER_AGE: Duration = Duration::from_secs(10 * 60);

/// A fresh per-test name.
pub fn new_name() -> String {
    format!(
        "{PREFIX}{:x}_{:012x}",
        now_secs(),
        rand::random::<u64>() & 0xffff_ffff_ffff
    )
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `name` is a per-test name created more than [`LEFTOVER_AGE`] ago.
fn is_leftover(name: &str) -> bool {
    let Some(created) = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(secs, _)| u64::from_str_radix(secs, 16).ok())
    else {
        return false;
    };
    created + LEFTOVER_AGE.as_secs() < now_secs()
}

/// Runs `work` to completion on a runtime of its own, on a thread of its own: usable from
/// `Drop`, inside or outside the test's runtime.
fn block_on_own_thread<F>(work: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    let thread = std::thread::spawn(move || {
        if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            runtime.block_on(work());
        }
    });
    let _ = thread.join();
}

/// Drops a test's database and role, on the process's admin connections (best effort: a
/// failure is reported, not fatal).
pub fn drop_database(server_url: String, name: String) {
    let what = name.clone();
    let dropped = crate::admin::for_server(&server_url).and_then(|admin| {
        admin.run_blocking(move |pool| async move {
            drop_pg_on(&mut *pool.acquire().await?, &[name]).await?;
            Ok(())
        })
    });
    if let Err(e) = dropped {
        eprintln!("kata: could not drop the test database {what}: {e:#}");
    }
}

async fn drop_pg(admin_url: &str, names: &[String]) -> sqlx::Result<()> {
    let mut admin = PgConnection::connect(admin_url).await?;
    drop_pg_on(&mut admin, names).await?;
    admin.close().await
}

async fn drop_pg_on(admin: &mut PgConnection, names: &[String]) -> sqlx::Result<()> {
    for name in names {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut *admin)
        .await?;
        sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
            .execute(&mut *admin)
            .await?;
    }
    Ok(())
}

/// Once per process: drops the databases and roles killed runs left on the server.
pub async fn sweep_postgres_once(admin: &mut PgConnection, admin_url: &str) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_err() {
        return;
    }
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'kata\\_t\\_%' \
         UNION SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'kata\\_t\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    let leftovers: Vec<String> = names.into_iter().filter(|n| is_leftover(n)).collect();
    if !leftovers.is_empty()
        && let Err(e) = drop_pg(admin_url, &leftovers).await
    {
        eprintln!("kata: could not sweep earlier runs' test databases: {e}");
    }
}

/// Deletes a test's Redis user and every key of its namespace.
pub fn drop_redis_namespace(admin_url: String, namespace: String) {
    block_on_own_thread(move || async move {
        if let Err(e) = drop_redis(&admin_url, std::slice::from_ref(&namespace)).await {
            eprintln!("kata: could not remove the test's Redis user {namespace}: {e}");
        }
    });
}

async fn drop_redis(admin_url: &str, namespaces: &[String]) -> redis::RedisResult<()> {
    let mut admin = crate::redis::connect(admin_url).await?;
    for namespace in namespaces {
        let _: redis::RedisResult<()> = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(namespace)
            .query_async(&mut admin)
            .await;
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{namespace}:*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut admin)
                .await?;
            if !keys.is_empty() {
                let _: () = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut admin)
                    .await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(())
}

/// Once per process: removes the Redis users (and their keys) killed runs left.
pub async fn sweep_redis_once(admin_url: &str) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_err() {
        return;
    }
    let users: Vec<String> = match crate::redis::connect(admin_url).await {
        Ok(mut admin) => redis::cmd("ACL")
            .arg("USERS")
            .query_async(&mut admin)
            .await
            .unwrap_or_default(),
        Err(_) => return,
    };
    let leftovers: Vec<String> = users.into_iter().filter(|u| is_leftover(u)).collect();
    if !leftovers.is_empty()
        && let Err(e) = drop_redis(admin_url, &leftovers).await
    {
        eprintln!("kata: could not sweep earlier runs' Redis users: {e}");
    }
}

/// Removes the run directories (and stops the servers) of runs whose process is gone but whose
/// supervisor could not clean up: killed together with it, or the machine stopped. A directory
/// is `kata-{pg,redis}-<pid of the run>-<random>`; while that pid lives it is left alone.
pub(crate) fn sweep_abandoned_run_dirs(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = ["kata-pg-", "kata-redis-"]
            .iter()
            .find_map(|kind| name.strip_prefix(kind))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        for pid_file in ["data/postmaster.pid", "redis.pid"] {
            stop_server_of(&dir, &dir.join(pid_file));
        }
        // Another user's, or already going: not ours to insist on.
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Stops the server whose pid `pid_file` holds, if it still runs from `dir`.
fn stop_server_of(dir: &Path, pid_file: &Path) {
    let Some(pid) = fs::read_to_string(pid_file)
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse::<u32>().ok())
    else {
        return;
    };
    // The pid may have been reused since: only a process started from this directory.
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_per_test_names_older_than_any_test_are_leftovers() {
        let fresh = new_name();
        let old = format!("{PREFIX}{:x}_abc", now_secs() - 3600);
        assert!(fresh.len() <= 63, "a Postgres identifier: {fresh}");
        assert!(!is_leftover(&fresh), "{fresh} is this run's");
        assert!(is_leftover(&old), "{old} is an hour old");
        for other in [
            "postgres",
            "kata_tpl_0123",
            "kata_t_zz_1",
            "kata_template_owner",
        ] {
            assert!(!is_leftover(other), "{other} is not a test's");
        }
    }

    #[test]
    fn the_sweep_removes_dead_runs_directories_and_keeps_live_and_foreign_ones() {
        let tmp = std::env::temp_dir().join(format!("kata-sweep-test-{}", std::process::id()));
        fs::create_dir_all(&tmp).unwrap();
        let mut exited = Command::new("true").spawn().unwrap();
        let dead = exited.id();
        exited.wait().unwrap();
        let live = std::process::id();
        let names = [
            format!("kata-pg-{dead}-0000abcd"),
            format!("kata-redis-{dead}-0000abcd"),
            format!("kata-pg-{live}-0000abcd"),
            format!("kata-pgx-{dead}-0000abcd"),
            "kata-postgres-cache".to_string(),
        ];
        for name in &names {
            fs::create_dir_all(tmp.join(name).join("data")).unwrap();
        }
        sweep_abandoned_run_dirs(&tmp);
        let left: Vec<bool> = names.iter().map(|n| tmp.join(n).exists()).collect();
        fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(left, [false, false, true, true, true], "{names:?}");
    }
}
