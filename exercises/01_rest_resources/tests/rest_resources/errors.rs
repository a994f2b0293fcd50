//! The error answers: 404, 400, 405 with Allow, 422 or 415 for a bad body, 500 without details.

use super::*;

#[tokio::test]
async fn an_unknown_id_is_404_for_get_put_and_delete() {
    let (db, app) = setup().await;
    seed(&db, "Dune", "Frank Herbert", 1965).await;

    for id in ["424242", "-1", "9223372036854775807"] {
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(dune())),
            (Method::DELETE, None),
        ] {
            let reply = send(&app, method.clone(), &format!("/books/{id}"), body).await;

            let body = reply.text();
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "expected {method} /books/{id} (no such book) to answer 404, body: {body:?}"
            );
        }
    }
    assert_eq!(
        stored(&db).await.len(),
        1,
        "expected PUT on an unknown id to create nothing"
    );
}

#[tokio::test]
async fn a_malformed_id_is_400() {
    let app = setup_without_database();

    for id in ["abc", "9223372036854775808"] {
        for (method, body) in [
            (Method::GET, None),
            (Method::PUT, Some(dune())),
            (Method::DELETE, None),
        ] {
            let reply = send(&app, method.clone(), &format!("/books/{id}"), body).await;

            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "expected {method} /books/{id} (not an i64 id) to answer 400"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_an_allow_header() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "Frank Herbert", 1965).await;
    let item = format!("/books/{id}");
    let on_item: &[&str] = &["GET", "PUT", "DELETE"];
    let cases = [
        (Method::PATCH, item.as_str(), on_item, "POST"),
        (Method::POST, item.as_str(), on_item, "PATCH"),
        (Method::DELETE, "/books", &["GET", "POST"], "DELETE"),
    ];

    for (method, uri, allowed, refused) in cases {
        let reply = send(&app, method.clone(), uri, None).await;

        let allow = reply.header(header::ALLOW).to_owned();
        let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert_eq!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "expected {method} {uri} to answer 405 Method Not Allowed"
        );
        assert!(
            allowed.iter().all(|m| methods.contains(m)) && !methods.contains(&refused),
            "expected {method} {uri} to list {allowed:?} (and not {refused}) in Allow, but got {allow:?}"
        );
    }
    assert_eq!(
        stored(&db).await.len(),
        1,
        "expected a 405 to change nothing"
    );
}

#[tokio::test]
async fn an_incomplete_or_untyped_body_is_refused_and_changes_nothing() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "Frank Herbert", 1965).await;
    let before = stored(&db).await;
    let item = format!("/books/{id}");

    for (method, uri) in [(Method::POST, "/books"), (Method::PUT, item.as_str())] {
        let incomplete = send(&app, method.clone(), uri, Some(json!({"title": "Dune"}))).await;
        let request = Request::builder().method(method.clone()).uri(uri);
        let request = request.body(Body::from(dune().to_string()));
        let untyped = http::send(&app, request.expect("a valid request"))
            .await
            .status;

        assert_eq!(
            incomplete.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {method} {uri} with a book without author and year to be refused with 422"
        );
        assert_eq!(
            untyped,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected {method} {uri} with a body without `Content-Type: application/json` to be \
             refused with 415"
        );
    }
    assert_eq!(
        stored(&db).await,
        before,
        "expected nothing stored or changed"
    );
}

#[tokio::test]
async fn a_database_failure_is_500_without_its_details() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "Frank Herbert", 1965).await;
    sqlx::raw_sql("DROP TABLE books")
        .execute(&mut db.admin().await)
        .await
        .expect("the test drops the table");
    let item = format!("/books/{id}");

    for (method, uri, body) in [
        (Method::GET, "/books", None),
        (Method::POST, "/books", Some(dune())),
        (Method::GET, item.as_str(), None),
        (Method::PUT, item.as_str(), Some(dune())),
        (Method::DELETE, item.as_str(), None),
    ] {
        let reply = send(&app, method.clone(), uri, body).await;

        let body = reply.text().to_lowercase();
        let leaks: Vec<&str> = ["relation", "does not exist", "sqlx", "error returned"]
            .into_iter()
            .filter(|internal| body.contains(internal))
            .collect();
        assert!(
            reply.status == StatusCode::INTERNAL_SERVER_ERROR && leaks.is_empty(),
            "expected {method} {uri} on a dropped table to answer 500 without the database's \
             error text (it stays in the server's logs), but got {} with {body:?}",
            reply.status
        );
    }
}
