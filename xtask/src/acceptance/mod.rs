//! External acceptance suites a topic's server is also judged by (`acceptance = "realworld"`
//! in `exercises/katas.toml`): `verify` shows the learner's run, `check` runs it on the
//! solution, `grade` scores it, `bench` loads the same server.

pub mod conduit;
pub mod realworld;
