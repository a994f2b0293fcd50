//! The JSON bodies of the RealWorld API, as the spec names them (camelCase on the wire).

use axum::extract::FromRequest;
use serde::{Deserialize, Deserializer, Serialize};

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

/// For the fields of an update: `None` when the field is absent (keep the value),
/// `Some(None)` when it is `null`, `Some(Some(v))` when it is given. Use it as
/// `#[serde(default, deserialize_with = "present")]` on an `Option<Option<T>>`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /api/users`. A missing field reads as empty, so that it is reported as blank.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
}

/// `POST /api/users/login`. A missing field reads as empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginUser {
    pub email: String,
    pub password: String,
}

/// `PUT /api/user`: absent fields keep their value (`None`); `null` is `Some(None)`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "present")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub password: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub image: Option<Option<String>>,
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

/// `POST /api/articles`. A missing field reads as empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewArticle {
    pub title: String,
    pub description: String,
    pub body: String,
    pub tag_list: Vec<String>,
}

/// `PUT /api/articles/{slug}`: absent fields keep their value (`None`), `null` is
/// `Some(None)`; a new title gives a new slug; a `tagList` replaces the tags.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateArticle {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub tag_list: Option<Option<Vec<String>>>,
}

/// An article as the API returns it. Times are ISO 8601 in UTC with milliseconds
/// (`2024-05-01T12:00:00.000Z`); `tagList` keeps the author's order. `body` is there for a
/// single article and left out of lists (`None` is not serialized).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Article {
    pub slug: String,
    pub title: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
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

/// `POST /api/articles/{slug}/comments`. A missing body reads as empty.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
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
