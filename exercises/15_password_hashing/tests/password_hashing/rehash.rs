//! Which stored hashes `needs_rehash` flags: anything but the policy's Argon2id, or weaker than
//! it; never a fresh hash or a stronger one.

use super::{legacy_argon2, shaped_like};
use argon2::{Algorithm, Version};
use password_hashing::{hash_password, needs_rehash, verify_password};

#[test]
fn a_hash_made_with_weaker_parameters_still_verifies_and_needs_rehash() {
    let old = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "legacy user");

    let right = verify_password("legacy user", &old);
    let wrong = verify_password("legacy usr", &old);

    assert_eq!(
        right,
        Ok(true),
        "expected an m=4096,t=1 hash to verify with its own parameters: {old:?}"
    );
    assert_eq!(
        wrong,
        Ok(false),
        "expected a wrong password not to verify against {old:?}"
    );
    assert!(
        needs_rehash(&old),
        "expected needs_rehash to be true for the weaker hash {old:?}"
    );
}

#[test]
fn other_variants_versions_and_each_weaker_parameter_need_rehash() {
    let base = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "pw");
    let cases = [
        ("argon2i", shaped_like(&base, "argon2i", 19, 19_456, 2)),
        ("argon2d", shaped_like(&base, "argon2d", 19, 19_456, 2)),
        (
            "argon2id v=16",
            shaped_like(&base, "argon2id", 16, 19_456, 2),
        ),
        (
            "argon2id m too low",
            shaped_like(&base, "argon2id", 19, 12_288, 2),
        ),
        (
            "argon2id t too low",
            shaped_like(&base, "argon2id", 19, 19_456, 1),
        ),
        (
            "argon2id with more memory but t too low (m=47104,t=1)",
            shaped_like(&base, "argon2id", 19, 47_104, 1),
        ),
    ];

    for (what, stored) in &cases {
        assert!(
            needs_rehash(stored),
            "expected needs_rehash to be true for the {what} hash {stored:?}"
        );
    }
}

#[test]
fn a_fresh_hash_does_not_need_rehash() {
    let stored = hash_password("brand new").expect("hashing");

    let result = needs_rehash(&stored);

    assert!(
        !result,
        "expected a hash made by hash_password to meet the current policy: {stored:?}"
    );
}

#[test]
fn a_hash_stronger_than_the_policy_does_not_need_rehash() {
    let base = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "strong");
    let cases = [
        ("t=3", shaped_like(&base, "argon2id", 19, 19_456, 3)),
        ("m=24576", shaped_like(&base, "argon2id", 19, 24_576, 2)),
        (
            "m=65536,t=10 (at the bounds)",
            shaped_like(&base, "argon2id", 19, 65_536, 10),
        ),
    ];

    for (what, stored) in &cases {
        assert!(
            !needs_rehash(stored),
            "expected {what} (above the policy's m=19456,t=2) not to need rehash: {stored:?}"
        );
    }
}
