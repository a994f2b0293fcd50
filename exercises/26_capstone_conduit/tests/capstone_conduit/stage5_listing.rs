//! Stage 5: listing with filters, pagination and the feed, in a bounded number of statements
//! (08_n_plus_one, 09_eager_loading).

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Api, slug, titles};

/// 4 authors x 10 articles (2 tags each, favorited by `viewer`, who follows `author0` and
/// `author1`), written straight into the database; `a0-0` is the newest, `a3-9` the oldest.
async fn seed_many(api: &Api, viewer: &str) {
    let mut admin = api.db.admin().await;
    sqlx::raw_sql(
        "INSERT INTO users (username, email, password_hash)
           SELECT 'author' || i, 'author' || i || '@mail.test', 'not-a-hash' FROM generate_series(0, 3) i;
         INSERT INTO articles (slug, title, description, body, author_id, created_at, updated_at)
           SELECT 'a' || i || '-' || j, 'a' || i || '-' || j, 'd', 'b', u.id,
                  now() - (i * 10 + j) * interval '1 minute', now() - (i * 10 + j) * interval '1 minute'
           FROM generate_series(0, 3) i, generate_series(0, 9) j JOIN users u ON true
           WHERE u.username = 'author' || i;
         INSERT INTO article_tags (article_id, tag, position) SELECT id, 'common', 0 FROM articles;
         INSERT INTO article_tags (article_id, tag, position) SELECT id, 'tag-' || (id % 3), 1 FROM articles;",
    )
    .execute(&mut admin)
    .await
    .expect("the test can seed articles");
    sqlx::query(
        "INSERT INTO favorites (user_id, article_id)
           SELECT v.id, a.id FROM users v, articles a WHERE v.username = $1",
    )
    .bind(viewer)
    .execute(&mut admin)
    .await
    .expect("the test can seed favorites");
    sqlx::query(
        "INSERT INTO follows (follower_id, followee_id)
           SELECT v.id, u.id FROM users v, users u WHERE v.username = $1 AND u.username IN ('author0', 'author1')",
    )
    .bind(viewer)
    .execute(&mut admin)
    .await
    .expect("the test can seed follows");
}

/// Runs GET `uri` and returns the body and how many statements it took.
async fn counted(api: &Api, uri: &str, token: &str) -> (serde_json::Value, i64) {
    // Once first, so the pool's connection is open and its setup is not counted.
    api.get(uri, Some(token)).await.expect(StatusCode::OK);
    let before = api.statements().await;
    let body = api.get(uri, Some(token)).await.expect(StatusCode::OK);
    (body, api.statements().await - before)
}

#[tokio::test]
async fn stage5_listing_40_articles_runs_a_bounded_number_of_statements() {
    let api = Api::new().await;
    let viewer = api.register("viewer").await;
    seed_many(&api, "viewer").await;

    let (body, statements) = counted(&api, "/api/articles?limit=40", &viewer).await;

    assert_eq!(
        titles(&body).len(),
        40,
        "expected all 40 seeded articles, but got {body}"
    );
    let first = &body["articles"][0];
    assert_eq!(
        first["author"]["username"], "author0",
        "expected the newest article's author, but got {first}"
    );
    assert_eq!(
        first["favorited"], true,
        "expected favorited: true for the viewer, but got {first}"
    );
    assert_eq!(
        first["favoritesCount"], 1,
        "expected favoritesCount 1, but got {first}"
    );
    assert_eq!(
        first["author"]["following"], true,
        "expected the viewer to follow author0, but got {first}"
    );
    assert_eq!(
        first["tagList"][0], "common",
        "expected two tags, `common` first as stored, but got {first}"
    );
    assert!(
        body["articles"]
            .as_array()
            .is_some_and(|all| all.iter().all(|a| a.get("body").is_none())),
        "expected a list without the articles' body (the spec's list items have none), but got {first}"
    );
    assert!(
        statements <= 4,
        "expected listing 40 articles with their authors, tags, favorites and follows to take at most 4 SQL \
         statements, but it took {statements}: is there a query per article (N+1)?"
    );
}

#[tokio::test]
async fn stage5_the_feed_runs_a_bounded_number_of_statements() {
    let api = Api::new().await;
    let viewer = api.register("viewer").await;
    seed_many(&api, "viewer").await;

    let (body, statements) = counted(&api, "/api/articles/feed?limit=40", &viewer).await;

    assert_eq!(
        body["articlesCount"], 20,
        "expected the 20 articles of the 2 followed authors, but got {}",
        body["articlesCount"]
    );
    assert!(
        statements <= 4,
        "expected the feed of 20 articles to take at most 4 SQL statements, but it took {statements}"
    );
}

#[tokio::test]
async fn stage5_articles_are_listed_newest_first_and_paged_with_limit_and_offset() {
    let api = Api::new().await;
    let token = api.register("jake").await;
    for n in 1..=5 {
        api.article(&token, &format!("A{n}"), &[]).await;
    }

    let all = api.get("/api/articles", None).await.expect(StatusCode::OK);
    assert_eq!(
        titles(&all),
        ["A5", "A4", "A3", "A2", "A1"],
        "expected newest first"
    );
    assert_eq!(
        all["articlesCount"], 5,
        "expected articlesCount 5, but got {}",
        all["articlesCount"]
    );

    let page = api
        .get("/api/articles?limit=2&offset=1", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        titles(&page),
        ["A4", "A3"],
        "expected limit=2&offset=1 to skip the newest and take two"
    );
    assert_eq!(
        page["articlesCount"], 5,
        "expected articlesCount to count every match, not the page, but got {}",
        page["articlesCount"]
    );

    let past = api
        .get("/api/articles?offset=10", None)
        .await
        .expect(StatusCode::OK);
    assert!(
        titles(&past).is_empty(),
        "expected an empty page past the end, but got {past}"
    );
    assert_eq!(
        past["articlesCount"], 5,
        "expected articlesCount 5 past the end too, but got {}",
        past["articlesCount"]
    );
}

