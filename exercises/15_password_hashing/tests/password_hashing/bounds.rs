//! The costs written in a stored hash are bounded: verifying does the work they ask for.
//!
//! Hashes at the bounds are verified (`Ok(false)`: they are hashes of some other password, so
//! verifying them really runs the hasher); hashes one past a bound are refused before hashing.
//! A solution without the bounds would hash them too, and say `Ok(false)`.

use super::{edited, legacy_argon2, shaped_like};
use argon2::{Algorithm, Version};
use password_hashing::{
    HashError, MAX_BCRYPT_COST, MAX_M_COST_KIB, MAX_T_COST, needs_rehash, verify_password,
};

/// `verify_password` refused `stored` as malformed and `needs_rehash` said true.
fn assert_refused(what: &str, stored: &str) {
    let verified = verify_password("pw", stored);
    assert!(
        matches!(verified, Err(HashError::MalformedHash(_))),
        "expected a stored hash asking for {what} (above the bounds) to be refused with \
         Err(MalformedHash) before any hashing, got {verified:?} for {stored:?}"
    );
    assert!(
        needs_rehash(stored),
        "expected needs_rehash to be true for a hash asking for {what} (above the bounds): {stored:?}"
    );
}

#[test]
fn argon2_costs_above_the_bounds_are_refused_and_at_the_bounds_verified() {
    assert_eq!(
        (MAX_M_COST_KIB, MAX_T_COST),
        (65_536, 10),
        "the documented bounds are m=65536 (KiB) and t=10"
    );
    // m=8 KiB is Argon2's smallest memory: the base costs nothing to make.
    let base = legacy_argon2(
        Algorithm::Argon2id,
        Version::V0x13,
        8,
        1,
        "another password",
    );

    for (what, stored) in [
        (
            "m=65536 (64 MiB)",
            shaped_like(&base, "argon2id", 19, 65_536, 1),
        ),
        ("t=10", shaped_like(&base, "argon2id", 19, 8, 10)),
    ] {
        let verified = verify_password("pw", &stored);
        assert_eq!(
            verified,
            Ok(false),
            "expected a hash with {what} (exactly at the bound) to be verified like any other \
             (Ok(false): it is not a hash of this password), not refused: {stored:?}"
        );
    }
    // Otherwise above the policy, so only the bound makes `needs_rehash` say true.
    assert_refused(
        "m=65537 KiB",
        &shaped_like(&base, "argon2id", 19, 65_537, 2),
    );
    assert_refused("t=11", &shaped_like(&base, "argon2id", 19, 19_456, 11));
    assert_refused(
        "m=65537 KiB in an argon2i hash",
        &shaped_like(&base, "argon2i", 19, 65_537, 2),
    );
}

#[test]
fn a_bcrypt_cost_above_12_is_refused_and_12_is_verified() {
    assert_eq!(
        MAX_BCRYPT_COST, 12,
        "the documented bound is bcrypt cost 12"
    );
    let base = bcrypt::hash("another password", 4).expect("bcrypt can hash in the test");
    let at_bound = edited(&base, "$04$", "$12$");

    let verified = verify_password("pw", &at_bound);

    assert_eq!(
        verified,
        Ok(false),
        "expected a cost-12 bcrypt hash (exactly at the bound) to be verified like any other \
         (Ok(false): it is not a hash of this password), not refused: {at_bound:?}"
    );
    assert!(
        needs_rehash(&at_bound),
        "expected needs_rehash to be true for a cost-12 bcrypt hash (every bcrypt hash needs \
         rehash, at any cost: bcrypt reads only 72 bytes of the password): {at_bound:?}"
    );
    assert_refused("bcrypt cost 13", &edited(&base, "$04$", "$13$"));
    assert_refused(
        "bcrypt cost 13 with the $2y$ prefix",
        &edited(&base, "$2b$04$", "$2y$13$"),
    );
}
