//! Stage 6: favorites, comments and tags (02_status_codes, 06_orm_mapping).

use axum::http::StatusCode;
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

    api.post(&uri, None, json!({}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
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
    .expect_error(StatusCode::NOT_FOUND);
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
        .expect(StatusCode::OK);
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
    .expect(StatusCode::OK);

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
        .expect_error(StatusCode::FORBIDDEN);
    api.delete(&format!("{base}/{id}"), None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    let reply = api.delete(&format!("{base}/{id}"), Some(&commenter)).await;
    assert!(
        reply.status == StatusCode::NO_CONTENT || reply.status == StatusCode::OK,
        "expected the commenter's delete to answer 204 (or 200), but got {} with {}",
        reply.status,
        reply.body
    );
    let after = api.get(&base, None).await.expect(StatusCode::OK);
    assert_eq!(
        after["comments"].as_array().map(Vec::len),
        Some(1),
        "expected one comment left, but got {after}"
    );
    api.delete(&format!("{base}/{id}"), Some(&commenter))
        .await
        .expect_error(StatusCode::NOT_FOUND);
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
