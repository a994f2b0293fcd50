//! Hidden tests for the REST resources kata: axum's real router (driven with `oneshot`, and
//! once over a real TCP socket) on a real Postgres database, one database per test.
//!
//! Rule (README, stub docs) -> the test that fails when that rule alone is broken:
//! - `GET /books`: 200, every book (`[]` when none, hundreds of rows, ids past i32), by id
//!   (rows stored out of id order, titles and years in another order) ->
//!   books_are_read_back_one_by_one_and_listed_in_id_order
//! - `POST`: 201, `Location: /books/{id}`, the book as JSON -> creating_a_book_answers_201_with_its_location_and_representation
//! - `POST` stores the row -> a_created_book_is_stored_in_postgres
//! - `GET /books/{id}`: 200 and that book -> books_are_read_back_one_by_one_and_listed_in_id_order
//! - `PUT`: every column of that row only, 200 and the new book -> put_replaces_the_whole_book_and_only_that_one
//! - `DELETE`: 204, empty body, then 404, other books kept -> deleting_a_book_answers_204_with_an_empty_body_and_it_is_gone
//! - unknown id (`-1`, `i64::MAX`) 404 for GET, PUT, DELETE; PUT creates nothing -> errors::an_unknown_id_is_404_for_get_put_and_delete
//! - malformed id (`abc`, past i64) 400 -> errors::a_malformed_id_is_400
//! - 405 + `Allow` per path -> errors::a_wrong_method_is_405_with_an_allow_header
//! - missing fields 422, no JSON content type 415, for POST and PUT, nothing changed ->
//!   errors::an_incomplete_or_untyped_body_is_refused_and_changes_nothing
//! - no state in the process (lists, reads after the other's writes) -> two_app_instances_over_one_database_share_the_books
//! - a database failure is 500 without its details (stub: `ApiError::Database`) -> errors::a_database_failure_is_500_without_its_details
//! - over a real socket -> the_api_works_over_a_real_socket

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kata_testkit::TestDb;
use kata_testkit::http::{self, Reply};
use rest_resources::app;
use serde_json::{Value, json};

#[path = "rest_resources/errors.rs"]
mod errors;

const SCHEMA: &str = include_str!("../schema.sql");

/// Sends `method uri` (with `body` as JSON, if any) through the router.
async fn send(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(json) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    http::send(app, request.body(body).expect("a valid request")).await
}

async fn setup() -> (TestDb, Router) {
    let db = TestDb::new(SCHEMA).await;
    let app = app(db.pool().await);
    (db, app)
}

/// The app for requests that must be answered before any query: its pool never connects (a
/// query would fail, and the answer be a 500).
fn setup_without_database() -> Router {
    app(kata_testkit::postgres::unreachable_pool())
}

/// Inserts a book behind the API's back and returns its id.
async fn seed(db: &TestDb, title: &str, author: &str, year: i32) -> i64 {
    sqlx::query_scalar("INSERT INTO books (title, author, year) VALUES ($1, $2, $3) RETURNING id")
        .bind(title)
        .bind(author)
        .bind(year)
        .fetch_one(&mut db.admin().await)
        .await
        .expect("seeding a book")
}

async fn stored(db: &TestDb) -> Vec<(i64, String, String, i32)> {
    sqlx::query_as("SELECT id, title, author, year FROM books ORDER BY id")
        .fetch_all(&mut db.admin().await)
        .await
        .expect("reading the books table")
}

fn dune() -> Value {
    json!({"title": "Dune", "author": "Frank Herbert", "year": 1965})
}

#[tokio::test]
async fn creating_a_book_answers_201_with_its_location_and_representation() {
    let (_db, app) = setup().await;

    let reply = send(&app, Method::POST, "/books", Some(dune())).await;

    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "expected POST /books to answer 201 Created, body: {:?}",
        reply.text()
    );
    let book = reply.json();
    let id = book["id"].as_i64();
    assert!(
        id.is_some(),
        "expected the created book with an integer id, but got {book}"
    );
    let expected = format!("/books/{}", id.unwrap_or_default());
    assert_eq!(
        reply.header(header::LOCATION),
        expected,
        "expected a Location header naming the new resource"
    );
    let mut expected_body = dune();
    expected_body["id"] = json!(id);
    assert_eq!(book, expected_body, "expected the created book as the body");
    assert!(
        reply
            .header(header::CONTENT_TYPE)
            .starts_with("application/json"),
        "expected Content-Type application/json, but got {:?}",
        reply.header(header::CONTENT_TYPE)
    );
}

