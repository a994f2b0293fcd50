//! # REST resources: a `/books` collection over Postgres
//!
//! Read `README.md` first. The table is in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
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
        // TODO: NotFound is 404, Database is 500.
        todo!("map the error to a status code")
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
    // TODO: route `/books` and `/books/{id}` (axum 0.8 writes path parameters as `{id}`) to
    // the handlers below, with the pool as the router's state.
    todo!("build the router")
}

/// `GET /books`: every book, ordered by id.
pub async fn books_list(State(pool): State<PgPool>) -> Result<Json<Vec<Book>>, ApiError> {
    // TODO: select every book, ordered by id.
    todo!("list the books")
}

/// `POST /books`: stores a new book; 201 Created, `Location: /books/{id}`, the book as body.
pub async fn books_create(
    State(pool): State<PgPool>,
    Json(input): Json<BookInput>,
) -> Result<Response, ApiError> {
    // TODO: insert the book (`RETURNING` gives you its id), then answer 201 with a
    // `Location` header and the book as JSON.
    todo!("create a book")
}

/// `GET /books/{id}`: the book, or 404.
pub async fn books_get(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Json<Book>, ApiError> {
    // TODO: select the book; no row is ApiError::NotFound.
    todo!("read one book")
}

/// `PUT /books/{id}`: replaces every field of the book; 200 with the new representation, or
/// 404 when there is no such book (ids are assigned by the server: PUT does not create).
pub async fn books_replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    Json(input): Json<BookInput>,
) -> Result<Json<Book>, ApiError> {
    // TODO: update every column of the row; no row is ApiError::NotFound.
    todo!("replace a book")
}

/// `DELETE /books/{id}`: 204 No Content (an empty body), or 404 when there is no such book.
pub async fn books_delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    // TODO: delete the row; nothing deleted is ApiError::NotFound.
    todo!("delete a book")
}
