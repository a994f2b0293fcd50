//! Unknown, tampered and malformed session ids: nothing resolves, and junk never reaches Redis.

use super::*;

#[tokio::test]
async fn unknown_tampered_and_malformed_ids_resolve_to_nothing() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let id = login(&store, "alice", None).await;
    let last = if id.ends_with('0') { "1" } else { "0" };
    let tampered = format!("{}{last}", &id[..63]);
    let others = [
        new_session_id(),
        tampered,
        id.to_uppercase(),
        format!("{id}0"),
        id[..63].to_owned(),
    ];
    let junk = ["", "*", "../../etc/passwd", "a b", &"a".repeat(100_000)];

    for other in others.iter().map(String::as_str).chain(junk) {
        let got = lookup(&store, other).await;

        assert!(
            got.is_none(),
            "expected no session for {:?}, but got {got:?}",
            &other[..other.len().min(80)]
        );
    }
    assert_eq!(
        user_of(&store, &id).await.as_deref(),
        Some("alice"),
        "expected the real id to still resolve"
    );
}

#[tokio::test]
async fn malformed_ids_are_rejected_without_touching_redis() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr());
    let closed_port = closed.expect("a free port").port();
    let client =
        redis::Client::open(format!("redis://127.0.0.1:{closed_port}")).expect("a valid URL");
    let redis = ConnectionManager::new_lazy_with_config(client, config()).expect("a lazy manager");
    let store = SessionStore::new(redis, "kata_down", TTL);
    let junk = [
        "",
        "*",
        "KEYS *",
        "a b",
        "ABCDEF",
        &"a".repeat(100_000),
        &format!("{}g", "a".repeat(63)),
        &"ABCDEF0123456789".repeat(4),
        &"é".repeat(32),
    ];

    for id in junk {
        let what = &id[..id.len().min(80)];
        let looked_up = store.lookup(id).await;
        let logged_out = store.logout(id).await;

        assert!(
            matches!(looked_up, Ok(None)),
            "expected Ok(None) for the malformed id {what:?} without asking Redis (which is down), but got {looked_up:?}"
        );
        assert!(
            logged_out.is_ok(),
            "expected logout({what:?}) to be Ok without asking Redis, but got {logged_out:?}"
        );
    }
    let well_formed = store.lookup(&new_session_id()).await;
    assert!(
        well_formed.is_err(),
        "expected a well-formed id to reach Redis and fail (Redis is down), but got {well_formed:?}"
    );
}
