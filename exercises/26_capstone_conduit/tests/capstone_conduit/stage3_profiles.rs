//! Stage 3: profiles and follows (06_orm_mapping, 02_status_codes).

use axum::http::StatusCode;
use serde_json::json;

use crate::common::Api;

#[tokio::test]
async fn stage3_a_profile_shows_whether_the_viewer_follows() {
    let api = Api::new().await;
    let fan = api.register("fan").await;
    let other = api.register("other").await;
    api.register("celeb").await;

    let anonymous = api
        .get("/api/profiles/celeb", None)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        anonymous["profile"],
        json!({"username": "celeb", "bio": null, "image": null, "following": false}),
        "expected celeb's profile, not followed, for an anonymous viewer"
    );

    let followed = api
        .post("/api/profiles/celeb/follow", Some(&fan), json!({}))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        followed["profile"]["following"], true,
        "expected following: true after following, but got {followed}"
    );

    let seen_by_fan = api
        .get("/api/profiles/celeb", Some(&fan))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        seen_by_fan["profile"]["following"], true,
        "expected the fan to see following: true, but got {seen_by_fan}"
    );
    let seen_by_other = api
        .get("/api/profiles/celeb", Some(&other))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        seen_by_other["profile"]["following"], false,
        "expected someone who does not follow celeb to see following: false, but got {seen_by_other}"
    );

    let unfollowed = api
        .delete("/api/profiles/celeb/follow", Some(&fan))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        unfollowed["profile"]["following"], false,
        "expected following: false after unfollowing, but got {unfollowed}"
    );
    let after = api
        .get("/api/profiles/celeb", Some(&fan))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        after["profile"]["following"], false,
        "expected the unfollow to be saved, but got {after}"
    );
}

#[tokio::test]
async fn stage3_following_twice_keeps_one_follow() {
    let api = Api::new().await;
    let fan = api.register("fan").await;
    api.register("celeb").await;

    api.post("/api/profiles/celeb/follow", Some(&fan), json!({}))
        .await
        .expect(StatusCode::OK);
    api.post("/api/profiles/celeb/follow", Some(&fan), json!({}))
        .await
        .expect(StatusCode::OK);

    let follows: i64 = sqlx::query_scalar("SELECT count(*) FROM follows")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("the follows table can be read");
    assert_eq!(
        follows, 1,
        "expected one row in follows after following twice, but found {follows}"
    );
}

#[tokio::test]
async fn stage3_following_needs_a_token_and_an_existing_user() {
    let api = Api::new().await;
    let fan = api.register("fan").await;
    api.register("celeb").await;

    api.post("/api/profiles/celeb/follow", None, json!({}))
        .await
        .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is missing");
    api.post("/api/profiles/nobody/follow", Some(&fan), json!({}))
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "profile", "not found");
    api.delete("/api/profiles/nobody/follow", Some(&fan))
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "profile", "not found");
    api.get("/api/profiles/nobody", None)
        .await
        .expect_exact_error(StatusCode::NOT_FOUND, "profile", "not found");
}
