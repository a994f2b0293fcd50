//! Stage 2: the current user behind `Authorization: Token <jwt>` (16_jwt, 03_put_vs_patch).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::common::{Api, SECRET};

/// A GET /api/user with a raw `Authorization` header value.
async fn with_header(api: &Api, value: &str) -> crate::common::Reply {
    let request = Request::get("/api/user")
        .header(header::AUTHORIZATION, value)
        .body(Body::empty())
        .expect("a valid request");
    api.send(
        request,
        format!("GET /api/user with `Authorization: {value}`"),
    )
    .await
}

/// Registers jake and signs a token for him by hand: `exp` seconds from now (negative: past),
/// with `secret`.
async fn jake_with_token(api: &Api, exp: i64, secret: &[u8]) -> String {
    api.register("jake").await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("jake exists");
    let exp = jsonwebtoken::get_current_timestamp().saturating_add_signed(exp);
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": id, "exp": exp}),
        &EncodingKey::from_secret(secret),
    )
    .expect("the test can sign")
}

#[tokio::test]
async fn stage2_the_current_user_needs_a_token_in_the_token_scheme() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    api.get("/api/user", None).await.expect_exact_error(
        StatusCode::UNAUTHORIZED,
        "token",
        "is missing",
    );
    with_header(&api, &format!("Bearer {token}"))
        .await
        .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is invalid");
    let body = with_header(&api, &format!("Token {token}"))
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        body["user"]["username"], "jake",
        "expected jake, but got {body}"
    );
    assert_eq!(
        body["user"]["email"], "jake@mail.test",
        "expected jake's email, but got {body}"
    );
    assert_eq!(
        body["user"]["token"],
        token.as_str(),
        "expected the token sent to be echoed back, but got {body}"
    );
}

#[tokio::test]
async fn stage2_the_current_user_echoes_the_token_it_was_sent() {
    let api = Api::new().await;
    // Valid, but not one the service would sign now (its exp is 1 h ahead, not 24 h).
    let token = jake_with_token(&api, 3600, SECRET).await;

    let body = with_header(&api, &format!("Token {token}"))
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        body["user"]["token"],
        token.as_str(),
        "expected GET /api/user to answer with the token it was sent, not a new one, but got {body}"
    );
}

#[tokio::test]
async fn stage2_a_token_with_a_forged_signature_or_no_signature_is_a_401() {
    let api = Api::new().await;
    let forged = jake_with_token(&api, 3600, b"not-the-app-secret").await;
    let (head, rest) = forged.split_once('.').expect("a JWT");
    let (payload, _) = rest.split_once('.').expect("a JWT");
    let unsigned = format!("{head}.{payload}.");

    for (what, token) in [
        ("signed with another secret", forged.clone()),
        ("with its signature removed", unsigned),
    ] {
        let reply = with_header(&api, &format!("Token {token}")).await;
        assert_eq!(
            (reply.status, &reply.body),
            (
                StatusCode::UNAUTHORIZED,
                &json!({"errors": {"token": ["is invalid"]}})
            ),
            "expected a 401 {{\"errors\": {{\"token\": [\"is invalid\"]}}}} for a token {what}: \
             the signature must be checked"
        );
    }
}

#[tokio::test]
async fn stage2_an_expired_token_is_a_401() {
    let api = Api::new().await;
    let expired = jake_with_token(&api, -3600, SECRET).await;

    with_header(&api, &format!("Token {expired}"))
        .await
        .expect_exact_error(StatusCode::UNAUTHORIZED, "token", "is invalid");
}

#[tokio::test]
async fn stage2_updating_the_user_changes_only_the_fields_given() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    let body = api
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"bio": "I like to skateboard", "image": "https://i.test/j.png"}}),
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        body["user"]["bio"], "I like to skateboard",
        "expected the new bio, but got {body}"
    );
    assert_eq!(
        body["user"]["image"], "https://i.test/j.png",
        "expected the new image, but got {body}"
    );
    assert_eq!(
        body["user"]["email"], "jake@mail.test",
        "expected the email to stay, but got {body}"
    );
    assert_eq!(
        body["user"]["username"], "jake",
        "expected the username to stay, but got {body}"
    );
    let again = api
        .get("/api/user", Some(&token))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        again["user"]["bio"], "I like to skateboard",
        "expected the bio to be saved, but got {again}"
    );
}