#[tokio::test]
async fn a_created_book_is_stored_in_postgres() {
    let (db, app) = setup().await;

    let reply = send(&app, Method::POST, "/books", Some(dune())).await;

    let id = reply.json()["id"].as_i64().unwrap_or(-1);
    let rows = stored(&db).await;
    let expected = vec![(id, "Dune".into(), "Frank Herbert".into(), 1965)];
    assert_eq!(
        rows, expected,
        "expected the created book (id {id}) as a row of the books table"
    );
}

#[tokio::test]
async fn books_are_read_back_one_by_one_and_listed_in_id_order() {
    let (db, app) = setup().await;
    let empty = send(&app, Method::GET, "/books", None).await;
    assert!(
        empty.status == StatusCode::OK && empty.json() == json!([]),
        "expected GET /books on an empty table to answer 200 with [], but got {} with {:?}",
        empty.status,
        empty.text()
    );
    // 300 books with ids past i32, stored out of id order, titles and years in other orders.
    sqlx::raw_sql(
        "INSERT INTO books (id, title, author, year) \
         SELECT 3000000000 + i, 'Title ' || (1000 - i), 'Author ' || i, 1900 + (i * 37) % 100 \
         FROM generate_series(1, 300) AS i ORDER BY (i * 7919) % 301",
    )
    .execute(&mut db.admin().await)
    .await
    .expect("seeding the books");
    let rows = stored(&db).await;
    let expected: Vec<Value> = (rows.iter())
        .map(|(id, title, author, year)| json!({"id": id, "title": title, "author": author, "year": year}))
        .collect();

    let list = send(&app, Method::GET, "/books", None).await;
    let middle = &expected[150];
    let uri = format!("/books/{}", middle["id"]);
    let one = send(&app, Method::GET, &uri, None).await;

    assert_eq!(
        list.status,
        StatusCode::OK,
        "expected GET /books to answer 200"
    );
    let listed = list.json();
    let ids: Vec<&Value> = (listed.as_array().into_iter().flatten())
        .map(|book| &book["id"])
        .collect();
    assert!(
        listed == Value::Array(expected.clone()),
        "expected all {} stored books ordered by id (ids from 3000000001), but got {} books with \
         the ids {:?}...",
        expected.len(),
        ids.len(),
        &ids[..ids.len().min(5)]
    );
    assert_eq!(
        one.status,
        StatusCode::OK,
        "expected GET {uri} to answer 200"
    );
    assert_eq!(
        &one.json(),
        middle,
        "expected GET {uri} to return that book"
    );
}

#[tokio::test]
async fn put_replaces_the_whole_book_and_only_that_one() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "F. Herbert", 1964).await;
    let other = seed(&db, "Solaris", "Stanisław Lem", 1961).await;
    let replacement = json!({"title": "Dune Messiah", "author": "Frank Herbert", "year": 1969});

    let reply = send(
        &app,
        Method::PUT,
        &format!("/books/{id}"),
        Some(replacement),
    )
    .await;

    assert_eq!(
        reply.status,
        StatusCode::OK,
        "expected PUT on an existing book to answer 200"
    );
    let expected =
        json!({"id": id, "title": "Dune Messiah", "author": "Frank Herbert", "year": 1969});
    assert_eq!(
        reply.json(),
        expected,
        "expected the replaced book as the body"
    );
    let rows = stored(&db).await;
    let want = vec![
        (id, "Dune Messiah".into(), "Frank Herbert".into(), 1969),
        (other, "Solaris".into(), "Stanisław Lem".into(), 1961),
    ];
    assert_eq!(
        rows, want,
        "expected that row replaced in Postgres, and the other book unchanged"
    );
}

