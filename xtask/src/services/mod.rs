//! The servers the tests talk to, shared by every command that runs tests: Postgres and Redis
//! started per run or held warm between runs (`services up`), and the Docker engine the engine
//! tests build with.

pub mod engine;
pub mod servers;
pub mod warm;
