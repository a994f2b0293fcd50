//! The leaderboard, in Postgres and in Redis: same data, same answers.

use std::cmp::Reverse;
use std::collections::HashSet;
use std::sync::Arc;

use kata_testkit::{TestDb, TestRedis};
use sql_vs_nosql::{Entry, PgBoard, RedisBoard};
use tokio::sync::Barrier;

use super::SCHEMA;

/// Both boards, each on its own empty store.
struct Boards {
    db: TestDb,
    _redis: TestRedis,
    pg: PgBoard,
    redis: RedisBoard,
}

async fn boards() -> Boards {
    let db = TestDb::new(SCHEMA).await;
    let redis = TestRedis::new().await;
    let pg = PgBoard::new(db.pool_with_max(20).await);
    let board = RedisBoard::new(redis.client(), &redis.key("leaderboard")).await;
    let board = board.unwrap_or_else(|e| panic!("RedisBoard::new should connect, got: {e}"));
    Boards {
        db,
        _redis: redis,
        pg,
        redis: board,
    }
}

impl Boards {
    async fn set_scores(&self, entries: &[Entry]) {
        let pg = self.pg.set_scores(entries).await;
        pg.unwrap_or_else(|e| panic!("PgBoard::set_scores should succeed, got: {e}"));
        let redis = self.redis.set_scores(entries).await;
        redis.unwrap_or_else(|e| panic!("RedisBoard::set_scores should succeed, got: {e}"));
    }

    async fn top(&self, k: usize) -> (Vec<Entry>, Vec<Entry>) {
        let pg = self.pg.top(k).await;
        let pg = pg.unwrap_or_else(|e| panic!("PgBoard::top({k}) should succeed, got: {e}"));
        let redis = self.redis.top(k).await;
        let redis = redis.unwrap_or_else(|e| panic!("RedisBoard::top({k}) failed: {e}"));
        (pg, redis)
    }

    async fn rank(&self, player: &str) -> (Option<u64>, Option<u64>) {
        let pg = self.pg.rank(player).await;
        let pg = pg.unwrap_or_else(|e| panic!("PgBoard::rank({player:?}) failed: {e}"));
        let redis = self.redis.rank(player).await;
        let redis = redis.unwrap_or_else(|e| panic!("RedisBoard::rank({player:?}) failed: {e}"));
        (pg, redis)
    }
}

fn entries(list: &[(&str, i64)]) -> Vec<Entry> {
    list.iter().map(|(p, s)| Entry::new(p, *s)).collect()
}

/// 200 players with scores in steps of 10 between 0 and 190: many ties, same every run.
fn seeded_players() -> Vec<Entry> {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let prefixes = [
        "alice", "Bob", "bob", "_carol", "Dave", "dave", "0zed", "eve",
    ];
    (0..200)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let player = format!("{}{}", prefixes[i % prefixes.len()], i / prefixes.len());
            Entry::new(&player, (seed % 20) as i64 * 10)
        })
        .collect()
}

#[tokio::test]
async fn ties_are_broken_by_player_name_ascending_in_both_stores() {
    let b = boards().await;
    let data = [
        ("carol", 10),
        ("alice", 10),
        ("dave", 20),
        ("Bob", 10),
        ("bob", 5),
    ];
    b.set_scores(&entries(&data)).await;
    let expected = entries(&[
        ("dave", 20),
        ("Bob", 10),
        ("alice", 10),
        ("carol", 10),
        ("bob", 5),
    ]);
    let (pg, redis) = b.top(5).await;
    assert_eq!(
        pg, expected,
        "Postgres: higher score first, equal scores by name (bytes) A-Z"
    );
    assert_eq!(
        redis, expected,
        "Redis: higher score first, equal scores by name (bytes) A-Z"
    );
    for (position, entry) in expected.iter().enumerate() {
        let want = Some(position as u64 + 1);
        let (pg, redis) = b.rank(&entry.player).await;
        assert_eq!(
            (pg, redis),
            (want, want),
            "rank of {:?} (Postgres, Redis)",
            entry.player
        );
    }
}

#[tokio::test]
async fn both_stores_rank_the_same_data_the_same_way() {
    let b = boards().await;
    let players = seeded_players();
    b.set_scores(&players).await;
    let mut expected = players.clone();
    expected.sort_by(|x, y| (Reverse(x.score), &x.player).cmp(&(Reverse(y.score), &y.player)));
    let (pg, redis) = b.top(players.len()).await;
    assert!(
        pg == expected,
        "Postgres: the 200 players out of order: {pg:?}"
    );
    assert!(
        redis == pg,
        "Redis and Postgres disagree on the order of the same 200 players. Postgres: {pg:?}\nRedis: {redis:?}"
    );
    for (position, entry) in expected.iter().enumerate() {
        let want = Some(position as u64 + 1);
        let (pg, redis) = b.rank(&entry.player).await;
        assert_eq!(
            (pg, redis),
            (want, want),
            "rank of {:?} (Postgres, Redis)",
            entry.player
        );
    }
}

#[tokio::test]
async fn top_k_returns_the_k_best_and_no_more() {
    let b = boards().await;
    b.set_scores(&entries(&[
        ("a", 1),
        ("b", 5),
        ("c", 3),
        ("d", 4),
        ("e", 2),
    ]))
    .await;
    let (pg, redis) = b.top(3).await;
    let best3 = entries(&[("b", 5), ("d", 4), ("c", 3)]);
    assert_eq!((&pg, &redis), (&best3, &best3), "top(3) (Postgres, Redis)");
    let (pg, redis) = b.top(0).await;
    assert!(
        pg.is_empty() && redis.is_empty(),
        "top(0) must be empty, got {pg:?} and {redis:?}"
    );
    let (pg, redis) = b.top(1_000).await;
    assert_eq!(
        (pg.len(), redis.len()),
        (5, 5),
        "top(1000) of 5 players: all 5 (Postgres, Redis)"
    );
    // The largest k: a cast to a signed LIMIT or stop index turns it into -1.
    let (pg, redis) = b.top(usize::MAX).await;
    assert_eq!(
        (pg.len(), redis.len()),
        (5, 5),
        "top(usize::MAX) of 5 players: all 5 (Postgres, Redis)"
    );
}

