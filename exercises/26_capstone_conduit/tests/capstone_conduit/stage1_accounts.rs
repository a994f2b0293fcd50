//! Stage 1: registration and login (15_password_hashing, 16_jwt, 02_status_codes).

use argon2::{Params, PasswordHash};
use axum::http::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::common::{Api, SECRET};

fn new_user(name: &str, email: &str, password: &str) -> Value {
    json!({"user": {"username": name, "email": email, "password": password}})
}

#[tokio::test]
async fn stage1_registration_returns_201_and_a_user_with_a_token() {
    let api = Api::new().await;
    let before = jsonwebtoken::get_current_timestamp();

    let body = api
        .post(
            "/api/users",
            None,
            new_user("jake", "jake@jake.jake", "jakejake"),
        )
        .await
        .expect(StatusCode::CREATED);
    let after = jsonwebtoken::get_current_timestamp();

    let user = &body["user"];
    assert_eq!(
        user["username"], "jake",
        "expected user.username \"jake\", but got {body}"
    );
    assert_eq!(
        user["email"], "jake@jake.jake",
        "expected user.email, but got {body}"
    );
    for field in ["bio", "image"] {
        assert!(
            user.get(field).is_some_and(Value::is_null),
            "expected user.{field} to be present and null for a new user, but got {body}"
        );
    }
    let token = user["token"]
        .as_str()
        .unwrap_or_else(|| panic!("expected user.token, but got {body}"));
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET),
        &Validation::new(Algorithm::HS256),
    )
    .unwrap_or_else(|e| panic!("expected an HS256 token signed with the app's secret, with an exp, but decoding failed: {e}"));
    let mut admin = api.db.admin().await;
    let id: i64 = sqlx::query_scalar("SELECT id FROM users WHERE username = 'jake'")
        .fetch_one(&mut admin)
        .await
        .expect("expected jake in the users table");
    assert_eq!(
        claims.claims["sub"],
        json!(id),
        "expected the token's sub to be jake's users.id ({id}), but the claims are {}",
        claims.claims
    );
    let day = 24 * 60 * 60;
    assert!(
        claims.claims["exp"]
            .as_u64()
            .is_some_and(|exp| (before + day..=after + day).contains(&exp)),
        "expected the token's exp 24 hours after registration (now + TOKEN_TTL_SECS: {} to {}), \
         but the claims are {}",
        before + day,
        after + day,
        claims.claims
    );
}

#[tokio::test]
async fn stage1_passwords_are_stored_as_salted_argon2id_hashes() {
    let api = Api::new().await;
    api.post(
        "/api/users",
        None,
        new_user("ann", "ann@mail.test", "same-password"),
    )
    .await
    .expect(StatusCode::CREATED);
    api.post(
        "/api/users",
        None,
        new_user("bob", "bob@mail.test", "same-password"),
    )
    .await
    .expect(StatusCode::CREATED);

    let mut admin = api.db.admin().await;
    let hashes: Vec<String> = sqlx::query_scalar("SELECT password_hash FROM users ORDER BY id")
        .fetch_all(&mut admin)
        .await
        .expect("the users table can be read");
    for hash in &hashes {
        assert!(
            hash.starts_with("$argon2id$"),
            "expected password_hash to be an Argon2id PHC string ($argon2id$...), but got {hash:?}"
        );
        assert!(
            !hash.contains("same-password"),
            "the password itself is in the database: {hash:?}"
        );
    }
    assert_ne!(
        hashes[0], hashes[1],
        "expected two users with the same password to get different hashes (a random salt each)"
    );
}

#[tokio::test]
async fn stage1_login_with_the_right_password_returns_the_user_with_a_token() {
    let api = Api::new().await;
    api.register("carol").await;

    let body = api
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "carol@mail.test", "password": "password-of-carol"}}),
        )
        .await
        .expect(StatusCode::OK);

    assert_eq!(
        body["user"]["username"], "carol",
        "expected carol's user, but got {body}"
    );
    let token = body["user"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("expected user.token, but got {body}"));
    api.get("/api/user", Some(token))
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn stage1_a_wrong_password_or_an_unknown_email_is_the_same_401() {
    let api = Api::new().await;
    api.register("dave").await;

    let wrong = api
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "dave@mail.test", "password": "password-of-carol"}}),
        )
        .await;
    let unknown = api
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "nobody@mail.test", "password": "password-of-dave"}}),
        )
        .await;

    assert_eq!(
        (wrong.status, &wrong.body),
        (unknown.status, &unknown.body),
        "expected the same answer for a wrong password and an unknown email (do not tell who has an account)"
    );
    wrong.expect_exact_error(StatusCode::UNAUTHORIZED, "credentials", "invalid");
}

