//! The limiter's Redis connection: one, shared by every request. Redis lists each connection
//! (`CLIENT LIST`) with an id that is never reused and the user it logged in as; the limiter
//! logs in as the test's own ACL user, so its connections are the ones listed under that user.

use kata_testkit::TestRedis;
use rate_limiting::app;

use crate::support::*;

/// The ids of the connections logged in as the test's Redis user, in `CLIENT LIST` order.
async fn connections_of_the_limiter(r: &TestRedis) -> Vec<u64> {
    let mut admin = r.admin().await;
    let list: redis::RedisResult<String> = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut admin)
        .await;
    let list = list.unwrap_or_else(|e| panic!("the test could not read CLIENT LIST: {e}"));
    let user = format!("user={}", r.namespace());
    list.lines()
        .filter(|line| line.split(' ').any(|field| field == user))
        .filter_map(|line| {
            let id = line.split(' ').find_map(|field| field.strip_prefix("id="));
            id.and_then(|id| id.parse().ok())
        })
        .collect()
}

#[tokio::test]
async fn every_request_shares_one_connection_to_redis() {
    let r = TestRedis::new().await;
    // Without ACLs every connection is the default user's and the limiter's cannot be told
    // apart: say so rather than pass without checking anything.
    assert!(
        r.isolated(),
        "this test needs a Redis with ACL users (Redis 6 or later) to tell the limiter's \
         connections apart; the configured Redis has none"
    );
    let app = app(limiter(&r, 100, LONG));

    let first = key_of(&app, "alice").await;
    assert_status(&first, 200, "the first request");
    let after_first = connections_of_the_limiter(&r).await;
    for n in 2..=6 {
        let reply = key_of(&app, &format!("client{n}")).await;
        assert_status(&reply, 200, &format!("request {n}"));
    }
    let after_six = connections_of_the_limiter(&r).await;

    assert!(
        after_first.len() == 1 && after_six == after_first,
        "expected the limiter to keep one connection to Redis (a ConnectionManager shared by \
         every request) and use it again: after the 1st request its Redis user had the \
         connections {after_first:?} open, after the 6th {after_six:?} (ids as in CLIENT \
         LIST; a new id is a new connection, and none left open means each request opened its \
         own and closed it)"
    );
}