#[tokio::test]
async fn rank_is_1_based_follows_overwritten_scores_and_unknown_players_have_none() {
    let b = boards().await;
    b.set_scores(&entries(&[("first", 30), ("second", 20), ("third", 10)]))
        .await;
    assert_eq!(
        b.rank("first").await,
        (Some(1), Some(1)),
        "the best player is rank 1 (Postgres, Redis)"
    );
    assert_eq!(
        b.rank("third").await,
        (Some(3), Some(3)),
        "the third player is rank 3 (Postgres, Redis)"
    );
    assert_eq!(
        b.rank("nobody").await,
        (None, None),
        "an unknown player has no rank (Postgres, Redis)"
    );
    // set_scores overwrites a known player's score (it does not add to it or keep the old one),
    // and an empty batch changes nothing.
    b.set_scores(&entries(&[("third", 40)])).await;
    b.set_scores(&[]).await;
    let want = entries(&[("third", 40), ("first", 30), ("second", 20)]);
    let (pg, redis) = b.top(10).await;
    assert_eq!(
        (&pg, &redis),
        (&want, &want),
        "set_scores([third: 40]) must overwrite third's 10 with 40 (Postgres, Redis)"
    );
    assert_eq!(
        b.rank("first").await,
        (Some(2), Some(2)),
        "after third's new score, first is rank 2 (Postgres, Redis)"
    );
}

#[tokio::test]
async fn add_starts_new_players_at_zero_and_returns_the_new_score() {
    let b = boards().await;
    b.set_scores(&entries(&[("ann", 10)])).await;
    for (player, points, want) in [("zoe", 7, 7), ("zoe", -2, 5), ("ann", 15, 25)] {
        let pg =
            b.pg.add(player, points)
                .await
                .unwrap_or_else(|e| panic!("PgBoard::add failed: {e}"));
        let redis = b.redis.add(player, points).await;
        let redis = redis.unwrap_or_else(|e| panic!("RedisBoard::add failed: {e}"));
        assert_eq!(
            (pg, redis),
            (want, want),
            "add({player:?}, {points}) returns the new score (Postgres, Redis)"
        );
    }
    let want = entries(&[("ann", 25), ("zoe", 5)]);
    let (pg, redis) = b.top(10).await;
    assert_eq!(
        (&pg, &redis),
        (&want, &want),
        "the board after the adds (Postgres, Redis)"
    );
}

#[tokio::test]
async fn set_scores_is_all_or_nothing_in_postgres() {
    let b = boards().await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
         CREATE TRIGGER no_poison BEFORE INSERT ON scores FOR EACH ROW WHEN (NEW.player = 'poison') EXECUTE FUNCTION fail();",
    )
    .execute(&mut b.db.admin().await)
    .await
    .expect("installing a failing trigger");
    let result = b.pg.set_scores(&entries(&[("ok", 1), ("poison", 2)])).await;
    assert!(
        result.is_err(),
        "a batch whose second row fails must be an error, got {result:?}"
    );
    let top =
        b.pg.top(10)
            .await
            .unwrap_or_else(|e| panic!("PgBoard::top failed: {e}"));
    assert!(
        top.is_empty(),
        "the second row failed, so the first must be rolled back too, found {top:?}"
    );
}

/// 50 concurrent adds of 1..=50 points to one player, released at once by a barrier.
async fn race<F, Fut>(add: F) -> (Vec<i64>, i64)
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = i64> + Send + 'static,
{
    let start = Arc::new(Barrier::new(50));
    let calls: Vec<_> = (1..=50)
        .map(|points| {
            let (start, call) = (start.clone(), add(points));
            tokio::spawn(async move {
                start.wait().await;
                call.await
            })
        })
        .collect();
    let mut returned = Vec::new();
    for call in calls {
        returned.push(call.await.expect("an add call panicked"));
    }
    (returned, 50 * 51 / 2)
}

fn assert_atomic(store: &str, returned: &[i64], total: i64, stored: i64) {
    assert_eq!(
        stored, total,
        "{store}: 50 concurrent adds of 1..=50 points must sum to {total}, the score is {stored}: updates were lost"
    );
    let distinct: HashSet<_> = returned.iter().collect();
    assert_eq!(
        distinct.len(),
        50,
        "{store}: each atomic add returns a different running total, got {returned:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_never_lose_an_update_in_redis() {
    let b = Arc::new(boards().await);
    let (returned, total) = race(|points| {
        let b = b.clone();
        async move {
            b.redis
                .add("hot", points)
                .await
                .unwrap_or_else(|e| panic!("RedisBoard::add failed: {e}"))
        }
    })
    .await;
    let (_, redis) = b.top(1).await;
    assert_atomic(
        "Redis",
        &returned,
        total,
        redis.first().map_or(0, |e| e.score),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_never_lose_an_update_in_postgres() {
    let b = Arc::new(boards().await);
    let (returned, total) = race(|points| {
        let b = b.clone();
        async move {
            b.pg.add("hot", points)
                .await
                .unwrap_or_else(|e| panic!("PgBoard::add failed: {e}"))
        }
    })
    .await;
    let (pg, _) = b.top(1).await;
    assert_atomic(
        "Postgres",
        &returned,
        total,
        pg.first().map_or(0, |e| e.score),
    );
}
