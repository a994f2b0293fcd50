//! The limiter's Redis connection: one, shared by every request. Redis lists each connection
//! (`CLIENT LIST`) with an id that is never reused and the user it logged in as; the limiter
//! logs in as the test's own ACL user, so its connections are the ones listed under that user.

use kata_testkit::TestRedis;
use rate_limiting::app;

use crate::support::*;

#[tokio::test]
async fn every_request_shares_one_connection_to_redis() {
    let r = TestRedis::new().await;
    let app = app(limiter(&r, 100, LONG));

    let first = key_of(&app, "alice").await;
    assert_status(&first, 200, "the first request");
    let after_first = r.learner_connections().await;
    for n in 2..=6 {
        let reply = key_of(&app, &format!("client{n}")).await;
        assert_status(&reply, 200, &format!("request {n}"));
    }
    let after_six = r.learner_connections().await;

    assert!(
        after_first.len() == 1 && after_six == after_first,
        "expected the limiter to keep one connection to Redis (a ConnectionManager shared by \
         every request) and use it again: after the 1st request its Redis user had the \
         connections {after_first:?} open, after the 6th {after_six:?} (ids as in CLIENT \
         LIST; a new id is a new connection, and none left open means each request opened its \
         own and closed it)"
    );
}
