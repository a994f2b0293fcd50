//! Stage 6: favorites, comments and tags (02_status_codes, 06_orm_mapping).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::common::{Api, is_iso8601, slug};

#[tokio::test]
async fn stage6_favoriting_counts_each_user_once_and_unfavoriting_undoes_it() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let uri = format!(
        "/api/articles/{}/favorite",
        slug(&api.article(&author, "Liked", &[]).await)
    );

    api.post(&uri, None, json!({})).await.expect_exact_error(
        StatusCode::UNAUTHORIZED,
        "token",
        "is missing",
    );
    api.post(&uri, Some(&ann), json!({}))
        .await
        .expect(StatusCode::OK);
    let twice = api
        .post(&uri, Some(&ann), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (
            &twice["article"]["favorited"],
            &twice["article"]["favoritesCount"]
        ),
        (&json!(true), &json!(1)),
        "expected favoriting twice to count once, but got {twice}"
    );
    let by_bob = api
        .post(&uri, Some(&bob), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        by_bob["article"]["favoritesCount"], 2,
        "expected 2 after a second user, but got {by_bob}"
    );

    let undone = api.delete(&uri, Some(&ann)).await.expect(StatusCode::OK);
    assert_eq!(
        (
            &undone["article"]["favorited"],
            &undone["article"]["favoritesCount"]
        ),
        (&json!(false), &json!(1)),
        "expected ann's unfavorite to leave bob's, but got {undone}"
    );
    api.post(
        "/api/articles/no-such-article/favorite",
        Some(&ann),
        json!({}),
    )
    .await
    .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
    api.delete("/api/articles/no-such-article/favorite", Some(&ann))
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
}

#[tokio::test]
async fn stage6_concurrent_favorites_by_one_user_count_once() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let fan = api.register("fan").await;
    let slug = slug(&api.article(&author, "Raced", &[]).await);
    let uri = format!("/api/articles/{slug}/favorite");

    // The test writes the very favorite both requests will write, and keeps it uncommitted:
    // both requests reach the database and wait for it; when it rolls back, they race.
    let mut holder = api.db.admin().await;
    sqlx::raw_sql("BEGIN")
        .execute(&mut holder)
        .await
        .expect("the test can begin");
    sqlx::query(
        "INSERT INTO favorites (user_id, article_id)
         SELECT u.id, a.id FROM users u, articles a WHERE u.username = 'fan' AND a.slug = $1",
    )
    .bind(&slug)
    .execute(&mut holder)
    .await
    .expect("the test can hold the favorite");
    let calls = [
        api.spawn(Method::POST, &uri, Some(&fan)),
        api.spawn(Method::POST, &uri, Some(&fan)),
    ];
    api.db
        .wait_for_lock_waiters(
            "both favorites to wait for the favorite the test holds",
            |waiting| waiting + calls.iter().filter(|c| c.is_finished()).count() >= calls.len(),
        )
        .await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("the test can roll back");

    for call in calls {
        let body = call
            .await
            .expect("the request's task")
            .expect(StatusCode::OK);
        assert_eq!(
            (
                &body["article"]["favorited"],
                &body["article"]["favoritesCount"]
            ),
            (&json!(true), &json!(1)),
            "expected two favorites at once by one user to answer favorited: true, \
             favoritesCount: 1 each, but got {body}"
        );
    }
    let favorites: i64 = sqlx::query_scalar("SELECT count(*) FROM favorites")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("the favorites table can be read");
    assert_eq!(
        favorites, 1,
        "expected one favorite row, but found {favorites}"
    );
}

