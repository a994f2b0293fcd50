//! Stage 4 and 5: articles (slugs, create, update, delete, list, feed), favorites and tags.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use crate::model::{
    ApiJson, Article, ArticleBody, ListQuery, MultipleArticles, NewArticle, Tags, UpdateArticle,
};
use crate::{ApiError, AppState, AuthUser, MaybeUser};

/// `"How to train your dragon"` -> `"how-to-train-your-dragon"`: lowercase ASCII letters and
/// digits, every other run of characters a single `-`, none at either end.
pub fn slugify(title: &str) -> String {
    // TODO(stage 4)
    todo!("slugify")
}

/// `GET /api/articles?tag=&author=&favorited=&limit=&offset=`: newest first.
pub async fn list_articles(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<MultipleArticles>, ApiError> {
    // TODO(stage 5): `ArticleFilter::from_query` and `crate::list`.
    todo!("list articles")
}

/// `GET /api/articles/feed?limit=&offset=`: articles by the authors the user follows.
pub async fn feed(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<MultipleArticles>, ApiError> {
    // TODO(stage 5): the same query with `feed: true`; only limit and offset apply.
    todo!("the feed")
}

/// `GET /api/articles/{slug}`.
pub async fn get_article(
    State(state): State<AppState>,
    viewer: MaybeUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    // TODO(stage 4): `load_articles` with the slug as filter; 404 when empty.
    todo!("get an article")
}

/// `POST /api/articles`: 201 with the article; 422 naming every blank title, description or
/// body.
pub async fn create_article(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<ArticleBody<NewArticle>>,
) -> Result<(StatusCode, Json<ArticleBody<Article>>), ApiError> {
    // TODO(stage 4): 422 naming every blank field; the article and its tags (trimmed, each
    // once, with their `position`) in ONE transaction (`11_transfer`); a slug
    // from the title, made unique when taken; 201.
    todo!("create an article")
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
    // TODO(stage 4): 404, then `ensure_author("article", ..)`, then 422s, then the update:
    // a new title gives a new slug, a `tagList` replaces the tags, in one transaction.
    todo!("update an article")
}

/// `DELETE /api/articles/{slug}`: the author only (403 otherwise); 204.
pub async fn delete_article(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    // TODO(stage 4): 404, then `ensure_author("article", ..)`, then DELETE (the rest
    // cascades); 204.
    todo!("delete an article")
}

/// `POST /api/articles/{slug}/favorite`: idempotent; `favorited: true`.
pub async fn favorite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    // TODO(stage 6): INSERT ... ON CONFLICT DO NOTHING: two at once count once.
    todo!("favorite")
}

/// `DELETE /api/articles/{slug}/favorite`: idempotent; `favorited: false`.
pub async fn unfavorite(
    State(state): State<AppState>,
    user: AuthUser,
    Path(slug): Path<String>,
) -> Result<Json<ArticleBody<Article>>, ApiError> {
    // TODO(stage 6)
    todo!("unfavorite")
}

/// `GET /api/tags`: every tag in use, alphabetically.
pub async fn tags(State(state): State<AppState>) -> Result<Json<Tags>, ApiError> {
    // TODO(stage 6)
    todo!("tags")
}