#[tokio::test]
async fn stage1_an_unknown_email_costs_one_password_check_like_a_wrong_password() {
    let api = Api::new().await;
    api.register("erin").await;
    let login = |email: &str| json!({"user": {"email": email, "password": "not-the-password"}});

    let start = api.state.password_checks();
    api.post("/api/users/login", None, login("nobody@mail.test"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "credentials");
    let after_unknown = api.state.password_checks();
    api.post("/api/users/login", None, login("erin@mail.test"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED, "credentials");
    let after_wrong = api.state.password_checks();

    assert_eq!(
        (after_unknown - start, after_wrong - after_unknown),
        (1, 1),
        "expected exactly one password check (state.check_password) for an unknown email and one \
         for a wrong password (unknown email, wrong password): skip it for unknown emails and the \
         response time tells which emails have an account; check against state.dummy_hash"
    );
}

#[tokio::test]
async fn stage1_users_hashes_cost_as_much_as_the_dummy_hash() {
    let api = Api::new().await;
    api.register("frank").await;
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("frank exists");
    let params = |phc: &str| {
        let parsed = PasswordHash::new(phc).map_err(|e| e.to_string())?;
        let p = Params::try_from(&parsed).map_err(|e| e.to_string())?;
        Ok::<_, String>((
            parsed.algorithm.to_string(),
            p.m_cost(),
            p.t_cost(),
            p.p_cost(),
        ))
    };

    assert_eq!(
        params(&stored),
        params(&api.state.dummy_hash),
        "expected a user's hash {stored:?} to have the algorithm and parameters (algorithm, m, \
         t, p) of state.dummy_hash (Argon2id, the crate's defaults): with other ones, an \
         unknown email and a wrong password take different times"
    );
}

#[tokio::test]
async fn stage1_a_blank_or_missing_field_is_a_422_keyed_by_the_field() {
    let api = Api::new().await;

    api.post("/api/users", None, new_user("", "e@mail.test", "password"))
        .await
        .expect_exact_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "username",
            "can't be blank",
        );
    api.post("/api/users", None, new_user("erin", "e@mail.test", ""))
        .await
        .expect_exact_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password",
            "can't be blank",
        );
    api.post(
        "/api/users",
        None,
        json!({"user": {"username": "erin", "password": "password"}}),
    )
    .await
    .expect_exact_error(StatusCode::UNPROCESSABLE_ENTITY, "email", "can't be blank");
    // At least 8 characters, counted as characters: 4 `é` are 8 bytes but 4 characters.
    for short in ["short", "éééé"] {
        let mut reply = api
            .post("/api/users", None, new_user("erin", "e@mail.test", short))
            .await;
        reply.what = format!(
            "POST /api/users with the password {short:?} ({} characters, {} bytes; the minimum \
             is 8 characters)",
            short.chars().count(),
            short.len()
        );
        reply.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "password");
    }
    let all = api
        .post("/api/users", None, new_user(" ", "", ""))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["username", "email", "password"] {
        assert_eq!(
            all["errors"][field],
            json!(["can't be blank"]),
            "expected every blank field named at once, errors.{field} too, but got {all}"
        );
    }
    api.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "", "password": "password"}}),
    )
    .await
    .expect_exact_error(StatusCode::UNPROCESSABLE_ENTITY, "email", "can't be blank");
    let unwrapped = api
        .post(
            "/api/users/login",
            None,
            json!({"email": "e@mail.test", "password": "password"}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unwrapped["errors"]
            .as_object()
            .is_some_and(|e| !e.is_empty()),
        "expected a body without the `user` wrapper to be a 422 with errors, but got {unwrapped}"
    );

    let mut admin = api.db.admin().await;
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut admin)
        .await
        .expect("the users table can be read");
    assert_eq!(
        users, 0,
        "expected no user to be created by invalid registrations, but found {users}"
    );
}

#[tokio::test]
async fn stage1_a_taken_username_or_email_is_a_409_keyed_by_the_field() {
    let api = Api::new().await;
    api.register("frank").await;

    let username = api
        .post(
            "/api/users",
            None,
            new_user("frank", "other@mail.test", "password"),
        )
        .await
        .expect_error(StatusCode::CONFLICT, "username");
    let email = api
        .post(
            "/api/users",
            None,
            new_user("other", "frank@mail.test", "password"),
        )
        .await
        .expect_error(StatusCode::CONFLICT, "email");

    assert_eq!(
        (username.as_str(), email.as_str()),
        ("has already been taken", "has already been taken"),
        "expected errors.username and errors.email to say \"has already been taken\""
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut api.db.admin().await)
        .await
        .expect("the users table can be read");
    assert_eq!(users, 1, "expected no second user, but found {users} users");
}
