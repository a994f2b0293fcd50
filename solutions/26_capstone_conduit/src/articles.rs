//! Stage 4 and 5: articles (slugs, create, update, delete, list, feed), favorites and tags.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use sqlx::PgPool;

use crate::error::Invalid;
use crate::model::{
    ApiJson, Article, ArticleBody, ListQuery, MultipleArticles, NewArticle, Tags, UpdateArticle,
};
use crate::{ApiError, AppState, ArticleFilter, AuthUser, MaybeUser, ensure_author, list};

/// `"How to train your dragon"` -> `"how-to-train-your-dragon"`: lowercase ASCII letters and
/// digits, every other run of characters a single `-`, none at either end.
pub fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "article".to_owned()
    } else {
        slug.to_owned()
    }
}

/// The article `slug` as `viewer` sees it, or 404.
async fn one(pool: &PgPool, viewer: Option<i64>, slug: &str) -> Result<Article, ApiError> {
    let filter = ArticleFilter {
        slug: Some(slug.to_owned()),
        limit: 1,
        ..ArticleFilter::default()
    };
    crate::load_articles(pool, viewer, &filter)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("article"))
}

/// `(id, author_id)` of the article `slug`, or 404.
async fn find(pool: &PgPool, slug: &str) -> Result<(i64, i64), ApiError> {
    sqlx::query_as("SELECT id, author_id FROM articles WHERE slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await?
        .ok_or(ApiError::NotFound("article"))
}

/// The tags as stored: trimmed, blank ones dropped, each once, in the order given.
fn clean_tags(tags: &[String]) -> Vec<&str> {
    let mut clean: Vec<&str> = Vec::new();
    for tag in tags.iter().map(|t| t.trim()) {
        if !tag.is_empty() && !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    clean
}

/// Stores `tags` for the article `id`, each with its position (0 for the first).
async fn insert_tags(
    tx: &mut sqlx::PgConnection,
    id: i64,
    tags: &[String],
) -> Result<(), ApiError> {
    sqlx::query(
        "INSERT INTO article_tags (article_id, tag, position)
         SELECT $1, t.tag, t.n - 1 FROM unnest($2::text[]) WITH ORDINALITY AS t(tag, n)",
    )
    .bind(id)
    .bind(clean_tags(tags))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// `GET /api/articles?tag=&author=&favorited=&limit=&offset=`: newest first.
pub async fn list_articles(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<MultipleArticles>, ApiError> {
    let filter = ArticleFilter::from_query(query);
    Ok(Json(list(&state.pool, viewer.id(), &filter).await?))
}

/// `GET /api/articles/feed?limit=&offset=`: articles by the authors the user follows.
pub async fn feed(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<MultipleArticles>, ApiError> {
    let filter = ArticleFilter {
        feed: true,
        ..ArticleFilter::from_query(ListQuery {
            limit: query.limit,
            offset: query.offset,
            ..ListQuery::default()
        })
    };
    Ok(Json(list(&state.pool, Some(user.id), &filter).await?))
}

/// `GET /api/articles/{slug}`.
pub async fn get_article(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    let article = one(&state.pool, viewer.id(), &slug).await?;
    Ok(Json(ArticleBody { article }))
}

/// Inserts the article under `slugify(title)`, or `slugify(title)-<random>` when that slug is
/// taken, and returns its slug.
async fn insert_with_slug(
    tx: &mut sqlx::PgConnection,
    author_id: i64,
    new: &NewArticle,
) -> Result<(i64, String), ApiError> {
    let base = slugify(&new.title);
    let mut slug = base.clone();
    loop {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO articles (slug, title, description, body, author_id)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (slug) DO NOTHING RETURNING id",
        )
        .bind(&slug)
        .bind(&new.title)
        .bind(&new.description)
        .bind(&new.body)
        .bind(author_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = id {
            return Ok((id, slug));
        }
        slug = format!("{base}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    }
}

/// `POST /api/articles`: 201 with the article; 422 naming every blank title, description or
/// body.
pub async fn create_article(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ArticleBody<NewArticle>>,
) -> Result<(StatusCode, Json<ArticleBody<Article>>), ApiError> {
    let new = body.article;
    let mut invalid = Invalid::default();
    invalid.blank("title", &new.title);
    invalid.blank("description", &new.description);
    invalid.blank("body", &new.body);
    invalid.check()?;
    // The article and its tags together or not at all (the `11_transfer` kata).
    let mut tx = state.pool.begin().await?;
    let (id, slug) = insert_with_slug(&mut tx, user.id, &new).await?;
    insert_tags(&mut tx, id, &new.tag_list).await?;
    tx.commit().await?;
    let article = one(&state.pool, Some(user.id), &slug).await?;
    Ok((StatusCode::CREATED, Json(ArticleBody { article })))
}

/// `PUT /api/articles/{slug}`: the author only (403 otherwise); a new title gives a new slug;
/// a `tagList` replaces the tags (`[]` removes them all, `null` is a 422); the article and
/// its tags change in one transaction.
pub async fn update_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<ArticleBody<UpdateArticle>>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    let update = body.article;
    let (id, author_id) = find(&state.pool, &slug).await?;
    ensure_author("article", author_id, &user)?;
    let mut invalid = Invalid::default();
    for (field, value) in [
        ("title", &update.title),
        ("description", &update.description),
        ("body", &update.body),
    ] {
        if let Some(value) = value {
            invalid.blank(field, value.as_deref().unwrap_or_default());
        }
    }
    if let Some(None) = update.tag_list {
        invalid.add("tagList", "can't be null");
    }
    invalid.check()?;
    let (title, description, text) = (
        update.title.flatten(),
        update.description.flatten(),
        update.body.flatten(),
    );
    let new_slug = match &title {
        Some(title) if slugify(title) != slug => {
            let taken: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM articles WHERE slug = $1)")
                    .bind(slugify(title))
                    .fetch_one(&state.pool)
                    .await?;
            let base = slugify(title);
            if taken {
                format!("{base}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
            } else {
                base
            }
        }
        _ => slug,
    };
    let mut tx = state.pool.begin().await?;
    sqlx::query(
        "UPDATE articles SET slug = $2, title = COALESCE($3, title),
                description = COALESCE($4, description), body = COALESCE($5, body),
                updated_at = clock_timestamp()
         WHERE id = $1",
    )
    .bind(id)
    .bind(&new_slug)
    .bind(&title)
    .bind(&description)
    .bind(&text)
    .execute(&mut *tx)
    .await?;
    if let Some(Some(tags)) = &update.tag_list {
        sqlx::query("DELETE FROM article_tags WHERE article_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        insert_tags(&mut tx, id, tags).await?;
    }
    tx.commit().await?;
    let article = one(&state.pool, Some(user.id), &new_slug).await?;
    Ok(Json(ArticleBody { article }))
}

/// `DELETE /api/articles/{slug}`: the author only (403 otherwise); 204.
pub async fn delete_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (id, author_id) = find(&state.pool, &slug).await?;
    ensure_author("article", author_id, &user)?;
    // Tags, favorites and comments go with it: ON DELETE CASCADE.
    sqlx::query("DELETE FROM articles WHERE id = $1")
        .bind(id)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/articles/{slug}/favorite`: idempotent; `favorited: true`.
pub async fn favorite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    let (id, _) = find(&state.pool, &slug).await?;
    sqlx::query(
        "INSERT INTO favorites (user_id, article_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user.id)
    .bind(id)
    .execute(&state.pool)
    .await?;
    let article = one(&state.pool, Some(user.id), &slug).await?;
    Ok(Json(ArticleBody { article }))
}

/// `DELETE /api/articles/{slug}/favorite`: idempotent; `favorited: false`.
pub async fn unfavorite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    let (id, _) = find(&state.pool, &slug).await?;
    sqlx::query("DELETE FROM favorites WHERE user_id = $1 AND article_id = $2")
        .bind(user.id)
        .bind(id)
        .execute(&state.pool)
        .await?;
    let article = one(&state.pool, Some(user.id), &slug).await?;
    Ok(Json(ArticleBody { article }))
}

/// `GET /api/tags`: every tag in use, alphabetically.
pub async fn tags(State(state): State<AppState>) -> Result<Json<Tags>, ApiError> {
    let tags: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT tag FROM article_tags ORDER BY tag")
            .fetch_all(&state.pool)
            .await?;
    Ok(Json(Tags { tags }))
}
