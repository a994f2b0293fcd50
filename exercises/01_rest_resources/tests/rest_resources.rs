//! Hidden tests for the REST resources kata: axum's real router (driven with `oneshot`, and
//! once over a real TCP socket) on a real Postgres database, one database per test.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use kata_testkit::TestDb;
use rest_resources::app;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const SCHEMA: &str = include_str!("../schema.sql");

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            let text = String::from_utf8_lossy(&self.body);
            panic!("expected a JSON body, but got {text:?} ({e})")
        })
    }

    fn header(&self, name: header::HeaderName) -> &str {
        let value = self.headers.get(&name).map(|v| v.to_str());
        value.map_or("(none)", |v| v.expect("an ASCII header value"))
    }
}

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
    let request = request.body(body).expect("a valid request");
    let response = app.clone().oneshot(request).await;
    let response = response.expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("a readable body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.to_vec(),
    }
}

async fn setup() -> (TestDb, Router) {
    let db = TestDb::new(SCHEMA).await;
    let app = app(db.pool().await);
    (db, app)
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
        String::from_utf8_lossy(&reply.body)
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
    let first = seed(&db, "Dune", "Frank Herbert", 1965).await;
    let second = seed(&db, "Solaris", "Stanisław Lem", 1961).await;

    let list = send(&app, Method::GET, "/books", None).await;
    let one = send(&app, Method::GET, &format!("/books/{second}"), None).await;

    assert_eq!(
        list.status,
        StatusCode::OK,
        "expected GET /books to answer 200"
    );
    let expected = json!([
        {"id": first, "title": "Dune", "author": "Frank Herbert", "year": 1965},
        {"id": second, "title": "Solaris", "author": "Stanisław Lem", "year": 1961},
    ]);
    assert_eq!(list.json(), expected, "expected every stored book, by id");
    assert_eq!(
        one.status,
        StatusCode::OK,
        "expected GET /books/{second} to answer 200"
    );
    assert_eq!(
        one.json(),
        expected[1],
        "expected GET /books/{second} to return that book"
    );
}

#[tokio::test]
async fn put_replaces_the_whole_book() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "F. Herbert", 1964).await;
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
    let want = vec![(id, "Dune Messiah".into(), "Frank Herbert".into(), 1969)];
    assert_eq!(rows, want, "expected the row replaced in Postgres");
}

#[tokio::test]
async fn deleting_a_book_answers_204_with_an_empty_body_and_it_is_gone() {
    let (db, app) = setup().await;
    let id = seed(&db, "Dune", "Frank Herbert", 1965).await;

    let reply = send(&app, Method::DELETE, &format!("/books/{id}"), None).await;

    let body = String::from_utf8_lossy(&reply.body);
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
    assert!(
        stored(&db).await.is_empty(),
        "expected the row deleted from Postgres"
    );
}

#[tokio::test]
async fn an_unknown_id_is_404_for_get_put_and_delete() {
    let (db, app) = setup().await;
    seed(&db, "Dune", "Frank Herbert", 1965).await;

    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(dune())),
        (Method::DELETE, None),
    ] {
        let reply = send(&app, method.clone(), "/books/424242", body).await;

        let body = String::from_utf8_lossy(&reply.body);
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "expected {method} /books/424242 (no such book) to answer 404, body: {body:?}"
        );
    }
    assert_eq!(
        stored(&db).await.len(),
        1,
        "expected PUT on an unknown id to create nothing"
    );
}

#[tokio::test]
async fn a_malformed_id_is_400() {
    let (_db, app) = setup().await;

    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(dune())),
        (Method::DELETE, None),
    ] {
        let reply = send(&app, method.clone(), "/books/abc", body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "expected {method} /books/abc (not an integer id) to answer 400"
        );
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
async fn an_incomplete_or_untyped_body_is_refused_and_stores_nothing() {
    let (db, app) = setup().await;

    let incomplete = send(&app, Method::POST, "/books", Some(json!({"title": "Dune"}))).await;
    let request = Request::post("/books").body(Body::from(dune().to_string()));
    let untyped = app.clone().oneshot(request.expect("a valid request")).await;
    let untyped = untyped.expect("the router is infallible").status();

    assert_eq!(
        incomplete.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "expected a book without author and year to be refused with 422"
    );
    assert_eq!(
        untyped,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "expected a body without `Content-Type: application/json` to be refused with 415"
    );
    assert!(stored(&db).await.is_empty(), "expected nothing stored");
}

#[tokio::test]
async fn two_app_instances_over_one_database_share_the_books() {
    let db = TestDb::new(SCHEMA).await;
    let (one, two) = (app(db.pool().await), app(db.pool().await));

    let created = send(&one, Method::POST, "/books", Some(dune()))
        .await
        .json();
    let uri = format!("/books/{}", created["id"]);
    let seen_by_two = send(&two, Method::GET, &uri, None).await;
    let renamed =
        json!({"title": "Dune (50th anniversary)", "author": "Frank Herbert", "year": 2015});
    send(&two, Method::PUT, &uri, Some(renamed.clone())).await;
    let seen_by_one = send(&one, Method::GET, &uri, None).await;
    send(&one, Method::DELETE, &uri, None).await;
    let gone_for_two = send(&two, Method::GET, &uri, None).await;

    assert!(
        seen_by_two.status == StatusCode::OK && seen_by_two.json() == created,
        "expected a second app instance to see the book the first one created ({created}), \
         but it answered {} with {:?}",
        seen_by_two.status,
        String::from_utf8_lossy(&seen_by_two.body)
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
}

/// One HTTP/1.1 exchange over TCP; returns the whole response (the server closes the connection).
async fn raw(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    let read = tokio::time::timeout(
        Duration::from_secs(30),
        stream.read_to_string(&mut response),
    );
    let read = read.await.expect("expected an answer within 30 s");
    read.expect("expected a readable response");
    response
}

#[tokio::test]
async fn the_api_works_over_a_real_socket() {
    let (_db, app) = setup().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("a local address");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

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
    server.abort();
}
