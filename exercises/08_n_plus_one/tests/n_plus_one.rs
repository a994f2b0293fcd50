//! Hidden tests for the N+1 kata: real Postgres, one database per test.
//!
//! The statements your code runs are counted by Postgres itself (`pg_stat_statements`, for the
//! test's own database and role): the test seeds through a separate admin connection, opens
//! the pool, reads the count, calls your function and reads the count again.
//!
//! Rules (README, stub) -> the test that fails when that rule alone is broken:
//! - posts_with_authors: at most 2 statements at 1/1, 50/10 and 1 100/1 300 (posts/authors; past
//!   1 000 ids, so batches of 1 000 show) -> loading_posts_with_authors_takes_at_most_two_...
//! - authors_with_posts: the same -> loading_authors_with_posts_takes_at_most_two_...
//! - every post once, in posts.id order (rows inserted scrambled), with its own author; bigint
//!   ids past 2^32 -> posts_come_back_with_their_authors_in_post_id_order
//! - every author once, in authors.id order (names do not sort like ids), posts in posts.id
//!   order; bigint ids -> authors_come_back_with_their_posts_in_id_order
//! - authors without posts listed with an empty list -> authors_without_posts_are_listed_...
//! - no posts at all: empty list / every author with an empty list -> an_empty_blog_loads_...

use kata_testkit::TestDb;
use kata_testkit::lists::assert_same_list;
use kata_testkit::stats::Statements;
use n_plus_one::{Author, AuthorWithPosts, Post, PostWithAuthor};
use n_plus_one::{authors_with_posts, posts_with_authors};

const SCHEMA: &str = include_str!("../schema.sql");

/// The sizes the statement-count tests load: (posts, authors). The last one is past 1 000 ids
/// (1 040 authors write), where code that sends the ids in batches of 1 000 runs one query per
/// batch.
const SIZES: [(usize, usize); 3] = [(1, 1), (50, 10), (1_100, 1_300)];

/// The first id of the blogs whose ids are past 32 bits: `int4` ids (`Vec<i32>`, `$1::int4[]`)
/// cannot hold them.
const BIG_ID: i64 = 5_000_000_000;

/// A blog's rows, each list in id order (the order the functions must return).
struct Blog {
    authors: Vec<Author>,
    posts: Vec<Post>,
}

/// `posts` posts by `authors` authors (ids from 1). Authors whose id is a multiple of 5 have
/// written nothing; the others share the posts round-robin-ish.
fn blog(posts: usize, authors: usize) -> Blog {
    blog_from(1, posts, authors)
}

/// First names for the authors, not in alphabetical order: sorted by name, the authors are
/// not in id order.
const NAMES: [&str; 7] = ["Maria", "Chen", "Zoe", "Ade", "Olga", "Bruno", "Ines"];

/// Like `blog`, with every id (authors' and posts') starting at `first_id`.
fn blog_from(first_id: i64, posts: usize, authors: usize) -> Blog {
    let authors: Vec<Author> = (first_id..first_id + authors as i64)
        .map(|id| Author {
            id,
            name: format!("{} ({id})", NAMES[(id % NAMES.len() as i64) as usize]),
        })
        .collect();
    let writers: Vec<i64> = authors
        .iter()
        .map(|a| a.id)
        .filter(|id| id % 5 != 0)
        .collect();
    let posts = (0..posts)
        .map(|n| Post {
            id: first_id + n as i64,
            author_id: writers[((n + 1) * 7) % writers.len()],
            title: format!("post {}", first_id + n as i64),
        })
        .collect();
    Blog { authors, posts }
}

/// A database holding `blog`, inserted through the admin connection (so not counted) and in
/// a scrambled order, so rows come back in id order only when the query asks for it.
async fn seeded(blog: &Blog) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    let scramble = |id: &i64| (id * 7_919) % 10_007;
    let mut authors: Vec<&Author> = blog.authors.iter().collect();
    authors.sort_by_key(|a| scramble(&a.id));
    sqlx::query("INSERT INTO authors (id, name) SELECT * FROM unnest($1::int8[], $2::text[])")
        .bind(authors.iter().map(|a| a.id).collect::<Vec<_>>())
        .bind(authors.iter().map(|a| a.name.clone()).collect::<Vec<_>>())
        .execute(&mut admin)
        .await
        .expect("seeding the authors");
    let mut posts: Vec<&Post> = blog.posts.iter().collect();
    posts.sort_by_key(|p| scramble(&p.id));
    sqlx::query(
        "INSERT INTO posts (id, author_id, title) \
         SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[])",
    )
    .bind(posts.iter().map(|p| p.id).collect::<Vec<_>>())
    .bind(posts.iter().map(|p| p.author_id).collect::<Vec<_>>())
    .bind(posts.iter().map(|p| p.title.clone()).collect::<Vec<_>>())
    .execute(&mut admin)
    .await
    .expect("seeding the posts");
    db
}

