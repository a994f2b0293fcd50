//! Check-and-mark is one atomic operation: two refreshes with one token race through a proxy
//! (`gate`) that lines their `used:{jti}` commands up, so a `GET` then `SET` loses every time.

use std::sync::Arc;
use std::time::Duration;

use token_revocation::{TokenError, TokenPair};

use super::{assert_err, gate, issue, now, peek, service, service_with};
use kata_testkit::TestRedis;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_refreshes_with_one_token_let_exactly_one_win() {
    let r = TestRedis::new().await;
    let now = now();
    let pair = issue(&service(&r).await, "alice", now);
    let marker = r.key(&format!("used:{}", peek(&pair.refresh).jti));
    // Two services, two connections, both through the proxy that lines the race up.
    let proxied = gate::start(&r.client(), marker).await;
    let first = Arc::new(service_with(proxied.clone(), r.namespace()).await);
    let second = Arc::new(service_with(proxied, r.namespace()).await);

    let (a, b) = (first.clone(), second.clone());
    let (token_a, token_b) = (pair.refresh.clone(), pair.refresh.clone());
    let race = async move {
        tokio::join!(async move { a.refresh(&token_a, now).await }, async move {
            b.refresh(&token_b, now).await
        })
    };
    let results = tokio::time::timeout(Duration::from_secs(30), race).await;
    let (a, b) = results.expect(
        "expected both refreshes to finish within 30 s (each must touch the `used:{jti}` key once)",
    );

    let shown = |got: &Result<TokenPair, TokenError>| match got {
        Ok(_) => "Ok(a new pair)".to_owned(),
        Err(e) => format!("Err({e:?})"),
    };
    let winner = match (&a, &b) {
        (Ok(pair), Err(_)) | (Err(_), Ok(pair)) => pair.refresh.clone(),
        _ => panic!(
            "expected exactly one of two concurrent refreshes with one token to succeed, but got {} and {}",
            shown(&a),
            shown(&b)
        ),
    };
    let loser = if a.is_ok() { b } else { a };
    assert_err(loser, "Reused", "the refresh that lost the race");
    let after = first.refresh(&winner, now).await;
    assert_err(
        after,
        "Revoked",
        "the winner's new refresh token (its family was revoked by the reuse)",
    );
}
