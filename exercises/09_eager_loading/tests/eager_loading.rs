//! Hidden tests for the eager-loading kata: real Postgres, one database per test.
//!
//! Postgres itself counts the statements your code runs (`pg_stat_statements`, for the test's
//! own database and role) and keeps their text with constants replaced by `$n`: a query with
//! the ids bound as one array is one entry, an `IN (1, 2, 3)` list built into the SQL is a
//! new entry for every length. It also counts the rows they return (`rows`): a page is read
//! with `LIMIT`, not cut out of every post in Rust.
//!
//! Rules (README, stub docs) -> tests:
//! - with authors: latest `limit` (10, 30, 100 of 24, ids with gaps), id descending, own author ->
//!   `select_related_returns_the_latest_posts_with_their_authors_newest_first`
//! - exactly 1 statement for 1, 50, 500 posts -> `select_related_runs_exactly_one_statement_whatever_the_number_of_posts`
//! - with tags: latest `limit`, id descending, tags in name order (ids not in name order, rows
//!   scrambled) -> `prefetch_related_returns_the_latest_posts_with_their_tags_in_name_order`
//! - untagged post: empty list, every post once -> `posts_without_tags_come_back_with_an_empty_list`
//! - exactly 2 statements for 1, 50, 500 posts -> `prefetch_related_runs_exactly_two_statements_whatever_the_number_of_posts`
//! - only the page and its tags are read (rows); one tags statement `= ANY($1)`, no `IN`
//!   list, run once per page -> `prefetch_related_reads_only_the_page_binding_its_ids_as_one_array`
//!   (for authors: `select_related_returns_the_latest_posts_with_their_authors_newest_first`)
//! - no posts, and `limit` 0 for both functions: empty, at most 2 statements ->
//!   `an_empty_page_is_an_empty_list`
//! - `limit` bound, never written into the SQL (both functions) ->
//!   `sql_text::the_page_size_is_bound_not_written_into_the_sql`

#[path = "eager_loading/sql_text.rs"]
mod sql_text;

use eager_loading::{Author, Post, PostWithAuthor, PostWithTags, Tag};
use eager_loading::{latest_posts_with_author, latest_posts_with_tags};
use kata_testkit::TestDb;
use kata_testkit::lists::assert_same_list;
use kata_testkit::stats::Statements;

const SCHEMA: &str = include_str!("../schema.sql");

/// Tag names by id: id order, name order and insertion order all differ.
const TAGS: [&str; 8] = [
    "rust",
    "async",
    "postgres",
    "web",
    "databases",
    "testing",
    "caching",
    "http",
];

/// A blog's rows; `posts` in id order.
struct Blog {
    authors: Vec<Author>,
    posts: Vec<Post>,
    /// (post_id, tag_id)
    post_tags: Vec<(i64, i64)>,
}

/// `posts` posts by 7 authors; every fourth post has no tag, the others 1 to 4 tags.
fn blog(posts: i64) -> Blog {
    let authors = (1..=7)
        .map(|id| Author {
            id,
            name: format!("author {id}"),
        })
        .collect();
    let posts: Vec<Post> = (1..=posts)
        .map(|id| Post {
            id,
            author_id: 1 + (id * 3) % 7,
            title: format!("post {id}"),
        })
        .collect();
    let post_tags = posts
        .iter()
        .filter(|p| p.id % 4 != 0)
        .flat_map(|p| {
            (1..=8)
                .filter(move |t| (p.id * 7 + t * 3) % 5 < 2)
                .map(move |t| (p.id, t))
        })
        .collect();
    Blog {
        authors,
        posts,
        post_tags,
    }
}

fn tag(id: i64) -> Tag {
    Tag {
        id,
        name: TAGS[id as usize - 1].to_owned(),
    }
}

/// A database holding `blog`, inserted through the admin connection (so not counted) and in
/// a scrambled order, so rows come back in a given order only when the query asks for it.
async fn seeded(blog: &Blog) -> TestDb {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    let scramble = |id: i64| (id * 7_919) % 10_007;
    let mut authors: Vec<&Author> = blog.authors.iter().collect();
    authors.sort_by_key(|a| scramble(a.id));
    sqlx::query("INSERT INTO authors (id, name) SELECT * FROM unnest($1::int8[], $2::text[])")
        .bind(authors.iter().map(|a| a.id).collect::<Vec<_>>())
        .bind(authors.iter().map(|a| a.name.clone()).collect::<Vec<_>>())
        .execute(&mut admin)
        .await
        .expect("seeding the authors");
    let mut tags: Vec<Tag> = (1..=TAGS.len() as i64).map(tag).collect();
    tags.sort_by_key(|t| scramble(t.id));
    sqlx::query("INSERT INTO tags (id, name) SELECT * FROM unnest($1::int8[], $2::text[])")
        .bind(tags.iter().map(|t| t.id).collect::<Vec<_>>())
        .bind(tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>())
        .execute(&mut admin)
        .await
        .expect("seeding the tags");
    let mut posts: Vec<&Post> = blog.posts.iter().collect();
    posts.sort_by_key(|p| scramble(p.id));
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
    let mut post_tags = blog.post_tags.clone();
    post_tags.sort_by_key(|(p, t)| scramble(p * 10 + t));
    sqlx::query(
        "INSERT INTO post_tags (post_id, tag_id) SELECT * FROM unnest($1::int8[], $2::int8[])",
    )
    .bind(post_tags.iter().map(|(p, _)| *p).collect::<Vec<_>>())
    .bind(post_tags.iter().map(|(_, t)| *t).collect::<Vec<_>>())
    .execute(&mut admin)
    .await
    .expect("seeding post_tags");
    db
}

