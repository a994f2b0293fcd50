//! Logout, logout everywhere, and many sessions of one user at once.

use super::*;

/// Deletes a session key behind the store's back, as if its TTL had run out.
async fn end_session(r: &TestRedis, id: &str) {
    let key = session_key(r, id);
    let deleted: usize = r.admin().await.del(&key).await.expect("DEL");
    assert_eq!(deleted, 1, "test setup: expected {key:?} to exist");
}

#[tokio::test]
async fn a_dead_index_entry_is_pruned_listed_nowhere_and_not_counted() {
    let r = TestRedis::new().await;
    let store = store(&r).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(login(&store, "alice", None).await);
    }
    // A session ends on its own (as if its TTL ran out) while the index still lists it.
    end_session(&r, &ids[0]).await;

    let listed = sessions_of(&store, "alice").await;

    let mut live = ids[1..].to_vec();
    live.sort();
    assert_eq!(
        listed, live,
        "expected sessions_of to list only the sessions that still exist, sorted"
    );
    assert!(
        !indexed(&r, "alice", &ids[0]).await,
        "expected sessions_of to drop the dead id from alice's index set"
    );
    assert!(
        indexed(&r, "alice", &ids[1]).await && indexed(&r, "alice", &ids[2]).await,
        "expected the live ids to stay in alice's index set"
    );
    end_session(&r, &ids[1]).await;
    let destroyed = store.logout_everywhere("alice").await;
    assert!(
        matches!(destroyed, Ok(1)),
        "expected logout_everywhere to count the 1 session it destroyed (the index also listed \
         one that was already gone), but got {destroyed:?}"
    );
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected alice's index deleted"
    );
}

/// A store on a connection of its own, named `name` in `CLIENT LIST` (another app server).
async fn named_store(r: &TestRedis, name: &str) -> Arc<SessionStore> {
    let redis = ConnectionManager::new_with_config(r.client(), config()).await;
    let mut redis = redis.unwrap_or_else(|e| panic!("could not connect to the test Redis: {e}"));
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async(&mut redis)
        .await
        .expect("CLIENT SETNAME");
    Arc::new(SessionStore::new(redis, r.namespace(), TTL))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lookup_that_read_the_session_before_logout_everywhere_leaves_no_index_behind() {
    let r = TestRedis::new().await;
    let names = [
        format!("{}-lookup", r.namespace()),
        format!("{}-logout", r.namespace()),
    ];
    let lookup_server = named_store(&r, &names[0]).await;
    let logout_server = named_store(&r, &names[1]).await;
    let id = login(&logout_server, "alice", None).await;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();

    // Redis holds every write and releases them in arrival order: the lookup's first write
    // (its refresh) runs just before the logout's delete, so the lookup has read a live
    // session, and whatever it writes next lands after the logout.
    let mut paused = r.pause_writes(Duration::from_millis(5_000)).await;
    let racing_lookup = tokio::spawn({
        let (store, id) = (lookup_server.clone(), id.clone());
        async move { store.lookup(&id).await }
    });
    paused
        .wait_until_held(&names, "the lookup's refresh to be held", |held| {
            held >= 1 || racing_lookup.is_finished()
        })
        .await;
    let logout = tokio::spawn({
        let store = logout_server.clone();
        async move { store.logout_everywhere("alice").await }
    });
    paused
        .wait_until_held(&names, "the logout's delete to be held", |held| {
            held >= 2 || logout.is_finished()
        })
        .await;
    paused.unpause().await;
    let destroyed = logout.await.expect("logout_everywhere panicked");
    let looked_up = racing_lookup.await.expect("lookup panicked");

    assert!(
        matches!(destroyed, Ok(1)) && looked_up.is_ok(),
        "expected logout_everywhere to destroy the 1 session and the lookup to answer, but got \
         {destroyed:?} and {looked_up:?}"
    );
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected alice's index to stay deleted after logout everywhere, but the lookup that \
         read her session just before wrote the index again (a lookup refreshes the index's TTL \
         with PEXPIRE; it never adds to the index)"
    );
    assert!(
        !exists(&r, &session_key(&r, &id)).await,
        "expected the session to stay destroyed after logout everywhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lookup_held_behind_logout_everywhere_on_another_server_revives_nothing() {
    let r = TestRedis::new().await;
    let names = [
        format!("{}-logout", r.namespace()),
        format!("{}-lookup", r.namespace()),
    ];
    let logout_server = named_store(&r, &names[0]).await;
    let lookup_server = named_store(&r, &names[1]).await;
    let id = login(&logout_server, "alice", None).await;
    let names: Vec<&str> = names.iter().map(String::as_str).collect();

    // Redis holds every write (reads still run, for at most 5 s): the logout's delete is held
    // first, then the lookup, which has read the still-live session, has its refresh held.
    let mut paused = r.pause_writes(Duration::from_millis(5_000)).await;
    let logout = tokio::spawn({
        let store = logout_server.clone();
        async move { store.logout_everywhere("alice").await }
    });
    paused
        .wait_until_held(&names, "the logout's delete to be held", |held| {
            held >= 1 || logout.is_finished()
        })
        .await;
    let racing_lookup = tokio::spawn({
        let (store, id) = (lookup_server.clone(), id.clone());
        async move { store.lookup(&id).await }
    });
    paused
        .wait_until_held(&names, "the lookup's refresh to be held", |held| {
            held >= 2 || racing_lookup.is_finished()
        })
        .await;
    paused.unpause().await;
    let destroyed = logout.await.expect("logout_everywhere panicked");
    let looked_up = racing_lookup.await.expect("lookup panicked");

    assert!(
        matches!(destroyed, Ok(1)),
        "expected logout_everywhere to destroy the 1 session, but got {destroyed:?}"
    );
    assert!(
        looked_up.is_ok(),
        "expected the racing lookup to answer, but got {looked_up:?}"
    );
    assert!(
        !exists(&r, &session_key(&r, &id)).await,
        "expected the session to stay destroyed, but the lookup that read it just before the \
         logout wrote it back: refresh the TTL (GETEX, PEXPIRE), never SET the session again"
    );
    assert!(
        !exists(&r, &index_key(&r, "alice")).await,
        "expected alice's index to stay deleted after logout everywhere"
    );
    assert_eq!(
        lookup(&lookup_server, &id).await,
        None,
        "expected the session to resolve to nothing after logout everywhere"
    );
}

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
    assert!(
        indexed(&r, "bob", &bob).await,
        "expected bob's index entry to survive"
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
    let listed = sessions_of(&store, "alice").await;
    let sorted: Vec<String> = ids.into_iter().collect();
    assert_eq!(
        listed, sorted,
        "expected sessions_of to list exactly the {LOGINS} sessions, sorted"
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
