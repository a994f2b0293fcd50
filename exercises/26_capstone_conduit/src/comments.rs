//! Stage 5: comments on an article.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::model::{ApiJson, Comment, CommentBody, MultipleComments, NewComment};
use crate::{ApiError, AppState, AuthUser, MaybeUser};

/// `GET /api/articles/{slug}/comments`: oldest first, authors joined in (one statement).
pub async fn list_comments(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(slug): Path<String>,
) -> Result<Json<MultipleComments>, ApiError> {
    // TODO(stage 6): one statement, authors joined in; oldest first.
    todo!("list comments")
}

/// `POST /api/articles/{slug}/comments`: 201 with the comment; 422 for a blank body; 404 for
/// an unknown article.
pub async fn add_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CommentBody<NewComment>>,
) -> Result<(StatusCode, Json<CommentBody<Comment>>), ApiError> {
    // TODO(stage 6): 422 for a blank body, 404 for an unknown article; 201.
    todo!("add a comment")
}

/// `DELETE /api/articles/{slug}/comments/{id}`: the comment's author only (403 otherwise);
/// 404 if the comment is not on this article; 204.
pub async fn delete_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path((slug, comment_id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    // TODO(stage 6): 404 `article`, then 404 `comment` unless the comment is on this
    // article; `ensure_author("comment", ..)`; 204.
    todo!("delete a comment")
}
