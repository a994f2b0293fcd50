//! Hidden tests for the SQL vs NoSQL kata: a real Postgres database and a real Redis key
//! namespace per test. The Redis user may only touch keys under its namespace.
//!
//! Races are released together by a barrier; the data sets are fixed (a seeded generator in
//! Rust, a hash of the row number in SQL), so every run sees the same ties and the same plans.

#[path = "sql_vs_nosql/catalogue.rs"]
mod catalogue;
#[path = "sql_vs_nosql/leaderboard.rs"]
mod leaderboard;

const SCHEMA: &str = include_str!("../schema.sql");
