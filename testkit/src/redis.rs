//! One Redis key namespace per test. Where the server supports ACLs, learner code connects
//! as a per-test user that can only touch keys under `{namespace}:` and cannot run
//! dangerous commands (FLUSHALL, KEYS, CONFIG, ...), so tests run in parallel on one server.

use std::time::Duration;

use anyhow::{Context, Result};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::services::{self, Service};

/// This test's own slice of Redis.
pub struct TestRedis {
    namespace: String,
    url: String,
    admin_url: String,
    isolated: bool,
    /// Remove the user and its keys at the end (servers the run does not own).
    cleanup: bool,
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if self.cleanup {
            crate::cleanup::drop_redis_namespace(self.admin_url.clone(), self.namespace.clone());
        }
    }
}

impl TestRedis {
    pub async fn new() -> TestRedis {
        Self::create()
            .await
            .unwrap_or_else(|e| panic!("could not set up Redis for the test: {e:#}"))
    }

    async fn create() -> Result<TestRedis> {
        let server = tokio::task::spawn_blocking(|| services::endpoint(Service::Redis)).await??;
        if !server.ephemeral {
            crate::cleanup::sweep_redis_once(&server.url).await;
        }
        let namespace = crate::cleanup::new_name();
        let password = format!("{:032x}", rand::random::<u128>());
        let mut admin = connect(&server.url)
            .await
            .with_context(|| format!("Failed to connect to Redis from {}", server.origin))?;
        let acl: redis::RedisResult<()> = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(&namespace)
            .arg("on")
            .arg(format!(">{password}"))
            .arg(format!("~{namespace}:*"))
            .arg("resetchannels")
            .arg(format!("&{namespace}:*"))
            .arg("+@all")
            .arg("-@dangerous")
            .arg("-@admin")
            .query_async(&mut admin)
            .await;
        let isolated = acl.is_ok();
        let url = if isolated {
            with_user(&server.url, &namespace, &password)
        } else {
            server.url.clone()
        };
        Ok(TestRedis {
            namespace,
            url,
            admin_url: server.url,
            isolated,
            cleanup: !server.ephemeral,
        })
    }

    /// Prefix for every key this test's code may use: keys look like `{namespace}:...`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `{namespace}:{name}`
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.namespace)
    }

    /// The URL learner code connects with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client for learner code.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("the harness builds valid URLs")
    }

    /// Whether the per-test ACL user is in force (false on servers without ACL support).
    pub fn isolated(&self) -> bool {
        self.isolated
    }

    /// Fails the test unless the per-test ACL user is in force: without ACLs every connection
    /// is the default user's, and a test that tells learner code's connections apart would
    /// pass without checking anything.
    pub fn require_isolation(&self) {
        assert!(
            self.isolated,
            "this test needs a Redis with ACL users (Redis 6 or later) to tell the learner \
             code's connections apart; the configured Redis has none"
        );
    }

    /// The ids of the connections logged in as the learner's user, in `CLIENT LIST` order (an
    /// id is never reused: a new id is a new connection). Needs ACL users, see
    /// [`require_isolation`](Self::require_isolation).
    pub async fn learner_connections(&self) -> Vec<u64> {
        self.require_isolation();
        let list: redis::RedisResult<String> = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut self.admin().await)
            .await;
        let list = list.unwrap_or_else(|e| panic!("the test could not read CLIENT LIST: {e}"));
        let user = format!("user={}", self.namespace);
        list.lines()
            .filter(|line| line.split(' ').any(|field| field == user))
            .filter_map(|line| {
                let id = line.split(' ').find_map(|field| field.strip_prefix("id="));
                id.and_then(|id| id.parse().ok())
            })
            .collect()
    }

    /// An unrestricted connection for inspecting what learner code stored.
    pub async fn admin(&self) -> MultiplexedConnection {
        connect(&self.admin_url)
            .await
            .unwrap_or_else(|e| panic!("could not open the admin Redis connection: {e}"))
    }

    /// The time to live of `key` (a whole key, see [`key`](Self::key)) in milliseconds: -1 when
    /// it has no expiry, -2 when there is no such key.
    pub async fn pttl(&self, key: &str) -> i64 {
        let got = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut self.admin().await)
            .await;
        got.unwrap_or_else(|e| panic!("could not PTTL {key}: {e}"))
    }

    /// Redis's clock, in milliseconds since the Unix epoch (`TIME`): the clock its expiries
    /// count on.
    pub async fn clock_ms(&self) -> i64 {
        let got: redis::RedisResult<(i64, i64)> = redis::cmd("TIME")
            .query_async(&mut self.admin().await)
            .await;
        let (secs, micros) = got.unwrap_or_else(|e| panic!("could not read Redis's TIME: {e}"));
        secs * 1000 + micros / 1000
    }

    /// When `key` expires on Redis's clock ([`clock_ms`](Self::clock_ms)), read with its PTTL
    /// in one `MULTI`; `Err` holds the PTTL when there is no expiry (-1) or no key (-2).
    pub async fn expiry_ms(&self, key: &str) -> Result<i64, i64> {
        let got: redis::RedisResult<((i64, i64), i64)> = redis::pipe()
            .atomic()
            .cmd("TIME")
            .cmd("PTTL")
            .arg(key)
            .query_async(&mut self.admin().await)
            .await;
        let ((secs, micros), pttl) =
            got.unwrap_or_else(|e| panic!("could not read TIME and PTTL {key}: {e}"));
        if pttl < 0 {
            return Err(pttl);
        }
        Ok(secs * 1000 + micros / 1000 + pttl)
    }
}

/// redis >= 1.0 fails a response after 500 ms by default: far too tight for a loaded 2-core CI machine.
pub async fn connect(url: &str) -> redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_connection_timeout(Some(Duration::from_secs(5)));
    redis::Client::open(url)?
        .get_multiplexed_async_connection_with_config(&config)
        .await
}

/// The same server with a username and password.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    if url.starts_with("redis+unix:") || url.starts_with("unix:") {
        let separator = if url.contains('?') { '&' } else { '?' };
        return format!("{url}{separator}user={user}&pass={password}");
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

#[cfg(test)]
mod tests {
    use super::with_user;

    #[test]
    fn credentials_go_where_each_url_form_expects_them() {
        assert_eq!(
            with_user("redis+unix:///tmp/r.sock", "u", "p"),
            "redis+unix:///tmp/r.sock?user=u&pass=p"
        );
        assert_eq!(
            with_user("redis://127.0.0.1:6379", "u", "p"),
            "redis://u:p@127.0.0.1:6379"
        );
        assert_eq!(
            with_user("redis://:old@h:1/0", "u", "p"),
            "redis://u:p@h:1/0"
        );
    }
}
