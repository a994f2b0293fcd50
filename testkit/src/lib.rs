//! Test support for Rust Backend Katas: real Postgres and Redis for every hidden test.
//!
//! ```ignore
//! let db = kata_testkit::TestDb::new(include_str!("schema.sql")).await; // a database of its own
//! let redis = kata_testkit::TestRedis::new().await;                     // a key namespace of its own
//! ```
//! Where the servers come from is decided in [`services`].

pub mod cleanup;
pub mod install;
pub mod local;
pub mod postgres;
pub mod redis;
pub mod services;

pub use postgres::TestDb;
pub use redis::TestRedis;
