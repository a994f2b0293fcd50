//! Stage 4: articles with slugs; only the author edits or deletes (01_rest_resources,
//! 02_status_codes, 11_transfer).

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{Api, is_iso8601, slug};

#[tokio::test]
async fn stage4_creating_an_article_returns_201_with_slug_tags_in_order_and_author() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    let body = api
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?",
                               "body": "Very carefully.", "tagList": ["training", "dragons", " training "]}}),
        )
        .await
        .expect(StatusCode::CREATED);

    let article = &body["article"];
    assert_eq!(
        article["slug"], "how-to-train-your-dragon",
        "expected the slug from the title, but got {body}"
    );
    assert_eq!(
        article["tagList"],
        json!(["training", "dragons"]),
        "expected the tags in the order given, each once, but got {body}"
    );
    assert_eq!(
        article["body"], "Very carefully.",
        "expected the body, but got {body}"
    );
    assert_eq!(
        article["favorited"], false,
        "expected favorited: false, but got {body}"
    );
    assert_eq!(
        article["favoritesCount"], 0,
        "expected favoritesCount: 0, but got {body}"
    );
    assert_eq!(
        article["author"],
        json!({"username": "jake", "bio": null, "image": null, "following": false}),
        "expected jake as the author, but got {body}"
    );
    for field in ["createdAt", "updatedAt"] {
        assert!(
            is_iso8601(&article[field]),
            "expected {field} like 2024-05-01T12:00:00.000Z (with fractional seconds), but got {}",
            article[field]
        );
    }
    let read = api
        .get("/api/articles/how-to-train-your-dragon", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (&read["article"]["title"], &read["article"]["body"]),
        (
            &json!("How to train your dragon"),
            &json!("Very carefully.")
        ),
        "expected to read the article, with its body, by its slug, but got {read}"
    );
    assert_eq!(
        read["article"]["tagList"],
        json!(["training", "dragons"]),
        "expected the stored tags in the order given, but got {read}"
    );
}

#[tokio::test]
async fn stage4_the_same_title_twice_gives_two_slugs() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    let first = slug(&api.article(&token, "Same Title", &[]).await);
    let second = slug(&api.article(&token, "Same Title", &[]).await);

    assert_eq!(
        first, "same-title",
        "expected the first article to get the plain slug"
    );
    assert_ne!(
        first, second,
        "expected the second article with the same title to get another slug"
    );
    assert!(
        second.starts_with("same-title"),
        "expected the second slug to start with the title's, but got {second:?}"
    );
}

#[tokio::test]
async fn stage4_creating_needs_a_token_and_a_title() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    api.post(
        "/api/articles",
        None,
        json!({"article": {"title": "t", "description": "d", "body": "b"}}),
    )
    .await
    .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is missing");
    api.post(
        "/api/articles",
        Some(&token),
        json!({"article": {"title": " ", "description": "d", "body": "b"}}),
    )
    .await
    .expect_exact_error(StatusCode::UNPROCESSABLE_ENTITY, "title", "can't be blank");
    let all = api
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "", "description": ""}}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["title", "description", "body"] {
        assert_eq!(
            all["errors"][field],
            json!(["can't be blank"]),
            "expected every blank or missing field named at once, errors.{field} too, but got {all}"
        );
    }
    api.get("/api/articles/no-such-article", None)
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
    let articles: i64 = sqlx::query_scalar("SELECT count(*) FROM articles")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("the articles table can be read");
    assert_eq!(
        articles, 0,
        "expected no article from refused requests, but found {articles}"
    );
}

