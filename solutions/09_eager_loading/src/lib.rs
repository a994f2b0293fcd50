//! # Eager loading: `select_related` and `prefetch_related` in SQL
//!
//! Read `README.md` first. The tables are in `schema.sql`.
use std::collections::HashMap;

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
    // `select_related`: a post has exactly one author, so the JOIN adds columns, never rows,
    // and `LIMIT` counts posts. (An inner join is safe: `author_id` is NOT NULL.)
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT p.id, p.author_id, p.title, a.name \
         FROM posts p JOIN authors a ON a.id = p.author_id \
         ORDER BY p.id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, author_id, title, name)| PostWithAuthor {
            post: Post {
                id,
                author_id,
                title,
            },
            author: Author {
                id: author_id,
                name,
            },
        })
        .collect())
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
    // `prefetch_related`: a JOIN to a to-many relation would repeat each post once per tag,
    // drop untagged posts (or need a LEFT JOIN) and make `LIMIT` count tags instead of posts.
    // So: the page of posts first...
    let posts: Vec<Post> =
        sqlx::query_as("SELECT id, author_id, title FROM posts ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(pool)
            .await?;
    // ...then the tags of all of them in one statement. The ids travel as ONE array parameter:
    // one SQL text whatever the page size (one plan, one pg_stat_statements entry) and
    // nothing spliced into the SQL.
    let ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "SELECT pt.post_id, t.id, t.name \
         FROM post_tags pt JOIN tags t ON t.id = pt.tag_id \
         WHERE pt.post_id = ANY($1) ORDER BY t.name",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    // Group by post id; pushing in row order keeps each list in name order. The map is only
    // for lookups: the result walks `posts`, so the page keeps its order.
    let mut tags_of: HashMap<i64, Vec<Tag>> = HashMap::new();
    for (post_id, id, name) in rows {
        tags_of.entry(post_id).or_default().push(Tag { id, name });
    }
    Ok(posts
        .into_iter()
        .map(|post| PostWithTags {
            tags: tags_of.remove(&post.id).unwrap_or_default(),
            post,
        })
        .collect())
}
