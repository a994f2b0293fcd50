//! Logout, logout everywhere, and many sessions of one user at once.

use super::*;

#[tokio::test]
async fn logout_destroys_the_session_and_its_index_entry() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let (first, second) = (
        login(&store, "alice", None).await,
        login(&store, "alice", None).await,
    );

    store
        .logout(&first)
        .await
        .unwrap_or_else(|e| panic!("expected logout to succeed, but got {e}"));

    assert_eq!(
        lookup(&store, &first).await,
        None,
        "expected the logged-out id to resolve to nothing"
    );
    assert!(
        !exists(&r, &session_key(&r, &first)).await,
        "expected the session key deleted"
    );
    assert!(
        !indexed(&r, "alice", &first).await,
        "expected the id removed from alice's index set"
    );
    assert_eq!(
        user_of(&store, &second).await.as_deref(),
        Some("alice"),
        "expected the other session to survive"
    );
    store
        .logout(&second)
        .await
        .unwrap_or_else(|e| panic!("expected logout to succeed, but got {e}"));
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected nothing left of alice after her last logout"
    );
    let again = store.logout(&second).await;
    assert!(
        again.is_ok(),
        "expected a second logout to be a no-op, but got {again:?}"
    );
}

#[tokio::test]
async fn logout_everywhere_destroys_every_session_of_that_user_only() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let mut alice = Vec::new();
    for _ in 0..3 {
        alice.push(login(&store, "alice", None).await);
    }
    let bob = login(&store, "bob", None).await;

    let destroyed = store.logout_everywhere("alice").await;

    assert!(
        matches!(destroyed, Ok(3)),
        "expected Ok(3) sessions destroyed, but got {destroyed:?}"
    );
    for id in &alice {
        assert_eq!(
            lookup(&store, id).await,
            None,
            "expected none of alice's sessions to resolve"
        );
        assert!(
            !exists(&r, &session_key(&r, id)).await,
            "expected alice's session keys deleted"
        );
    }
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected alice's index set deleted too"
    );
    assert_eq!(
        user_of(&store, &bob).await.as_deref(),
        Some("bob"),
        "expected bob's session to survive"
    );
    let again = store.logout_everywhere("alice").await;
    assert!(
        matches!(again, Ok(0)),
        "expected Ok(0) the second time, but got {again:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_logins_of_one_user_give_distinct_ids_all_listed() {
    const LOGINS: usize = 20;
    let r = TestRedis::new().await;
    let store = Arc::new(store(&r).await);
    let barrier = Arc::new(Barrier::new(LOGINS));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..LOGINS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.spawn(async move {
            barrier.wait().await;
            login(&store, "alice", None).await
        });
    }
    let ids: BTreeSet<String> = tasks.join_all().await.into_iter().collect();

    assert_eq!(
        ids.len(),
        LOGINS,
        "expected {LOGINS} distinct ids from {LOGINS} concurrent logins"
    );
    let listed: BTreeSet<String> = sessions_of(&store, "alice").await.into_iter().collect();
    assert_eq!(
        listed, ids,
        "expected sessions_of to list exactly the {LOGINS} sessions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_everywhere_while_the_sessions_are_in_use_leaves_none() {
    const SESSIONS: usize = 20;
    let r = TestRedis::new().await;
    let store = Arc::new(store(&r).await);
    let mut ids = Vec::new();
    for _ in 0..SESSIONS {
        ids.push(login(&store, "alice", None).await);
    }
    let in_use = Arc::new(Barrier::new(SESSIONS + 1));

    let mut tasks = tokio::task::JoinSet::new();
    for id in ids.clone() {
        let (store, in_use) = (store.clone(), in_use.clone());
        tasks.spawn(async move {
            let first = user_of(&store, &id).await;
            in_use.wait().await;
            // Keep using the session until the logout shows (bounded, in case it never does).
            let mut lookups = 0;
            while user_of(&store, &id).await.is_some() && lookups < 10_000 {
                lookups += 1;
            }
            first
        });
    }
    in_use.wait().await;
    let destroyed = store.logout_everywhere("alice").await;
    let firsts = tasks.join_all().await;

    assert!(
        firsts.iter().all(|user| user.as_deref() == Some("alice")),
        "expected every session to work before the logout, got {firsts:?}"
    );
    assert!(
        matches!(destroyed, Ok(SESSIONS)),
        "expected Ok({SESSIONS}), but got {destroyed:?}"
    );
    for id in &ids {
        assert_eq!(
            lookup(&store, id).await,
            None,
            "expected no session to survive logout everywhere"
        );
        assert!(
            !exists(&r, &session_key(&r, id)).await,
            "expected every session key deleted"
        );
    }
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected the index deleted"
    );
}