#[tokio::test]
async fn stage4_only_the_author_may_update_an_article() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let intruder = api.register("intruder").await;
    let original = api.article(&author, "Original title", &[]).await;
    let slug = slug(&original);

    api.put(
        &format!("/api/articles/{slug}"),
        Some(&intruder),
        json!({"article": {"body": "defaced"}}),
    )
    .await
    .expect_exact_error(StatusCode::FORBIDDEN, "article", "forbidden");
    let unchanged = api
        .get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        unchanged["article"]["body"], "The body of Original title",
        "expected a refused update to change nothing, but got {unchanged}"
    );

    let updated = api
        .put(
            &format!("/api/articles/{slug}"),
            Some(&author),
            json!({"article": {"title": "A better title", "body": "With two hands"}}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        updated["article"]["body"], "With two hands",
        "expected the new body, but got {updated}"
    );
    assert_eq!(
        updated["article"]["description"], "About Original title",
        "expected the description to stay, but got {updated}"
    );
    assert_eq!(
        updated["article"]["slug"], "a-better-title",
        "expected a new title to give a new slug, but got {updated}"
    );
    assert_eq!(
        updated["article"]["createdAt"], original["createdAt"],
        "expected createdAt to stay, but got {updated}"
    );
    assert_ne!(
        updated["article"]["updatedAt"], original["updatedAt"],
        "expected updatedAt to change, but got {updated}"
    );
    api.get("/api/articles/a-better-title", None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn stage4_an_update_finds_the_article_and_its_author_before_it_checks_the_body() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let intruder = api.register("intruder").await;
    let slug = slug(&api.article(&author, "Original title", &[]).await);
    let blank_title = json!({"article": {"title": ""}});

    // A body that would be a 422 from the author: 404 and 403 come first (the stub's order).
    api.put(
        "/api/articles/no-such-article",
        Some(&author),
        blank_title.clone(),
    )
    .await
    .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
    api.put(
        &format!("/api/articles/{slug}"),
        Some(&intruder),
        blank_title,
    )
    .await
    .expect_exact_error(StatusCode::FORBIDDEN, "article", "forbidden");
}

#[tokio::test]
async fn stage4_a_slug_has_no_dash_at_either_end_and_a_title_with_the_same_slug_keeps_it() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    let article = api.article(&token, "  ¡Hello, World!  ", &[]).await;

    assert_eq!(
        article["slug"], "hello-world",
        "expected the title's words joined by -, with no - at either end, but got {article}"
    );
    let updated = api
        .put(
            "/api/articles/hello-world",
            Some(&token),
            json!({"article": {"title": "Hello, world?"}}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        updated["article"]["slug"], "hello-world",
        "expected a new title with the same slug to keep it (only another article can take a \
         slug), but got {updated}"
    );
    api.get("/api/articles/hello-world", None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn stage4_an_update_keeps_replaces_or_clears_the_tags() {
    let api = Api::new().await;
    let token = api.register("jake").await;
    let uri = format!(
        "/api/articles/{}",
        slug(&api.article(&token, "Tagged", &["a", "b"]).await)
    );
    let tags = |body: &serde_json::Value| body["article"]["tagList"].clone();

    let kept = api
        .put(&uri, Some(&token), json!({"article": {"body": "new body"}}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        tags(&kept),
        json!(["a", "b"]),
        "expected an update without tagList to keep the tags, but got {kept}"
    );

    let replaced = api
        .put(
            &uri,
            Some(&token),
            json!({"article": {"tagList": ["z", "a"]}}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        tags(&replaced),
        json!(["z", "a"]),
        "expected tagList to replace the tags, in its order, but got {replaced}"
    );

    api.put(
        &uri,
        Some(&token),
        json!({"article": {"tagList": null, "body": "nulled"}}),
    )
    .await
    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "tagList");
    let after_null = api.get(&uri, None).await.expect(StatusCode::OK);
    assert_eq!(
        (tags(&after_null), &after_null["article"]["body"]),
        (json!(["z", "a"]), &json!("new body")),
        "expected a refused update (tagList: null) to change nothing, but got {after_null}"
    );

    let cleared = api
        .put(&uri, Some(&token), json!({"article": {"tagList": []}}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        tags(&cleared),
        json!([]),
        "expected tagList: [] to remove every tag, but got {cleared}"
    );
    let read = api.get(&uri, None).await.expect(StatusCode::OK);
    assert_eq!(
        tags(&read),
        json!([]),
        "expected the removal to be stored, but got {read}"
    );
    let listed = api.get("/api/tags", None).await.expect(StatusCode::OK);
    assert_eq!(
        listed,
        json!({"tags": []}),
        "expected no tag in use any more, but got {listed}"
    );
}

#[tokio::test]
async fn stage4_only_the_author_may_delete_an_article() {
    let api = Api::new().await;
    let author = api.register("author").await;
    let intruder = api.register("intruder").await;
    let slug = slug(&api.article(&author, "Keep me", &["kept"]).await);
    let uri = format!("/api/articles/{slug}");

    api.delete(&uri, None).await.expect_exact_error(
        StatusCode::UNAUTHORIZED,
        "token",
        "is missing",
    );
    api.delete(&uri, Some(&intruder)).await.expect_exact_error(
        StatusCode::FORBIDDEN,
        "article",
        "forbidden",
    );
    api.get(&uri, None).await.expect(StatusCode::OK);

    let reply = api.delete(&uri, Some(&author)).await;
    assert_eq!(
        (reply.status, &reply.body),
        (StatusCode::NO_CONTENT, &serde_json::Value::Null),
        "expected the author's delete to answer 204 with no body"
    );
    api.get(&uri, None)
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "article", "not found");
    api.delete(&uri, Some(&author)).await.expect_exact_error(
        StatusCode::NOT_FOUND,
        "article",
        "not found",
    );
}
