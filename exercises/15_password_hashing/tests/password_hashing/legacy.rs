//! Hashes users already have: Argon2i, Argon2d, version 16 and bcrypt verify.

use super::{bcrypt_hash, legacy_argon2};
use argon2::{Algorithm, Version};
use password_hashing::{needs_rehash, verify_password};

#[test]
fn argon2i_argon2d_and_version_16_hashes_verify() {
    let cases = [
        ("argon2i", Algorithm::Argon2i, Version::V0x13),
        ("argon2d", Algorithm::Argon2d, Version::V0x13),
        ("argon2id v=16", Algorithm::Argon2id, Version::V0x10),
    ];

    for (what, algorithm, version) in cases {
        let stored = legacy_argon2(algorithm, version, 4096, 1, "pw");
        let right = verify_password("pw", &stored);
        let wrong = verify_password("pv", &stored);
        assert_eq!(
            right,
            Ok(true),
            "expected the {what} hash {stored:?} to verify with its own algorithm and version"
        );
        assert_eq!(
            wrong,
            Ok(false),
            "expected a wrong password not to verify against the {what} hash {stored:?}"
        );
    }
}

#[test]
fn a_legacy_bcrypt_hash_verifies_and_needs_rehash() {
    // Cost 4 keeps the test fast; `$2b$` is what passlib writes, `$2a$` and `$2y$` are older.
    for (prefix, version) in [
        ("$2a$04$", bcrypt::Version::TwoA),
        ("$2b$04$", bcrypt::Version::TwoB),
        ("$2y$04$", bcrypt::Version::TwoY),
    ] {
        let stored = bcrypt_hash("hunter2", version);
        assert!(
            stored.starts_with(prefix),
            "test setup: expected a {prefix} hash, got {stored:?}"
        );

        let right = verify_password("hunter2", &stored);
        let wrong = verify_password("hunter3", &stored);

        assert_eq!(
            right,
            Ok(true),
            "expected the bcrypt hash {stored:?} to verify"
        );
        assert_eq!(
            wrong,
            Ok(false),
            "expected a wrong password not to verify against {stored:?}"
        );
        assert!(
            needs_rehash(&stored),
            "expected the bcrypt hash {stored:?} to need rehash"
        );
    }
}

#[test]
fn a_bcrypt_user_with_a_password_over_72_bytes_still_logs_in() {
    let password = "a long passphrase that passlib once hashed, ".repeat(3);
    // bcrypt reads the first 72 bytes: the legacy hash was made from them.
    let stored = bcrypt::hash(&password, 4).expect("bcrypt can hash in the test");

    let result = verify_password(&password, &stored);

    assert_eq!(
        result,
        Ok(true),
        "expected a {}-byte password to verify against its own bcrypt hash {stored:?} \
         (bcrypt reads its first 72 bytes, as when the hash was made)",
        password.len()
    );
}