#[tokio::test]
async fn stage6_comments_are_added_listed_and_deleted_by_their_author_only() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let commenter = api.register("commenter").await;
    let base = format!(
        "/api/articles/{}/comments",
        slug(&api.article(&author, "Discussed", &[]).await)
    );

    let created = api
        .post(
            &base,
            Some(&commenter),
            json!({"comment": {"body": "Thank you so much!"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let comment = &created["comment"];
    assert_eq!(
        comment["body"], "Thank you so much!",
        "expected the comment's body, but got {created}"
    );
    assert_eq!(
        comment["author"]["username"], "commenter",
        "expected the commenter as author, but got {created}"
    );
    assert!(
        is_iso8601(&comment["createdAt"]),
        "expected an ISO 8601 createdAt, but got {created}"
    );
    let id = comment["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected a numeric comment id, but got {created}"));
    api.post(
        &base,
        Some(&commenter),
        json!({"comment": {"body": "Second"}}),
    )
    .await
    .expect(StatusCode::CREATED);
    api.post(&base, Some(&commenter), json!({"comment": {"body": ""}}))
        .await
        .expect_exact_error(StatusCode::UNPROCESSABLE_ENTITY, "body", "can't be blank");
    api.post(
        "/api/articles/no-such-article/comments",
        Some(&commenter),
        json!({"comment": {"body": "orphan"}}),
    )
    .await
    .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");

    let listed = api.get(&base, None).await.expect(StatusCode::OK);
    let bodies: Vec<&str> = listed["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["body"].as_str())
        .collect();
    assert_eq!(
        bodies,
        ["Thank you so much!", "Second"],
        "expected both comments, oldest first, without a token"
    );

    api.delete(&format!("{base}/{id}"), Some(&author))
        .await
        .expect_exact_error(StatusCode::FORBIDDEN, "comment", "forbidden");
    api.delete(&format!("{base}/{id}"), None)
        .await
        .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is missing");
    let reply = api.delete(&format!("{base}/{id}"), Some(&commenter)).await;
    assert_eq!(
        (reply.status, &reply.body),
        (StatusCode::NO_CONTENT, &serde_json::Value::Null),
        "expected the commenter's delete to answer 204 with no body"
    );
    let after = api.get(&base, None).await.expect(StatusCode::OK);
    assert_eq!(
        after["comments"].as_array().map(Vec::len),
        Some(1),
        "expected one comment left, but got {after}"
    );
    api.delete(&format!("{base}/{id}"), Some(&commenter))
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "comment", "not found");
    api.get("/api/articles/no-such-article/comments", None)
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
}

#[tokio::test]
async fn stage6_a_comment_is_deleted_only_through_its_own_article() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let commenter = api.register("commenter").await;
    let discussed = slug(&api.article(&author, "Discussed", &[]).await);
    let other = slug(&api.article(&author, "Other", &[]).await);
    let created = api
        .post(
            &format!("/api/articles/{discussed}/comments"),
            Some(&commenter),
            json!({"comment": {"body": "On Discussed"}}),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = created["comment"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected a numeric comment id, but got {created}"));

    api.delete(
        &format!("/api/articles/{other}/comments/{id}"),
        Some(&commenter),
    )
    .await
    .expect_exact_error(StatusCode::NOT_FOUND, "comment", "not found");
    let listed = api
        .get(&format!("/api/articles/{discussed}/comments"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        listed["comments"].as_array().map(Vec::len),
        Some(1),
        "expected a DELETE through another article's slug to leave the comment in place \
         (it is not on that article), but got {listed}"
    );
}

#[tokio::test]
async fn stage6_listing_comments_runs_a_bounded_number_of_statements() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let slug = slug(&api.article(&author, "Popular", &[]).await);
    let mut admin = api.db.admin().await;
    sqlx::query(
        "INSERT INTO users (username, email, password_hash)
           SELECT 'reader' || i, 'reader' || i || '@mail.test', 'not-a-hash' FROM generate_series(1, 20) i",
    )
    .execute(&mut admin)
    .await
    .expect("the test can seed users");
    sqlx::query(
        "INSERT INTO comments (article_id, author_id, body)
           SELECT a.id, u.id, 'Comment by ' || u.username FROM articles a, users u
           WHERE a.slug = $1 AND u.username LIKE 'reader%' ORDER BY u.id",
    )
    .bind(&slug)
    .execute(&mut admin)
    .await
    .expect("the test can seed comments");
    let uri = format!("/api/articles/{slug}/comments");

    api.get(&uri, Some(&author)).await.expect(StatusCode::OK);
    let before = api.statements().await;
    let body = api.get(&uri, Some(&author)).await.expect(StatusCode::OK);
    let statements = api.statements().await - before;

    let comments = body["comments"].as_array().map_or(0, Vec::len);
    assert_eq!(
        comments, 20,
        "expected the 20 seeded comments, but got {body}"
    );
    assert_eq!(
        body["comments"][0]["author"]["username"], "reader1",
        "expected the oldest comment first, with its author, but got {}",
        body["comments"][0]
    );
    assert!(
        statements <= 3,
        "expected listing 20 comments with their authors to take at most 3 SQL statements, \
         but it took {statements}: is there a query per comment (N+1)?"
    );
}

#[tokio::test]
async fn stage6_tags_lists_each_tag_in_use_once() {
    let api = Api::new().await;
    let token = api.register("jake").await;
    let empty = api.get("/api/tags", None).await.expect(StatusCode::OK);
    assert_eq!(
        empty,
        json!({"tags": []}),
        "expected no tags before any article"
    );

    api.article(&token, "One", &["rust", "web"]).await;
    api.article(&token, "Two", &["web", "sql"]).await;

    let body = api.get("/api/tags", None).await.expect(StatusCode::OK);
    let mut tags: Vec<&str> = body["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    tags.sort_unstable();
    assert_eq!(
        tags,
        ["rust", "sql", "web"],
        "expected each tag once, but got {body}"
    );
}
