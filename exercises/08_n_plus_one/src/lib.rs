//! # The N+1 problem: related rows in a fixed number of queries
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
    // TODO: load the posts and their authors in one or two queries (not one per post), then
    // pair each post with its author.
    todo!("posts_with_authors")
}

/// Every author, in `authors.id` order, each with their posts in `posts.id` order. An author
/// with no posts is listed too, with an empty `posts`.
///
/// Runs at most 2 SQL statements, whatever the number of authors and posts: never one query
/// per author.
pub async fn authors_with_posts(pool: &PgPool) -> Result<Vec<AuthorWithPosts>, sqlx::Error> {
    // TODO: load the authors, then all their posts in ONE more query, and hand each author
    // their own posts, keeping both orders.
    todo!("authors_with_posts")
}
