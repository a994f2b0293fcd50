//! Redis down, dropping connections, refusing writes, slow or silent: the call still gets its
//! value, and in bounded time.
//!
//! Tests whose only server is an in-process fake run on a paused clock (`start_paused`; why:
//! `kata_testkit::silent`); the others talk to the real Redis and keep real time.

use std::time::Duration;

use cache_aside::Cache;
use kata_testkit::TestRedis;

use super::{Db, TTL, alice, bob, cache, within};
use kata_testkit::redis_fakes::{cutting_proxy, fake_redis};

#[tokio::test]
async fn when_redis_is_down_the_loader_serves_every_call() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let closed_port = closed.expect("a free port").port();
    let down = [
        ("a closed port", format!("redis://127.0.0.1:{closed_port}")),
        ("no socket", "redis+unix:///nonexistent/kata.sock".into()),
    ];

    for (what, url) in down {
        let client = redis::Client::open(url.as_str()).expect("a valid URL");
        let (cache, db) = (Cache::new(client, "kata_down", TTL), Db::default());

        for call in 1..=2 {
            let got = within(what, cache.get_or_load("user:1", || db.load(alice()))).await;

            assert_eq!(
                got,
                Ok(alice()),
                "expected the loader's value with Redis at {what} (call {call})"
            );
        }
        assert_eq!(db.calls(), 2, "expected each call to load ({what})");
        let invalidated = within(what, cache.invalidate("user:1")).await;
        let msg = format!("expected invalidate to report that Redis at {what} is unreachable");
        assert!(invalidated.is_err(), "{msg}, got {invalidated:?}");
    }
}

#[tokio::test]
async fn connecting_is_not_retried_with_back_off() {
    // Accepts every connection and closes it at once: a Redis that is restarting, a proxy
    // with no backend.
    let dropping = fake_redis(|_| None).await;
    let (cache, db) = (
        Cache::new(dropping.client(), "kata_drop", TTL),
        Db::default(),
    );

    let call = cache.get_or_load("user:1", || db.load(alice()));
    let got = within("a call to a Redis that drops every connection", call).await;

    assert_eq!(got, Ok(alice()), "expected the loader's value");
    let attempts = dropping.accepted();
    assert!(
        attempts <= 4,
        "expected at most 4 connection attempts for one call to a Redis that drops every \
         connection, but it saw {attempts}: a retry loop with back-off keeps every request \
         waiting for a Redis that is down (set_number_of_retries(0))"
    );
}

#[tokio::test]
async fn a_redis_that_refuses_the_write_still_serves_the_loaders_value() {
    // A read-only replica (after a failover): reads answer "not cached", writes are refused.
    let replica = fake_redis(|command| match command {
        "GET" => Some((Duration::ZERO, "$-1\r\n".into())),
        "CLIENT" | "PING" | "SELECT" => Some((Duration::ZERO, "+OK\r\n".into())),
        _ => Some((
            Duration::ZERO,
            "-READONLY You can't write against a read only replica.\r\n".into(),
        )),
    })
    .await;
    let (cache, db) = (
        Cache::new(replica.client(), "kata_replica", TTL),
        Db::default(),
    );

    for call in 1..=2 {
        let got = within(
            "a call to a read-only replica",
            cache.get_or_load("user:1", || db.load(alice())),
        )
        .await;
        assert_eq!(
            got,
            Ok(alice()),
            "expected the loader's value when Redis refuses the write (call {call})"
        );
    }
    assert_eq!(
        db.calls(),
        2,
        "expected each call to load (nothing could be cached)"
    );
}

