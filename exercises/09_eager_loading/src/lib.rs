//! # Eager loading: `select_related` and `prefetch_related` in SQL
//!
//! Read `README.md` first. The tables are in `schema.sql`.
// The stub does not use its arguments yet: delete this line when you implement it.
#![allow(unused_variables)]

use sqlx::PgPool;

/// A row of `authors`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Author {
    pub id: i64,
    pub name: String,
}

/// A row of `posts`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub author_id: i64,
    pub title: String,
}

/// A row of `tags`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

/// A post with its author (Django: `Post.objects.select_related("author")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostWithAuthor {
    pub post: Post,
    /// The row of `authors` whose id is `post.author_id`.
    pub author: Author,
}

/// A post with its tags (Django: `Post.objects.prefetch_related("tags")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostWithTags {
    pub post: Post,
    /// The post's tags (through `post_tags`) in `tags.name` order; empty for an untagged post.
    pub tags: Vec<Tag>,
}

/// The latest `limit` posts (the `limit` highest `posts.id`, newest first: id descending),
/// each with its author. `limit >= 0`; fewer posts than `limit` means all of them.
///
/// Runs exactly 1 SQL statement: a JOIN (the to-one side comes along in the same row).
pub async fn latest_posts_with_author(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<PostWithAuthor>, sqlx::Error> {
    // TODO: one query that JOINs each post to its author, newest first, at most `limit` rows.
    todo!("latest_posts_with_author")
}

/// The latest `limit` posts (the `limit` highest `posts.id`, newest first: id descending),
/// each with its tags in `tags.name` order. `limit >= 0`; fewer posts than `limit` means all.
///
/// Runs exactly 2 SQL statements for a non-empty page: the posts, then the tags of all of
/// them at once, selected by `post_id = ANY($1)` with the posts' ids bound as ONE array
/// parameter (never an `IN (1, 2, 3)` list built into the SQL text). An empty page may skip
/// the second statement.
pub async fn latest_posts_with_tags(
    pool: &PgPool,
    limit: i64,
) -> Result<Vec<PostWithTags>, sqlx::Error> {
    // TODO: query the page of posts; then query the tags of those posts in one statement
    // (`= ANY($1)`, binding a `Vec<i64>`); then give each post its tags, keeping the posts'
    // order.
    todo!("latest_posts_with_tags")
}