fn expected_with_author(blog: &Blog, limit: usize) -> Vec<PostWithAuthor> {
    blog.posts
        .iter()
        .rev()
        .take(limit)
        .map(|post| PostWithAuthor {
            post: post.clone(),
            author: blog.authors[post.author_id as usize - 1].clone(),
        })
        .collect()
}

fn expected_with_tags(blog: &Blog, limit: usize) -> Vec<PostWithTags> {
    blog.posts
        .iter()
        .rev()
        .take(limit)
        .map(|post| {
            let mut tags: Vec<Tag> = (blog.post_tags.iter())
                .filter(|(p, _)| *p == post.id)
                .map(|(_, t)| tag(*t))
                .collect();
            tags.sort_by(|a, b| a.name.cmp(&b.name));
            PostWithTags {
                post: post.clone(),
                tags,
            }
        })
        .collect()
}

#[tokio::test]
async fn select_related_returns_the_latest_posts_with_their_authors_newest_first() {
    // Ids with gaps (deleted posts): the latest 10 are not the ids above max(id) - 10.
    let mut blog = blog(30);
    blog.posts.retain(|p| p.id % 5 != 2);
    blog.post_tags.retain(|(post, _)| post % 5 != 2);
    let db = seeded(&blog).await;
    let pool = db.pool().await;
    for limit in [10, 30, 100] {
        let (loaded, Statements { rows, .. }) =
            db.counted(latest_posts_with_author(&pool, limit)).await;
        let loaded = loaded
            .unwrap_or_else(|e| panic!("limit {limit}: expected success, got the error: {e}"));
        let expected = expected_with_author(&blog, limit as usize);
        assert_same_list(
            &format!(
                "the latest {limit} of 24 posts (ids with gaps), newest (highest id) first, with authors"
            ),
            &loaded,
            &expected,
        );
        assert!(
            rows <= expected.len() as i64,
            "the latest {limit} of 24 posts with their authors must read at most {} rows from \
             Postgres (LIMIT in the SQL, not every post cut down in Rust), but the statements \
             returned {rows}",
            expected.len()
        );
    }
}

#[tokio::test]
async fn select_related_runs_exactly_one_statement_whatever_the_number_of_posts() {
    for posts in [1, 50, 500] {
        let blog = blog(posts);
        let db = seeded(&blog).await;
        let pool = db.pool().await;
        let (loaded, Statements { statements, .. }) =
            db.counted(latest_posts_with_author(&pool, posts)).await;
        let loaded = loaded
            .unwrap_or_else(|e| panic!("{posts} posts: expected success, got the error: {e}"));
        assert_eq!(
            statements, 1,
            "loading {posts} posts with their authors must take exactly 1 SQL statement (a \
             JOIN), but it took {statements}"
        );
        assert_same_list(
            &format!("{posts} posts with their authors"),
            &loaded,
            &expected_with_author(&blog, posts as usize),
        );
    }
}

#[tokio::test]
async fn prefetch_related_returns_the_latest_posts_with_their_tags_in_name_order() {
    let blog = blog(30);
    let db = seeded(&blog).await;
    let pool = db.pool().await;
    for limit in [10, 30, 100] {
        let loaded = latest_posts_with_tags(&pool, limit)
            .await
            .unwrap_or_else(|e| panic!("limit {limit}: expected success, got the error: {e}"));
        assert_same_list(
            &format!(
                "the latest {limit} of 30 posts, newest (highest id) first, each with its tags \
                 in name order"
            ),
            &loaded,
            &expected_with_tags(&blog, limit as usize),
        );
    }
}

