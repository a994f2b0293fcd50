//! Hidden tests for the SQL vs NoSQL kata: a real Postgres database and a real Redis key
//! namespace per test. The Redis user may only touch keys under its namespace.
//!
//! Races are released together by a barrier; the data sets are fixed (a seeded generator in
//! Rust, a hash of the row number in SQL), so every run sees the same ties and the same plans.
//!
//! Rule (README / stub) -> test:
//! - order: score desc, then name in byte order (`Bob < alice < bob`), both stores
//!   -> `leaderboard::ties_are_broken_by_player_name_ascending_in_both_stores`; 200 seeded
//!   players, same top and ranks -> `leaderboard::both_stores_rank_the_same_data_the_same_way`
//! - `top(k)`, `top(0)` empty, `top(1000)` and `top(usize::MAX)` of 5 -> `leaderboard::top_k_returns_the_k_best_and_no_more`
//! - rank 1-based, unknown `None`; `set_scores` overwrites a known player, `set_scores(&[])` is
//!   `Ok` -> `leaderboard::rank_is_1_based_follows_overwritten_scores_and_unknown_players_have_none`
//! - `add`: new player from 0, negative points, returns the new score
//!   -> `leaderboard::add_starts_new_players_at_zero_and_returns_the_new_score`; 50 concurrent adds
//!   -> `leaderboard::concurrent_adds_never_lose_an_update_in_redis`,
//!   `leaderboard::concurrent_adds_never_lose_an_update_in_postgres`
//! - `PgBoard::set_scores` all or nothing -> `leaderboard::set_scores_is_all_or_nothing_in_postgres`
//! - product as a JSON object and as rows; quotes and braces are data
//!   -> `catalogue::a_product_is_stored_as_a_document_and_as_rows`; one transaction
//!   -> `catalogue::a_product_that_fails_part_way_is_not_stored`
//! - both queries agree, ascending ids (some, all, no products; rows stored out of id order)
//!   -> `catalogue::document_and_normalized_queries_find_the_same_products`
//! - GIN index can serve it (enable_seqscan off), no seq scan, 50 000 products -> `catalogue::the_document_query_uses_the_gin_index`

#[path = "sql_vs_nosql/catalogue.rs"]
mod catalogue;
#[path = "sql_vs_nosql/leaderboard.rs"]
mod leaderboard;

const SCHEMA: &str = include_str!("../schema.sql");