#[tokio::test]
async fn stage5_the_default_page_holds_20_articles() {
    let api = Api::new().await;
    api.register("viewer").await;
    seed_many(&api, "viewer").await;

    let body = api.get("/api/articles", None).await.expect(StatusCode::OK);

    assert_eq!(
        titles(&body).len(),
        20,
        "expected 20 articles without a limit, but got {}",
        titles(&body).len()
    );
    assert_eq!(
        body["articlesCount"], 40,
        "expected articlesCount 40, but got {}",
        body["articlesCount"]
    );
    assert_eq!(
        body["articles"][0]["favorited"], false,
        "expected favorited: false for an anonymous viewer"
    );
}

#[tokio::test]
async fn stage5_a_limit_above_100_is_lowered_to_100() {
    let api = Api::new().await;
    api.register("prolific").await;
    sqlx::query(
        "INSERT INTO articles (slug, title, description, body, author_id)
           SELECT 'p-' || i, 'p-' || i, 'd', 'b', u.id
           FROM generate_series(1, 101) i JOIN users u ON u.username = 'prolific'",
    )
    .execute(&mut api.db.admin().await)
    .await
    .expect("the test can seed articles");

    let body = api
        .get("/api/articles?limit=1000", None)
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        (titles(&body).len(), &body["articlesCount"]),
        (100, &json!(101)),
        "expected ?limit=1000 over 101 articles to list MAX_LIMIT = 100 of them (articlesCount \
         101), but got {} articles and articlesCount {}",
        titles(&body).len(),
        body["articlesCount"]
    );
}

#[tokio::test]
async fn stage5_articles_are_filtered_by_tag_author_and_favorited() {
    let api = Api::new().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let dragons = slug(&api.article(&ann, "Dragons", &["dragons"]).await);
    api.article(&bob, "Cats", &["cats", "pets"]).await;
    api.article(&ann, "Dogs", &["dogs", "pets"]).await;
    api.post(
        &format!("/api/articles/{dragons}/favorite"),
        Some(&bob),
        json!({}),
    )
    .await
    .expect(StatusCode::OK);

    let cases: [(&str, &[&str]); 6] = [
        ("/api/articles?tag=pets", &["Dogs", "Cats"]),
        ("/api/articles?author=bob", &["Cats"]),
        ("/api/articles?favorited=bob", &["Dragons"]),
        ("/api/articles?tag=pets&author=ann", &["Dogs"]),
        ("/api/articles?favorited=ann", &[]),
        ("/api/articles?author=nobody", &[]),
    ];
    for (uri, expected) in cases {
        let body = api.get(uri, Some(&bob)).await.expect(StatusCode::OK);
        assert_eq!(titles(&body), expected, "GET {uri}: wrong articles");
        assert_eq!(
            body["articlesCount"],
            expected.len(),
            "GET {uri}: expected articlesCount {}",
            expected.len()
        );
    }
    let favorited = api
        .get("/api/articles?favorited=bob", Some(&bob))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        favorited["articles"][0]["favorited"], true,
        "expected bob to see favorited: true, but got {favorited}"
    );
}

#[tokio::test]
async fn stage5_the_feed_lists_only_the_authors_the_user_follows() {
    let api = Api::new().await;
    let reader = api.register("reader").await;
    let followed = api.register("followed").await;
    let stranger = api.register("stranger").await;
    api.article(&followed, "Followed 1", &[]).await;
    api.article(&stranger, "Stranger", &[]).await;
    api.article(&followed, "Followed 2", &[]).await;
    api.article(&reader, "Mine", &[]).await;
    api.post("/api/profiles/followed/follow", Some(&reader), json!({}))
        .await
        .expect(StatusCode::OK);

    let feed = api
        .get("/api/articles/feed", Some(&reader))
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        titles(&feed),
        ["Followed 2", "Followed 1"],
        "expected only the followed author's articles, newest first"
    );
    assert_eq!(
        feed["articlesCount"], 2,
        "expected articlesCount 2, but got {}",
        feed["articlesCount"]
    );
    assert_eq!(
        feed["articles"][0]["author"]["following"], true,
        "expected author.following: true in the feed"
    );
    let empty = api
        .get("/api/articles/feed", Some(&stranger))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (titles(&empty).len(), &empty["articlesCount"]),
        (0, &json!(0)),
        "expected an empty feed with articlesCount 0 for someone who follows nobody, but got {empty}"
    );
    assert!(
        feed["articles"][0].get("body").is_none(),
        "expected the feed's articles without their body, but got {feed}"
    );
    api.get("/api/articles/feed", None)
        .await
        .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is missing");
}

#[tokio::test]
async fn stage5_the_feed_pages_with_limit_and_offset() {
    let api = Api::new().await;
    let viewer = api.register("viewer").await;
    seed_many(&api, "viewer").await;

    let page = api
        .get("/api/articles/feed?limit=2&offset=3", Some(&viewer))
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        (titles(&page), &page["articlesCount"]),
        (vec!["a0-3".to_owned(), "a0-4".to_owned()], &json!(20)),
        "expected the 4th and 5th of the 20 followed articles (limit=2, offset=3), with \
         articlesCount 20, but got {page}"
    );
}
