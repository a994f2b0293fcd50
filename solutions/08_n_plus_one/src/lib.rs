//! # The N+1 problem: related rows in a fixed number of queries
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

/// A post with its author loaded (Django: `post.author` after `select_related("author")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostWithAuthor {
    pub post: Post,
    /// The row of `authors` whose id is `post.author_id`.
    pub author: Author,
}

/// An author with their posts loaded (Django: `author.post_set.all()` after
/// `prefetch_related("post_set")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorWithPosts {
    pub author: Author,
    /// The author's posts in `posts.id` order; empty for an author who has written nothing.
    pub posts: Vec<Post>,
}

/// Every post with its author, in `posts.id` order.
///
/// Runs at most 2 SQL statements, whatever the number of posts and authors: never one query
/// per post (the N+1 problem) nor one query per author.
pub async fn posts_with_authors(pool: &PgPool) -> Result<Vec<PostWithAuthor>, sqlx::Error> {
    // One statement: the JOIN brings each post's author along in the same row (Django's
    // `select_related`). An inner join loses nothing here: `author_id` is NOT NULL and a
    // foreign key, so every post has exactly one author.
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT p.id, p.author_id, p.title, a.name \
         FROM posts p JOIN authors a ON a.id = p.author_id \
         ORDER BY p.id",
    )
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

/// Every author, in `authors.id` order, each with their posts in `posts.id` order. An author
/// with no posts is listed too, with an empty `posts`.
///
/// Runs at most 2 SQL statements, whatever the number of authors and posts: never one query
/// per author.
pub async fn authors_with_posts(pool: &PgPool) -> Result<Vec<AuthorWithPosts>, sqlx::Error> {
    // Two statements, however many authors (Django's `prefetch_related`): the authors, then
    // the posts of all of them at once, with their ids bound as ONE array parameter.
    let authors: Vec<Author> = sqlx::query_as("SELECT id, name FROM authors ORDER BY id")
        .fetch_all(pool)
        .await?;
    let ids: Vec<i64> = authors.iter().map(|a| a.id).collect();
    let posts: Vec<Post> = sqlx::query_as(
        "SELECT id, author_id, title FROM posts WHERE author_id = ANY($1) ORDER BY id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    // Group in memory. The map is only for lookups: the result follows the authors' `Vec`, so
    // the order is the query's, and an author missing from the map gets an empty list.
    let mut by_author: HashMap<i64, Vec<Post>> = HashMap::new();
    for post in posts {
        by_author.entry(post.author_id).or_default().push(post);
    }
    Ok(authors
        .into_iter()
        .map(|author| AuthorWithPosts {
            posts: by_author.remove(&author.id).unwrap_or_default(),
            author,
        })
        .collect())
}
