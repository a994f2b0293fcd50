//! Hidden tests for the capstone: the RealWorld ("Conduit") API over a real Postgres, stage by
//! stage. Each test name starts with its stage (`stage1_` ... `stage7_`), so `cargo xtask next`
//! shows how far the service has come. Every request goes through `capstone_conduit::app`
//! (axum's real router, driven with `tower::ServiceExt::oneshot`); stage 7 uses a real socket.
//! The RealWorld Hurl suite (run by `verify` against the `conduit` binary) checks the spec
//! request by request; these tests add what it does not check.
//!
//! README rule -> test(s):
//! - errors keyed by field/resource, 401 `token`: `stage2_the_current_user_needs_a_token_in_the_token_scheme`,
//!   `stage3_following_needs_a_token_and_an_existing_user`, `stage4_creating_needs_a_token_and_a_title`
//! - 422 naming every invalid field, missing = blank: `stage1_a_blank_or_missing_field_is_a_422_keyed_by_the_field`,
//!   `stage4_creating_needs_a_token_and_a_title`
//! - a registration password under 8 characters (`short`, 4 `é` = 8 bytes) is a 422:
//!   `stage1_a_blank_or_missing_field_is_a_422_keyed_by_the_field`
//! - 409 for a taken username/email: `stage1_a_taken_username_or_email_is_a_409_keyed_by_the_field`
//! - 201 user, null bio/image, HS256 token with `sub`, `exp` 24 h ahead: `stage1_registration_returns_201_and_a_user_with_a_token`
//! - Argon2id, salted: `stage1_passwords_are_stored_as_salted_argon2id_hashes`
//! - same 401 for wrong password and unknown email: `stage1_a_wrong_password_or_an_unknown_email_is_the_same_401`
//! - one password check either way (dummy hash): `stage1_an_unknown_email_costs_one_password_check_like_a_wrong_password`,
//!   `stage1_users_hashes_cost_as_much_as_the_dummy_hash`
//! - login works: `stage1_login_with_the_right_password_returns_the_user_with_a_token`
//! - `Token` scheme, `Bearer` refused, token echoed: `stage2_the_current_user_needs_a_token_in_the_token_scheme`,
//!   `stage2_the_current_user_echoes_the_token_it_was_sent`
//! - bad/no signature, expiry: `stage2_a_token_with_a_forged_signature_or_no_signature_is_a_401`,
//!   `stage2_an_expired_token_is_a_401`
//! - PUT /api/user changes only what is present: `stage2_updating_the_user_changes_only_the_fields_given`
//! - a new password is hashed, at least 8 characters (not bytes: 7 `é` refused, 8 accepted), 64
//!   accepted: `stage2_a_new_password_replaces_the_old_one`,
//!   `stage2_a_new_password_needs_8_characters_and_64_are_accepted`
//! - empty/null bio and image stored as NULL: `stage2_an_empty_or_null_bio_or_image_is_stored_as_null`
//! - null/blank email, username, password are 422s: `stage2_a_null_or_blank_email_username_or_password_is_a_422`
//! - a taken email is a 409 that changes nothing: `stage2_updating_to_a_taken_email_is_a_409_and_changes_nothing`
//! - profiles and following: `stage3_a_profile_shows_whether_the_viewer_follows`,
//!   `stage3_following_twice_keeps_one_follow`, `stage3_following_needs_a_token_and_an_existing_user`
//! - slug, tagList in order each once, ISO times, body on a single article:
//!   `stage4_creating_an_article_returns_201_with_slug_tags_in_order_and_author`
//! - taken slug gets a suffix: `stage4_the_same_title_twice_gives_two_slugs`
//! - no `-` at either end of a slug; a title with the same slug keeps it:
//!   `stage4_a_slug_has_no_dash_at_either_end_and_a_title_with_the_same_slug_keeps_it`
//! - tagList kept / replaced / cleared / null refused: `stage4_an_update_keeps_replaces_or_clears_the_tags`
//! - only the author updates (new title, new slug; createdAt kept) or deletes (204):
//!   `stage4_only_the_author_may_update_an_article`, `stage4_only_the_author_may_delete_an_article`
//! - an update: 404, then 403, before the body's 422s: `stage4_an_update_finds_the_article_and_its_author_before_it_checks_the_body`
//! - newest first, limit/offset, articlesCount counts every match: `stage5_articles_are_listed_newest_first_and_paged_with_limit_and_offset`,
//!   `stage5_the_default_page_holds_20_articles`; `limit` capped at 100: `stage5_a_limit_above_100_is_lowered_to_100`
//! - filters: `stage5_articles_are_filtered_by_tag_author_and_favorited`
//! - feed: `stage5_the_feed_lists_only_the_authors_the_user_follows`; its limit/offset and
//!   articlesCount: `stage5_the_feed_pages_with_limit_and_offset`
//! - lists without body, at most 4 statements: `stage5_listing_40_articles_runs_a_bounded_number_of_statements`,
//!   `stage5_the_feed_runs_a_bounded_number_of_statements`
//! - favorites count once, unfavorite only yours: `stage6_favoriting_counts_each_user_once_and_unfavoriting_undoes_it`
//! - two favorites at once count once: `stage6_concurrent_favorites_by_one_user_count_once`
//! - comments (201, oldest first, 204, 403/404/422): `stage6_comments_are_added_listed_and_deleted_by_their_author_only`;
//!   deleted only through their own article: `stage6_a_comment_is_deleted_only_through_its_own_article`
//! - comments in at most 3 statements: `stage6_listing_comments_runs_a_bounded_number_of_statements`
//! - tags in use, each once: `stage6_tags_lists_each_tag_in_use_once`
//! - served over a socket: `stage7_the_api_answers_over_a_real_socket`
//! - the binary migrates an empty database and serves: `stage7_the_binary_migrates_an_empty_database_and_serves_the_api`

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
