//! # REST resources: a `/books` collection over Postgres
//!
//! Read `README.md` first. The table is in `schema.sql`.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

/// A book as the API represents it: the JSON of `GET /books/{id}`, one row of `books`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Book {
    pub id: i64,
    pub title: String,
    pub author: String,
    pub year: i32,
}

/// The body of `POST /books` and `PUT /books/{id}`: a book without its id (the server
/// assigns ids; the URL names the resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookInput {
    pub title: String,
    pub author: String,
    pub year: i32,
}

/// Why a request on a book failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No book has the id in the URL: 404.
    #[error("no book has this id")]
    NotFound,
    /// The database failed: 500 (the details stay in the server's logs).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A missing resource is the client's business (404); a failing database is ours (500).
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND.into_response(),
            ApiError::Database(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// The books API, storing everything in Postgres through `pool`:
///
/// - `GET /books`: 200, a JSON array of every book, by id.
/// - `POST /books`: 201 with `Location: /books/{id}` and the created book.
/// - `GET /books/{id}`: 200 and the book; `PUT /books/{id}`: 200 and the replaced book;
///   `DELETE /books/{id}`: 204 with an empty body. An unknown id is 404.
/// - Any other method on these paths: 405 with an `Allow` header.
pub fn app(pool: PgPool) -> Router {
    // One `route` per path with every method it supports: axum's `MethodRouter` then answers
    // other methods with 405 and an `Allow` header, and `Path<i64>` refuses `/books/abc` with
    // 400. The only state is the pool: every instance serves the same data.
    Router::new()
        .route("/books", get(books_list).post(books_create))
        .route(
            "/books/{id}",
            get(books_get).put(books_replace).delete(books_delete),
        )
        .with_state(pool)
}

/// `GET /books`: every book, ordered by id.
pub async fn books_list(State(pool): State<PgPool>) -> Result<Json<Vec<Book>>, ApiError> {
    let books = sqlx::query_as("SELECT id, title, author, year FROM books ORDER BY id")
        .fetch_all(&pool)
        .await?;
    Ok(Json(books))
}

/// `POST /books`: stores a new book; 201 Created, `Location: /books/{id}`, the book as body.
pub async fn books_create(
    State(pool): State<PgPool>,
    Json(input): Json<BookInput>,
) -> Result<Response, ApiError> {
    let book: Book = sqlx::query_as(
        "INSERT INTO books (title, author, year) VALUES ($1, $2, $3) \
         RETURNING id, title, author, year",
    )
    .bind(&input.title)
    .bind(&input.author)
    .bind(input.year)
    .fetch_one(&pool)
    .await?;
    // 201 says "a new resource exists", Location says where: clients follow it, not guess it.
    let location = format!("/books/{}", book.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(book),
    )
        .into_response())
}

/// `GET /books/{id}`: the book, or 404.
pub async fn books_get(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Json<Book>, ApiError> {
    let book = sqlx::query_as("SELECT id, title, author, year FROM books WHERE id = $1")
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    // `fetch_optional` turns "no row" into `None`, which is a 404, not a 500 or a 200 null.
    book.map(Json).ok_or(ApiError::NotFound)
}

/// `PUT /books/{id}`: replaces every field of the book; 200 with the new representation, or
/// 404 when there is no such book (ids are assigned by the server: PUT does not create).
pub async fn books_replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    Json(input): Json<BookInput>,
) -> Result<Json<Book>, ApiError> {
    let book = sqlx::query_as(
        "UPDATE books SET title = $2, author = $3, year = $4 WHERE id = $1 \
         RETURNING id, title, author, year",
    )
    .bind(id)
    .bind(&input.title)
    .bind(&input.author)
    .bind(input.year)
    .fetch_optional(&pool)
    .await?;
    book.map(Json).ok_or(ApiError::NotFound)
}

/// `DELETE /books/{id}`: 204 No Content (an empty body), or 404 when there is no such book.
pub async fn books_delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let deleted = sqlx::query("DELETE FROM books WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    // 204 means "done, nothing to show": a 204 response never has a body.
    Ok(StatusCode::NO_CONTENT.into_response())
}
