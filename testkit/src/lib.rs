//! Test support for Rust Backend Katas: real Postgres and Redis for every hidden test.
//!
//! ```ignore
//! let db = kata_testkit::TestDb::new(include_str!("schema.sql")).await; // a database of its own
//! let redis = kata_testkit::TestRedis::new().await;                     // a key namespace of its own
//! ```
//! Where the servers come from is decided in [`services`]. What tests share beyond the servers:
//! [`http`] (requests through a topic's router), [`race`] (races forced with held locks or
//! paused writes), [`stats`] (statements and rows counted by Postgres), [`lists`] (a long list
//! compared item by item), [`redis_fakes`] (stand-ins and proxies for the Redis failures a real
//! server will not produce on demand), [`silent`] (servers that never answer, and the paused
//! clock their tests run on).

mod admin;
pub mod cleanup;
pub mod http;
pub mod install;
pub mod lists;
pub mod local;
pub mod postgres;
pub mod race;
pub mod redis;
pub mod redis_fakes;
pub mod services;
pub mod silent;
pub mod spares;
pub mod stats;

pub use postgres::TestDb;
pub use redis::TestRedis;