#[tokio::test]
async fn the_cache_reconnects_by_itself_after_its_connection_is_dropped() {
    let r = TestRedis::new().await;
    let (cache, db) = (cache(&r), Db::default());
    let cached = cache.get_or_load("user:1", || db.load(alice())).await;
    assert_eq!(cached, Ok(alice()), "expected Alice from the loader");

    // What a Redis restart or failover does to every open connection.
    let killed: redis::RedisResult<i64> = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("USER")
        .arg(r.namespace())
        .query_async(&mut r.admin().await)
        .await;
    let killed =
        killed.unwrap_or_else(|e| panic!("could not CLIENT KILL the cache's connection: {e}"));
    assert!(
        killed > 0,
        "expected the cache to hold a connection to Redis, but there was none to drop"
    );

    let after_drop = cache.get_or_load("user:1", || db.load(bob())).await;
    let loads = db.calls();
    let next = cache.get_or_load("user:1", || db.load(bob())).await;
    let last = cache.get_or_load("user:1", || db.load(bob())).await;

    let served = [Ok(alice()), Ok(bob())];
    assert!(
        served.contains(&after_drop),
        "expected the cached Alice or the loader's Bob right after the drop, got {after_drop:?}"
    );
    assert_eq!(
        db.calls(),
        loads,
        "expected the calls after the one that found the connection dropped to reconnect and \
         hit the cache, but they called the loader (got {next:?} and {last:?})"
    );
    assert!(
        served.contains(&next) && next == last,
        "expected the same cached value from both calls, got {next:?} and {last:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_redis_that_answers_within_redis_timeout_is_waited_for() {
    // Answers every GET with the cached Alice after 0.9 s: slow, but within REDIS_TIMEOUT (2 s).
    let slow = fake_redis(|command| match command {
        "GET" => {
            let json = serde_json::to_string(&alice()).expect("Alice serialises");
            Some((
                Duration::from_millis(900),
                format!("${}\r\n{json}\r\n", json.len()),
            ))
        }
        _ => Some((Duration::ZERO, "+OK\r\n".into())),
    })
    .await;
    let (cache, db) = (Cache::new(slow.client(), "kata_slow", TTL), Db::default());

    let call = cache.get_or_load("user:1", || db.load(bob()));
    let got = within("a call to a Redis that answers in 0.9 s", call).await;

    assert_eq!(
        (got, db.calls()),
        (Ok(alice()), 0),
        "expected the cache to wait up to REDIS_TIMEOUT (2 s) for a GET answered in 0.9 s and \
         return the cached Alice without calling the loader (value, loader calls): is the \
         response timeout shorter? (the client's default is 500 ms)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_redis_slow_to_set_up_the_connection_within_redis_timeout_is_waited_for() {
    // Answers each command the client sends while connecting (`CLIENT SETINFO`, twice) after
    // 0.7 s: connecting takes about 1.4 s, past the client's default connection timeout (1 s)
    // and within REDIS_TIMEOUT (2 s). A GET is answered at once with the cached Alice.
    let slow = fake_redis(|command| match command {
        "CLIENT" => Some((Duration::from_millis(700), "+OK\r\n".into())),
        "GET" => {
            let json = serde_json::to_string(&alice()).expect("Alice serialises");
            Some((Duration::ZERO, format!("${}\r\n{json}\r\n", json.len())))
        }
        _ => Some((Duration::ZERO, "+OK\r\n".into())),
    })
    .await;
    let (cache, db) = (Cache::new(slow.client(), "kata_slow", TTL), Db::default());

    let call = cache.get_or_load("user:1", || db.load(bob()));
    let got = within("a call to a Redis that takes 1.4 s to connect", call).await;

    assert_eq!(
        (got, db.calls()),
        (Ok(alice()), 0),
        "expected the cache to wait up to REDIS_TIMEOUT (2 s) for a connection set up in 1.4 s \
         and return the cached Alice without calling the loader (value, loader calls): is the \
         connection timeout shorter? (the client's default is 1 s)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_redis_that_never_answers_does_not_hang_the_call() {
    // Accepts connections and never writes a byte back: a frozen server or a dead network path.
    let (port, silent) = kata_testkit::silent::silent_server().await;
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a valid URL");
    let (cache, db) = (Cache::new(client, "kata_silent", TTL), Db::default());

    let call = cache.get_or_load("user:1", || db.load(alice()));
    let got = within("a call to a Redis that never answers", call).await;
    silent.abort();

    assert_eq!(got, Ok(alice()), "expected the loader's value");
}

#[tokio::test]
async fn a_connection_dropped_right_after_the_write_leaves_no_value_without_its_ttl() {
    let r = TestRedis::new().await;
    r.require_isolation();
    let proxy = cutting_proxy(&r, &r.key("user:1")).await;
    let (cache, db) = (
        Cache::new(proxy.client.clone(), r.namespace(), TTL),
        Db::default(),
    );

    // The connection drops right after the first write of the key reaches Redis.
    let got = within("a miss whose connection drops", async {
        cache.get_or_load("user:1", || db.load(alice())).await
    })
    .await;
    // Once Redis has closed the connection, it has run every command it received on it.
    within("Redis to close the cache's connection", async {
        while !r.learner_connections().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    assert_eq!(got, Ok(alice()), "expected the loader's Alice");
    let pttl = r.pttl(&r.key("user:1")).await;
    assert!(
        pttl == -2 || pttl > 0,
        "expected user:1 either stored with its TTL or not stored at all after the connection \
         dropped right after the write, but it is stored without an expiry (PTTL {pttl}): the \
         value and its TTL must go in one command (PSETEX, or SET with PX), not SET then \
         PEXPIRE"
    );
}
