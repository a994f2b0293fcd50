//! Stage 5: comments on an article.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use crate::error::Invalid;
use crate::model::{ApiJson, Comment, CommentBody, MultipleComments, NewComment, Profile};
use crate::{ApiError, AppState, AuthUser, MaybeUser, ensure_author, iso};

type CommentRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    bool,
);

fn comment(
    (id, created_at, updated_at, body, username, bio, image, following): CommentRow,
) -> Comment {
    Comment {
        id,
        created_at,
        updated_at,
        body,
        author: Profile {
            username,
            bio,
            image,
            following,
        },
    }
}

/// The columns of a comment with its author as viewer $1 sees them (from `comments c` JOIN
/// `users u`).
macro_rules! comment_columns {
    () => {
        concat!(
            "c.id, ",
            iso!("c.created_at"),
            ", ",
            iso!("c.updated_at"),
            ", c.body, u.username, u.bio, u.image,
             EXISTS (SELECT 1 FROM follows fo WHERE fo.follower_id = $1 AND fo.followee_id = u.id)"
        )
    };
}

async fn article_id(state: &AppState, slug: &str) -> Result<i64, ApiError> {
    sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(ApiError::NotFound("article"))
}

/// `GET /api/articles/{slug}/comments`: oldest first, authors joined in (one statement).
pub async fn list_comments(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(slug): Path<String>,
) -> Result<Json<MultipleComments>, ApiError> {
    let id = article_id(&state, &slug).await?;
    let rows: Vec<CommentRow> = sqlx::query_as(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c JOIN users u ON u.id = c.author_id
          WHERE c.article_id = $2 ORDER BY c.created_at, c.id"
    ))
    .bind(viewer.id())
    .bind(id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(MultipleComments {
        comments: rows.into_iter().map(comment).collect(),
    }))
}

/// `POST /api/articles/{slug}/comments`: 201 with the comment; 422 for a blank body; 404 for
/// an unknown article.
pub async fn add_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<CommentBody<NewComment>>,
) -> Result<(StatusCode, Json<CommentBody<Comment>>), ApiError> {
    let mut invalid = Invalid::default();
    invalid.blank("body", &body.comment.body);
    invalid.check()?;
    let id = article_id(&state, &slug).await?;
    let row: CommentRow = sqlx::query_as(concat!(
        "WITH c AS (INSERT INTO comments (article_id, author_id, body) VALUES ($2, $1, $3)
                    RETURNING *)
         SELECT ",
        comment_columns!(),
        " FROM c JOIN users u ON u.id = c.author_id"
    ))
    .bind(user.id)
    .bind(id)
    .bind(&body.comment.body)
    .fetch_one(&state.pool)
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CommentBody {
            comment: comment(row),
        }),
    ))
}

/// `DELETE /api/articles/{slug}/comments/{id}`: the comment's author only (403 otherwise);
/// 404 `article` for an unknown article, 404 `comment` if the comment is not on it; 204.
pub async fn delete_comment(
    State(state): State<AppState>,
    user: AuthUser,
    Path((slug, comment_id)): Path<(String, i64)>,
) -> Result<StatusCode, ApiError> {
    let id = article_id(&state, &slug).await?;
    let author_id: i64 =
        sqlx::query_scalar("SELECT author_id FROM comments WHERE id = $1 AND article_id = $2")
            .bind(comment_id)
            .bind(id)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("comment"))?;
    ensure_author("comment", author_id, &user)?;
    sqlx::query("DELETE FROM comments WHERE id = $1")
        .bind(comment_id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
