//! Hidden tests for the MVT kata: pages rendered through axum's real stack from a real
//! Postgres, checked as a browser would see them (status, content type, escaped HTML).
//!
//! Rule (README / stub) -> test:
//! - every page (article, list, empty list, 404) extends `base.html`, fills `title`, is
//!   `text/html; charset=utf-8` -> the page tests below, via `assert_html` / `assert_in_layout`
//! - article page: title block, `<h1>`, byline, body div
//!   -> `an_article_page_shows_its_title_author_and_body`
//! - list: one link per article (all of them, 53), `title="..."`, newest first, ties on
//!   `published_at` by id descending -> `the_list_shows_every_article_newest_first_with_links`
//! - empty list: `<p>No articles yet.</p>`, no `<ul>` -> `an_empty_list_says_so`
//! - 404 page for an unknown id, a non-number, an id past i64, any other path
//!   -> `an_unknown_article_is_a_rendered_404_page`
//! - markup in title, author, body escaped on the article page and in the list
//!   -> `a_script_in_the_data_is_escaped_and_stays_inert`; `"` cannot leave `title="..."`
//!   -> `a_quote_in_a_title_cannot_break_out_of_an_attribute`
//! - database failure: 500 naming no table, SQL or error text (the word "articles" alone is
//!   allowed: the layout links to /articles) -> `a_database_failure_is_a_500_that_leaks_nothing`
//! - real socket -> `the_site_answers_a_browser_over_a_real_socket`

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use kata_testkit::TestDb;
use mvt::{AppState, app, templates};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const SCHEMA: &str = include_str!("../schema.sql");

struct Page {
    status: StatusCode,
    content_type: String,
    body: String,
}

async fn site() -> (TestDb, AppState) {
    let db = TestDb::new(SCHEMA).await;
    let state = AppState {
        pool: db.pool().await,
        templates: Arc::new(templates()),
    };
    (db, state)
}

/// Inserts an article published `minutes_ago` (before a fixed instant, so that two articles
/// can tie) and returns its id.
async fn publish(db: &TestDb, title: &str, author: &str, body: &str, minutes_ago: i32) -> i64 {
    let mut admin = db.admin().await;
    sqlx::query_scalar(
        "INSERT INTO articles (title, author, body, published_at) \
         VALUES ($1, $2, $3, '2026-01-31T12:00:00Z'::timestamptz - make_interval(mins => $4)) \
         RETURNING id",
    )
    .bind(title)
    .bind(author)
    .bind(body)
    .bind(minutes_ago)
    .fetch_one(&mut admin)
    .await
    .expect("the test could not insert an article")
}

async fn get(state: &AppState, uri: &str) -> Page {
    let request = Request::get(uri).body(Body::empty()).unwrap();
    let response = app(state.clone())
        .oneshot(request)
        .await
        .expect("the router never fails");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not text)").to_string())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(bytes.to_vec()).expect("the page is UTF-8");
    Page {
        status,
        content_type,
        body,
    }
}

fn assert_html(page: &Page, what: &str) {
    assert_eq!(
        page.content_type, "text/html; charset=utf-8",
        "{what}: expected the content type of an HTML page, got {:?}",
        page.content_type
    );
}