fn expected_posts_with_authors(blog: &Blog) -> Vec<PostWithAuthor> {
    blog.posts
        .iter()
        .map(|post| PostWithAuthor {
            post: post.clone(),
            author: blog
                .authors
                .iter()
                .find(|a| a.id == post.author_id)
                .expect("every post has an author")
                .clone(),
        })
        .collect()
}

fn expected_authors_with_posts(blog: &Blog) -> Vec<AuthorWithPosts> {
    blog.authors
        .iter()
        .map(|author| AuthorWithPosts {
            author: author.clone(),
            posts: blog
                .posts
                .iter()
                .filter(|p| p.author_id == author.id)
                .cloned()
                .collect(),
        })
        .collect()
}

#[tokio::test]
async fn posts_come_back_with_their_authors_in_post_id_order() {
    let blog = blog_from(BIG_ID, 30, 12);
    let db = seeded(&blog).await;
    let loaded = posts_with_authors(&db.pool().await)
        .await
        .unwrap_or_else(|e| panic!("expected posts_with_authors to succeed, got the error: {e}"));
    assert_same_list(
        "30 posts by 12 authors (bigint ids from 5 000 000 000), in post id order, each with its \
         author",
        &loaded,
        &expected_posts_with_authors(&blog),
    );
}

#[tokio::test]
async fn loading_posts_with_authors_takes_at_most_two_statements_whatever_the_number_of_posts() {
    for (posts, authors) in SIZES {
        let blog = blog(posts, authors);
        let db = seeded(&blog).await;
        let pool = db.pool().await;
        let (loaded, Statements { statements, .. }) = db.counted(posts_with_authors(&pool)).await;
        let loaded = loaded.unwrap_or_else(|e| {
            panic!("{posts} posts by {authors} authors: expected success, got the error: {e}")
        });
        assert!(
            statements <= 2,
            "loading {posts} posts by {authors} authors must take at most 2 SQL statements, but it \
             took {statements}: a query per post (or per author) is the N+1 problem"
        );
        assert_same_list(
            &format!("{posts} posts by {authors} authors"),
            &loaded,
            &expected_posts_with_authors(&blog),
        );
    }
}

#[tokio::test]
async fn authors_come_back_with_their_posts_in_id_order() {
    let blog = blog_from(BIG_ID, 30, 12);
    let db = seeded(&blog).await;
    let loaded = authors_with_posts(&db.pool().await)
        .await
        .unwrap_or_else(|e| panic!("expected authors_with_posts to succeed, got the error: {e}"));
    assert_same_list(
        "12 authors of 30 posts (bigint ids from 5 000 000 000), in author id order, each with \
         their posts in post id order",
        &loaded,
        &expected_authors_with_posts(&blog),
    );
}

#[tokio::test]
async fn authors_without_posts_are_listed_with_an_empty_list() {
    let blog = Blog {
        authors: (1..=4)
            .map(|id| Author {
                id,
                name: format!("author {id}"),
            })
            .collect(),
        posts: vec![
            Post {
                id: 1,
                author_id: 2,
                title: "only author 2 writes".into(),
            },
            Post {
                id: 2,
                author_id: 2,
                title: "and again".into(),
            },
        ],
    };
    let db = seeded(&blog).await;
    let loaded = authors_with_posts(&db.pool().await)
        .await
        .unwrap_or_else(|e| panic!("expected authors_with_posts to succeed, got the error: {e}"));
    assert_same_list(
        "authors 1, 3 and 4 have no posts but must be listed, with an empty list",
        &loaded,
        &expected_authors_with_posts(&blog),
    );
}

#[tokio::test]
async fn loading_authors_with_posts_takes_at_most_two_statements_whatever_the_number_of_authors() {
    for (posts, authors) in SIZES {
        let blog = blog(posts, authors);
        let db = seeded(&blog).await;
        let pool = db.pool().await;
        let (loaded, Statements { statements, .. }) = db.counted(authors_with_posts(&pool)).await;
        let loaded = loaded.unwrap_or_else(|e| {
            panic!("{authors} authors of {posts} posts: expected success, got the error: {e}")
        });
        assert!(
            statements <= 2,
            "loading {authors} authors with their {posts} posts must take at most 2 SQL \
             statements, but it took {statements}: a query per author is the N+1 problem"
        );
        assert_same_list(
            &format!("{authors} authors of {posts} posts (every fifth author has none)"),
            &loaded,
            &expected_authors_with_posts(&blog),
        );
    }
}

#[tokio::test]
async fn an_empty_blog_loads_as_empty_lists() {
    let blog = blog(0, 3);
    let db = seeded(&blog).await;
    let pool = db.pool().await;
    let posts = posts_with_authors(&pool)
        .await
        .unwrap_or_else(|e| panic!("with no posts, expected an empty list, got the error: {e}"));
    assert!(
        posts.is_empty(),
        "with no posts, expected no posts, got {posts:?}"
    );
    let authors = authors_with_posts(&pool)
        .await
        .unwrap_or_else(|e| panic!("with no posts, expected the authors, got the error: {e}"));
    assert_same_list(
        "3 authors and no posts: every author with an empty list",
        &authors,
        &expected_authors_with_posts(&blog),
    );
}
