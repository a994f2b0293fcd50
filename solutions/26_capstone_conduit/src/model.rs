//! The JSON bodies of the RealWorld API, as the spec names them (camelCase on the wire).

use axum::extract::FromRequest;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// `axum::Json`, but a malformed or incomplete body is a 422 in the RealWorld error shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `{"user": {...}}` around a request or response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserBody<T> {
    pub user: T,
}

/// `{"article": {...}}` around a request or response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct ArticleBody<T> {
    pub article: T,
}

/// `{"comment": {...}}` around a request or response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct CommentBody<T> {
    pub comment: T,
}

/// `{"profile": {...}}`.
#[derive(Debug, Serialize)]
pub struct ProfileBody {
    pub profile: Profile,
}

/// `POST /api/users`.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// `POST /api/users/login`.
#[derive(Debug, Deserialize)]
pub struct LoginUser {
    pub email: String,
    pub password: String,
}

/// `PUT /api/user`: every field is optional; absent fields keep their value.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateUser {
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub bio: Option<String>,
    pub image: Option<String>,
}

/// The authenticated user, with the token to use on the next requests.
#[derive(Debug, Serialize)]
pub struct User {
    pub email: String,
    pub token: String,
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
}

/// A user as others see them; `following` is about the viewer (false when anonymous).
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
    pub following: bool,
}

/// `POST /api/articles`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewArticle {
    pub title: String,
    pub description: String,
    pub body: String,
    #[serde(default)]
    pub tag_list: Vec<String>,
}

/// `PUT /api/articles/{slug}`: absent fields keep their value; a new title gives a new slug.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateArticle {
    pub title: Option<String>,
    pub description: Option<String>,
    pub body: Option<String>,
}

/// An article as the API returns it. Times are ISO 8601 in UTC with milliseconds
/// (`2024-05-01T12:00:00.000Z`); `tagList` is sorted alphabetically.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub description: String,
    pub body: String,
    pub tag_list: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub favorited: bool,
    pub favorites_count: i64,
    pub author: Profile,
}

/// `GET /api/articles` and `GET /api/articles/feed`: one page, and how many match in all.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MultipleArticles {
    pub articles: Vec<Article>,
    pub articles_count: i64,
}

/// The query string of `GET /api/articles` (and `limit`/`offset` of the feed).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    pub tag: Option<String>,
    pub author: Option<String>,
    pub favorited: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// `POST /api/articles/{slug}/comments`.
#[derive(Debug, Deserialize)]
pub struct NewComment {
    pub body: String,
}

/// A comment as the API returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    pub id: i64,
    pub created_at: String,
    pub updated_at: String,
    pub body: String,
    pub author: Profile,
}

/// `{"comments": [...]}`.
#[derive(Debug, Serialize)]
pub struct MultipleComments {
    pub comments: Vec<Comment>,
}

/// `{"tags": [...]}`.
#[derive(Debug, Serialize)]
pub struct Tags {
    pub tags: Vec<String>,
}