fn assert_in_layout(page: &Page, what: &str, title: &str) {
    assert!(
        page.body
            .contains(r#"<header><a href="/articles">Kata News</a></header>"#),
        "{what}: expected the page to extend base.html (its header), got:\n{}",
        page.body
    );
    let expected = format!("<title>{title} · Kata News</title>");
    assert!(
        page.body.contains(&expected),
        "{what}: expected {expected:?} in the page (the title block of base.html), got:\n{}",
        page.body
    );
}

#[tokio::test]
async fn an_article_page_shows_its_title_author_and_body() {
    let (db, state) = site().await;
    let id = publish(&db, "Rust 2024 ships", "Ferris", "Edition day.", 5).await;

    let page = get(&state, &format!("/articles/{id}")).await;

    assert_eq!(
        page.status,
        StatusCode::OK,
        "GET /articles/{id}: {}",
        page.body
    );
    assert_html(&page, "an article page");
    assert_in_layout(&page, "an article page", "Rust 2024 ships");
    for expected in [
        "<h1>Rust 2024 ships</h1>",
        r#"<p class="byline">by Ferris</p>"#,
        r#"<div class="body">Edition day.</div>"#,
    ] {
        assert!(
            page.body.contains(expected),
            "expected {expected:?} in the article page, got:\n{}",
            page.body
        );
    }
}

#[tokio::test]
async fn a_script_in_the_data_is_escaped_and_stays_inert() {
    let (db, state) = site().await;
    let title = r#"<script>alert("pwned")</script>"#;
    let id = publish(
        &db,
        title,
        "<b>Mallory</b>",
        "<img src=x onerror=alert(1)>",
        1,
    )
    .await;

    let page = get(&state, &format!("/articles/{id}")).await;

    assert_eq!(
        page.status,
        StatusCode::OK,
        "GET /articles/{id}: {}",
        page.body
    );
    for raw in ["<script>", "<b>Mallory", "<img src=x"] {
        assert!(
            !page.body.contains(raw),
            "the data {raw:?} reached the page as markup (HTML injection): the template must \
             escape it (&lt;...&gt;). Page:\n{}",
            page.body
        );
    }
    assert!(
        page.body.contains("&lt;script&gt;"),
        "expected the title shown as text (&lt;script&gt;...), got:\n{}",
        page.body
    );

    let list = get(&state, "/articles").await;

    assert_eq!(list.status, StatusCode::OK, "GET /articles: {}", list.body);
    assert!(
        !list.body.contains("<script>") && list.body.contains("&lt;script&gt;"),
        "the title {title:?} must be escaped in the list too (&lt;script&gt;...), got:\n{}",
        list.body
    );
}

#[tokio::test]
async fn a_quote_in_a_title_cannot_break_out_of_an_attribute() {
    let (db, state) = site().await;
    publish(&db, r#"" onmouseover="alert(1)"#, "Mallory", "x", 1).await;

    let page = get(&state, "/articles").await;

    assert_eq!(page.status, StatusCode::OK, "GET /articles: {}", page.body);
    assert!(
        !page.body.contains(r#"" onmouseover=""#),
        "a double quote in the data closed the title=\"...\" attribute of the list's link, \
         adding an event handler: it must be escaped as &quot;. Page:\n{}",
        page.body
    );
}

#[tokio::test]
async fn the_list_shows_every_article_newest_first_with_links() {
    let (db, state) = site().await;
    // Inserted out of order: the page must sort, not trust the table's order. Fifty older
    // articles too: the list has every article, not a first page.
    sqlx::query(
        "INSERT INTO articles (title, author, body, published_at) \
         SELECT 'Filler ' || n, 'A', 'b', '2025-01-01T00:00:00Z'::timestamptz - make_interval(mins => n) \
         FROM generate_series(1, 50) AS n",
    )
    .execute(&mut db.admin().await)
    .await
    .expect("the test could not insert the older articles");
    let middle = publish(&db, "Middle", "A", "b", 20).await;
    let newest = publish(&db, "Newest", "A", "b", 10).await;
    let oldest = publish(&db, "Oldest", "A", "b", 30).await;

    let page = get(&state, "/articles").await;

    assert_eq!(page.status, StatusCode::OK, "GET /articles: {}", page.body);
    assert_html(&page, "the list page");
    assert_in_layout(&page, "the list page", "Articles");
    let links: Vec<String> = [(newest, "Newest"), (middle, "Middle"), (oldest, "Oldest")]
        .iter()
        .map(|(id, t)| format!(r#"<a href="/articles/{id}" title="{t}">{t}</a>"#))
        .collect();
    let positions: Vec<Option<usize>> = links.iter().map(|l| page.body.find(l)).collect();
    assert!(
        positions.iter().all(Option::is_some),
        "expected a link per article, like {:?}; got:\n{}",
        links[0],
        page.body
    );
    assert!(
        positions.is_sorted(),
        "expected the articles newest first (Newest, Middle, Oldest), got:\n{}",
        page.body
    );
    let count = page.body.matches(r#"<a href="/articles/"#).count();
    assert_eq!(
        count, 53,
        "expected a link for each of the 53 articles (no page limit), got {count}"
    );
}

#[tokio::test]
async fn articles_published_at_the_same_instant_are_ordered_by_id_descending() {
    let (db, state) = site().await;
    let first = publish(&db, "Tie one", "A", "b", 10).await;
    let second = publish(&db, "Tie two", "A", "b", 10).await;
    let older = publish(&db, "Older", "A", "b", 20).await;
    let third = publish(&db, "Tie three", "A", "b", 10).await;

    let page = get(&state, "/articles").await;

    assert_eq!(page.status, StatusCode::OK, "GET /articles: {}", page.body);
    let order = [third, second, first, older];
    let positions: Vec<Option<usize>> = order
        .iter()
        .map(|id| page.body.find(&format!(r#"href="/articles/{id}""#)))
        .collect();
    assert!(
        positions.iter().all(Option::is_some) && positions.is_sorted(),
        "expected three articles with the same published_at newest id first (Tie three, Tie \
         two, Tie one), then Older; got:\n{}",
        page.body
    );
}

#[tokio::test]
async fn an_empty_list_says_so() {
    let (_db, state) = site().await;

    let page = get(&state, "/articles").await;

    assert_eq!(page.status, StatusCode::OK, "GET /articles: {}", page.body);
    assert_html(&page, "the empty list page");
    assert_in_layout(&page, "the empty list page", "Articles");
    assert!(
        page.body.contains("<p>No articles yet.</p>") && !page.body.contains("<ul>"),
        "expected <p>No articles yet.</p> and no empty <ul> when there are no articles, got:\n{}",
        page.body
    );
}

#[tokio::test]
async fn an_unknown_article_is_a_rendered_404_page() {
    let (db, state) = site().await;
    let id = publish(&db, "Exists", "A", "b", 1).await;

    for uri in [
        format!("/articles/{}", id + 1000),
        "/articles/not-a-number".to_string(),
        "/articles/99999999999999999999".to_string(),
        "/no/such/page".to_string(),
    ] {
        let page = get(&state, &uri).await;

        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "GET {uri}: {}",
            page.body
        );
        assert_html(&page, &format!("the 404 page at {uri}"));
        assert_in_layout(&page, &format!("the 404 page at {uri}"), "Not found");
        assert!(
            page.body.contains("<h1>Not found</h1>"),
            "GET {uri}: expected the rendered not_found.html (<h1>Not found</h1>), got:\n{}",
            page.body
        );
    }
}

#[tokio::test]
async fn a_database_failure_is_a_500_that_leaks_nothing() {
    let (db, state) = site().await;
    let mut admin = db.admin().await;
    sqlx::query("DROP TABLE articles")
        .execute(&mut admin)
        .await
        .expect("the test could not drop the table");
    admin.close().await.ok();

    for uri in ["/articles", "/articles/1"] {
        let page = get(&state, uri).await;

        assert_eq!(
            page.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "GET {uri} with the table gone: expected 500, got {}: {}",
            page.status,
            page.body
        );
        // Not the bare word "articles": a 500 page in the layout links to /articles.
        let secrets = [
            r#""articles""#,
            "relation",
            "does not exist",
            "SELECT",
            "FROM articles",
            "error returned",
            "42P01",
            "sqlx",
        ];
        for secret in secrets {
            assert!(
                !page.body.contains(secret),
                "GET {uri}: the 500 page leaks internals ({secret:?}): {}",
                page.body
            );
        }
    }
}

#[tokio::test]
async fn the_site_answers_a_browser_over_a_real_socket() {
    let (db, state) = site().await;
    let id = publish(&db, "Over TCP", "Ferris", "Hello", 1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app(state)).into_future());

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("GET /articles/{id} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("the server closes the connection after the response");
    server.abort();

    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "expected 200 OK over the socket, got:\n{response}"
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: text/html; charset=utf-8\r\n"),
        "expected an HTML content type over the socket, got:\n{response}"
    );
    assert!(
        response.contains("<h1>Over TCP</h1>"),
        "expected the article in the body, got:\n{response}"
    );
}
