//! Hidden tests for the capstone: the RealWorld ("Conduit") API over a real Postgres, stage by
//! stage. Each test name starts with its stage (`stage1_` ... `stage7_`), so `cargo xtask next`
//! shows how far the service has come. Every request goes through `capstone_conduit::app`
//! (axum's real router, driven with `tower::ServiceExt::oneshot`); stage 7 uses a real socket.

#[path = "capstone_conduit/common.rs"]
mod common;
#[path = "capstone_conduit/stage1_accounts.rs"]
mod stage1_accounts;
#[path = "capstone_conduit/stage2_current_user.rs"]
mod stage2_current_user;
#[path = "capstone_conduit/stage3_profiles.rs"]
mod stage3_profiles;
#[path = "capstone_conduit/stage4_articles.rs"]
mod stage4_articles;
#[path = "capstone_conduit/stage5_listing.rs"]
mod stage5_listing;
#[path = "capstone_conduit/stage6_social.rs"]
mod stage6_social;
#[path = "capstone_conduit/stage7_socket.rs"]
mod stage7_socket;

/// The kata's schema: the same file the `conduit` binary migrates with.
pub const SCHEMA: &str = include_str!("../migrations/0001_conduit.sql");