#[tokio::test]
async fn posts_without_tags_come_back_with_an_empty_list() {
    let blog = blog(8); // posts 4 and 8 have no tags
    let db = seeded(&blog).await;
    let loaded = latest_posts_with_tags(&db.pool().await, 3)
        .await
        .unwrap_or_else(|e| panic!("expected success, got the error: {e}"));
    assert_same_list(
        "posts 8 (no tags), 7 and 6: every post once, an untagged post with an empty list",
        &loaded,
        &expected_with_tags(&blog, 3),
    );
}

#[tokio::test]
async fn prefetch_related_runs_exactly_two_statements_whatever_the_number_of_posts() {
    for posts in [1, 50, 500] {
        let blog = blog(posts);
        let db = seeded(&blog).await;
        let pool = db.pool().await;
        let (loaded, Statements { statements, .. }) =
            db.counted(latest_posts_with_tags(&pool, posts)).await;
        let loaded = loaded
            .unwrap_or_else(|e| panic!("{posts} posts: expected success, got the error: {e}"));
        assert_eq!(
            statements, 2,
            "loading {posts} posts with their tags must take exactly 2 SQL statements (the \
             posts, then the tags of all of them), but it took {statements}"
        );
        assert_same_list(
            &format!("{posts} posts with their tags"),
            &loaded,
            &expected_with_tags(&blog, posts as usize),
        );
    }
}

#[tokio::test]
async fn prefetch_related_reads_only_the_page_binding_its_ids_as_one_array() {
    let blog = blog(40);
    let db = seeded(&blog).await;
    let pool = db.pool().await;
    let pages = [3, 7, 20];
    for limit in pages {
        let (loaded, Statements { rows, .. }) =
            db.counted(latest_posts_with_tags(&pool, limit)).await;
        loaded.unwrap_or_else(|e| panic!("limit {limit}: expected success, got the error: {e}"));
        let page = expected_with_tags(&blog, limit as usize);
        let tag_rows: usize = page.iter().map(|p| p.tags.len()).sum();
        let most = (page.len() + tag_rows) as i64;
        assert!(
            rows <= most,
            "the latest {limit} of 40 posts with their tags must read at most {most} rows ({} \
             posts and their {tag_rows} tags: LIMIT in the SQL, the tags of the page only), but \
             the statements returned {rows}",
            page.len()
        );
    }
    let statements = db.recorded_statements().await;
    let tag_queries: Vec<&(String, i64)> = statements
        .iter()
        .filter(|(query, _)| query.to_lowercase().contains("tag"))
        .collect();
    assert_eq!(
        tag_queries.len(),
        1,
        "pages of 3, 7 and 20 posts must load their tags with one and the same SQL text \
         (`... post_id = ANY($1)`, the ids bound as one array), but Postgres recorded {} \
         different statements mentioning tags (ids written into the SQL make a new statement \
         for every page size):\n{tag_queries:#?}",
        tag_queries.len()
    );
    let (query, calls) = tag_queries[0];
    let compact: String = query
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        compact.contains("any($") && !compact.contains("in($"),
        "the tags query must select `post_id = ANY($1)` with the post ids bound as one array \
         parameter, but Postgres recorded: {query}"
    );
    assert_eq!(
        *calls,
        pages.len() as i64,
        "the tags query must run once per page ({} pages), but it ran {calls} times: {query}",
        pages.len()
    );
}

#[tokio::test]
async fn an_empty_page_is_an_empty_list() {
    let db = seeded(&blog(0)).await;
    let pool = db.pool().await;
    let with_author = latest_posts_with_author(&pool, 10)
        .await
        .unwrap_or_else(|e| panic!("with no posts, expected an empty list, got the error: {e}"));
    assert!(
        with_author.is_empty(),
        "with no posts, expected no posts, got {with_author:?}"
    );
    let (with_tags, Statements { statements, .. }) =
        db.counted(latest_posts_with_tags(&pool, 10)).await;
    let with_tags =
        with_tags.unwrap_or_else(|e| panic!("with no posts, expected an empty list: {e}"));
    assert!(
        with_tags.is_empty(),
        "with no posts, expected no posts, got {with_tags:?}"
    );
    assert!(
        statements <= 2,
        "an empty page must take at most 2 statements, it took {statements}"
    );
    let seeded_posts = seeded(&blog(5)).await;
    let with_tags = latest_posts_with_tags(&seeded_posts.pool().await, 0)
        .await
        .unwrap_or_else(|e| panic!("with limit 0, expected an empty list, got the error: {e}"));
    assert!(
        with_tags.is_empty(),
        "with limit 0, expected no posts, got {with_tags:?}"
    );
    let with_author = latest_posts_with_author(&seeded_posts.pool().await, 0)
        .await
        .unwrap_or_else(|e| panic!("with limit 0, expected an empty list, got the error: {e}"));
    assert!(
        with_author.is_empty(),
        "with limit 0, expected no posts with authors, got {with_author:?}"
    );
}