#[tokio::test]
async fn stage2_a_new_password_replaces_the_old_one() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    api.put(
        "/api/user",
        Some(&token),
        json!({"user": {"password": "a-brand-new-password"}}),
    )
    .await
    .expect(StatusCode::OK);

    api.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "jake@mail.test", "password": "password-of-jake"}}),
    )
    .await
    .expect_error(StatusCode::UNAUTHORIZED, "credentials");
    api.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "jake@mail.test", "password": "a-brand-new-password"}}),
    )
    .await
    .expect(StatusCode::OK);
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("jake exists");
    assert!(
        stored.starts_with("$argon2id$"),
        "expected the new password to be hashed with Argon2id, but got {stored:?}"
    );
}

#[tokio::test]
async fn stage2_updating_to_a_taken_email_is_a_409_and_changes_nothing() {
    let api = Api::new().await;
    api.register("ann").await;
    let token = api.register("bob").await;

    api.put(
        "/api/user",
        Some(&token),
        json!({"user": {"email": "ann@mail.test", "bio": "new", "password": "another-password"}}),
    )
    .await
    .expect_exact_error(StatusCode::CONFLICT, "email", "has already been taken");

    let body = api
        .get("/api/user", Some(&token))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (&body["user"]["email"], &body["user"]["bio"]),
        (&json!("bob@mail.test"), &Value::Null),
        "expected a refused update to change nothing, neither the email nor the bio, but got {body}"
    );
    api.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "bob@mail.test", "password": "password-of-bob"}}),
    )
    .await
    .expect(StatusCode::OK);
}

#[tokio::test]
async fn stage2_an_empty_or_null_bio_or_image_is_stored_as_null() {
    let api = Api::new().await;
    let token = api.register("jake").await;
    let (api, token) = (&api, token.as_str());
    let put = move |user: Value| api.put("/api/user", Some(token), json!({ "user": user }));

    put(json!({"bio": "Skater", "image": "https://i.test/j.png"}))
        .await
        .expect(StatusCode::OK);
    let empty = put(json!({"bio": ""})).await.expect(StatusCode::OK);
    assert_eq!(
        (&empty["user"]["bio"], &empty["user"]["image"]),
        (&Value::Null, &json!("https://i.test/j.png")),
        "expected an empty bio to be stored as null and the image kept, but got {empty}"
    );
    let null = put(json!({"image": null})).await.expect(StatusCode::OK);
    assert_eq!(
        null["user"]["image"],
        Value::Null,
        "expected a null image to be stored as null, but got {null}"
    );
    put(json!({"bio": "Back"})).await.expect(StatusCode::OK);
    put(json!({"image": ""})).await.expect(StatusCode::OK);

    let stored: (Option<String>, Option<String>) = sqlx::query_as("SELECT bio, image FROM users")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("jake exists");
    assert_eq!(
        stored,
        (Some("Back".to_owned()), None),
        "expected (bio, image) stored as (\"Back\", NULL): an empty string is stored as NULL"
    );
}

#[tokio::test]
async fn stage2_a_null_or_blank_email_username_or_password_is_a_422() {
    let api = Api::new().await;
    let token = api.register("jake").await;

    for (field, value) in [
        ("email", json!(null)),
        ("email", json!("")),
        ("username", json!(null)),
        ("username", json!(" ")),
        ("password", json!(null)),
        ("password", json!("")),
        ("password", json!("short7c")),
    ] {
        let reply = api
            .put("/api/user", Some(&token), json!({"user": {field: value}}))
            .await;
        let what = format!("PUT /api/user with {field}: {value}");
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: expected 422, but got {} with {}",
            reply.status,
            reply.body
        );
        assert!(
            reply.body["errors"][field].is_array(),
            "{what}: expected errors.{field}, but got {}",
            reply.body
        );
    }
    let body = api
        .get("/api/user", Some(&token))
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (&body["user"]["email"], &body["user"]["username"]),
        (&json!("jake@mail.test"), &json!("jake")),
        "expected refused updates to change nothing, but got {body}"
    );
}

#[tokio::test]
async fn stage2_a_new_password_needs_8_characters_and_64_are_accepted() {
    let api = Api::new().await;
    let token = api.register("jake").await;
    // Characters, not bytes: 7 `é` are 14 bytes but 7 characters, 8 `é` are enough.
    let short = "ééééééé";
    let mut reply = api
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"password": short}}),
        )
        .await;
    reply.what = format!(
        "PUT /api/user with the password {short:?} (7 characters, {} bytes; the minimum is 8 \
         characters)",
        short.len()
    );
    reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "password");
    let long = "a".repeat(64);

    for password in ["bonjour1", "éééééééé", long.as_str()] {
        api.put(
            "/api/user",
            Some(&token),
            json!({"user": {"password": password}}),
        )
        .await
        .expect(StatusCode::OK);
        api.post(
            "/api/users/login",
            None,
            json!({"user": {"email": "jake@mail.test", "password": password}}),
        )
        .await
        .expect(StatusCode::OK);
    }
}