#[tokio::test]
async fn deleting_a_book_answers_204_with_an_empty_body_and_it_is_gone() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "Frank Herbert", 1965).await;
    let other = seed(&db, "Solaris", "Stanisław Lem", 1961).await;

    let reply = send(&app, Method::DELETE, &format!("/books/{id}"), None).await;

    let body = reply.text();
    assert!(
        reply.status == StatusCode::NO_CONTENT && reply.body.is_empty(),
        "expected DELETE to answer 204 No Content with an empty body, but got {} with {body:?}",
        reply.status
    );
    let again = send(&app, Method::GET, &format!("/books/{id}"), None).await;
    assert_eq!(
        again.status,
        StatusCode::NOT_FOUND,
        "expected GET after DELETE to be 404"
    );
    let ids: Vec<i64> = stored(&db).await.iter().map(|row| row.0).collect();
    assert_eq!(
        ids,
        [other],
        "expected that row deleted from Postgres, and the other book kept"
    );
}

#[tokio::test]
async fn two_app_instances_over_one_database_share_the_books() {
    let db = TestDb::new(SCHEMA).await;
    let (one, two) = (app(db.pool().await), app(db.pool().await));

    let listed_by_two_before = send(&two, Method::GET, "/books", None).await.json();
    let created = send(&one, Method::POST, "/books", Some(dune()))
        .await
        .json();
    let uri = format!("/books/{}", created["id"]);
    let listed_by_two = send(&two, Method::GET, "/books", None).await.json();
    let seen_by_two = send(&two, Method::GET, &uri, None).await;
    let read_by_one_before = send(&one, Method::GET, &uri, None).await;
    let renamed =
        json!({"title": "Dune (50th anniversary)", "author": "Frank Herbert", "year": 2015});
    send(&two, Method::PUT, &uri, Some(renamed.clone())).await;
    let seen_by_one = send(&one, Method::GET, &uri, None).await;
    send(&one, Method::DELETE, &uri, None).await;
    let gone_for_two = send(&two, Method::GET, &uri, None).await;
    let listed_by_two_after = send(&two, Method::GET, "/books", None).await.json();

    assert!(
        listed_by_two_before == json!([]) && listed_by_two == json!([created]),
        "expected instance two's GET /books to list the book instance one created, but it \
         listed {listed_by_two} (before the creation: {listed_by_two_before})"
    );
    assert_eq!(
        read_by_one_before.status,
        StatusCode::OK,
        "expected instance one to read its own book"
    );

    assert!(
        seen_by_two.status == StatusCode::OK && seen_by_two.json() == created,
        "expected a second app instance to see the book the first one created ({created}), \
         but it answered {} with {:?}",
        seen_by_two.status,
        seen_by_two.text()
    );
    let title = seen_by_one.json()["title"].clone();
    assert_eq!(
        title, renamed["title"],
        "expected instance one to see instance two's PUT"
    );
    assert_eq!(
        gone_for_two.status,
        StatusCode::NOT_FOUND,
        "expected instance two to see instance one's DELETE"
    );
    assert_eq!(
        listed_by_two_after,
        json!([]),
        "expected instance two's GET /books to see instance one's DELETE"
    );
}

/// One HTTP/1.1 exchange over TCP; returns the whole response (the server closes the connection).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let head = format!("{method} {path} HTTP/1.1\r\nContent-Type: application/json");
    http::raw(addr, &head, body).await
}

#[tokio::test]
async fn the_api_works_over_a_real_socket() {
    let (_db, app) = setup().await;
    let server = http::serve(app).await;
    let addr = server.addr;

    let created = raw(addr, "POST", "/books", &dune().to_string()).await;
    let location = created.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    let location = location.unwrap_or_else(|| panic!("expected a Location header in {created:?}"));
    let fetched = raw(addr, "GET", &location, "").await;

    assert!(
        created.starts_with("HTTP/1.1 201"),
        "expected `HTTP/1.1 201 Created`, but got {created:?}"
    );
    let body = fetched.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    let book: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    assert!(
        fetched.starts_with("HTTP/1.1 200") && book["title"] == "Dune",
        "expected GET {location} to answer 200 with the book, but got {fetched:?}"
    );
}
