//! Hidden tests for the password hashing kata. No database: only CPU, so each test hashes a few
//! times at most (argon2 and bcrypt are built optimised even in debug builds), and hashes that
//! only `needs_rehash` reads (or that must be refused before hashing) are edited copies of a
//! cheap real hash.
//!
//! Rule (README / stub) -> test:
//! - new hash: `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`, exactly the policy, salt >= 16 bytes
//!   -> `a_new_hash_is_an_argon2id_phc_string_with_exactly_the_policy_parameters`
//! - a fresh salt per hash -> `two_hashes_of_the_same_password_differ`; random OS bytes (every
//!   byte position varies, no clock or counter), also on 8 threads at once
//!   -> `hashing_on_many_threads_at_once_gives_distinct_random_salts_and_hashes_that_all_verify`
//! - right password `Ok(true)` -> `the_right_password_verifies`; wrong `Ok(false)`
//!   -> `a_wrong_password_does_not_verify`
//! - other parameters verify (right and wrong) and need rehash
//!   -> `rehash::a_hash_made_with_weaker_parameters_still_verifies_and_needs_rehash`; argon2i, argon2d,
//!   v=16 verify (right and wrong) -> `legacy::argon2i_argon2d_and_version_16_hashes_verify`
//! - needs rehash: argon2i, argon2d, v=16, m below, t below, m above but t below (m=47104,t=1)
//!   -> `rehash::other_variants_versions_and_each_weaker_parameter_need_rehash`
//! - no rehash: a fresh hash -> `rehash::a_fresh_hash_does_not_need_rehash`; t=3, m=24576, both at the
//!   bounds -> `rehash::a_hash_stronger_than_the_policy_does_not_need_rehash`
//! - bcrypt `$2a$`, `$2b$`, `$2y$`: right, wrong, needs rehash
//!   -> `legacy::a_legacy_bcrypt_hash_verifies_and_needs_rehash`; past 72 bytes still verifies
//!   -> `legacy::a_bcrypt_user_with_a_password_over_72_bytes_still_logs_in`
//! - every listed malformed hash: `Err(MalformedHash)`, `needs_rehash` true, no panic
//!   -> `malformed_hashes_are_errors_and_never_panic`
//! - `""`: `EmptyPassword` from both functions, Argon2 or bcrypt stored
//!   -> `an_empty_password_is_rejected`
//! - 1024 bytes hash and verify; 1025 ASCII / 513 x `é`: `PasswordTooLong { len: bytes }` from
//!   both, Argon2 or bcrypt stored -> `a_password_over_1024_bytes_is_rejected`
//! - unicode round trip, one letter off fails -> `unicode_passwords_round_trip`
//! - stored costs: m = 65536 and t = 10 verify, m = 65537 or t = 11 refused (`MalformedHash`,
//!   needs rehash) -> `bounds::argon2_costs_above_the_bounds_are_refused_and_at_the_bounds_verified`;
//!   bcrypt cost 12 verifies (and needs rehash, like any bcrypt hash), 13 refused
//!   -> `bounds::a_bcrypt_cost_above_12_is_refused_and_12_is_verified`

#[path = "password_hashing/bounds.rs"]
mod bounds;
#[path = "password_hashing/legacy.rs"]
mod legacy;
#[path = "password_hashing/rehash.rs"]
mod rehash;

use std::collections::HashSet;
use std::panic::catch_unwind;
use std::sync::Barrier;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use password_hashing::{
    HashError, MAX_PASSWORD_BYTES, hash_password, needs_rehash, verify_password,
};

/// A hash as an older release of the app (or another library) would have stored it.
fn legacy_argon2(algorithm: Algorithm, version: Version, m: u32, t: u32, password: &str) -> String {
    let params = Params::new(m, t, 1, None).expect("test parameters are valid");
    Argon2::new(algorithm, version, params)
        .hash_password(password.as_bytes())
        .expect("argon2 can hash in the test")
        .to_string()
}

/// A copy of `stored` with `from` replaced by `to`: a hash with other costs (or another name)
/// that only `needs_rehash` reads, or that must be refused before any hashing.
fn edited(stored: &str, from: &str, to: &str) -> String {
    assert!(
        stored.contains(from),
        "test setup: expected {from:?} in {stored:?}"
    );
    stored.replacen(from, to, 1)
}

/// A bcrypt hash (cost 4, fast) written with the given prefix (`2a`, `2b` or `2y`).
fn bcrypt_hash(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, 4)
        .expect("bcrypt can hash in the test")
        .format_for_version(version)
}

/// `base` (a real PHC string) with its algorithm, version and costs replaced: a well-formed hash
/// of some unknown password, for `needs_rehash` or for a verification that must not be run.
fn shaped_like(base: &str, algorithm: &str, version: u32, m: u32, t: u32) -> String {
    let fields: Vec<&str> = base.split('$').collect();
    assert_eq!(
        fields.len(),
        6,
        "test setup: expected a PHC string, got {base:?}"
    );
    let (salt, hash) = (fields[4], fields[5]);
    format!("${algorithm}$v={version}$m={m},t={t},p=1${salt}${hash}")
}

/// The decoded salt of a PHC string (at least 16 bytes).
fn salt_of(phc: &str) -> Vec<u8> {
    let parsed = argon2::PasswordHash::new(phc)
        .unwrap_or_else(|e| panic!("expected a PHC string, got {phc:?}: {e}"));
    let salt = parsed
        .salt
        .unwrap_or_else(|| panic!("expected a salt in {phc:?}"));
    assert!(
        salt.len() >= 16,
        "expected a salt of at least 16 bytes, got {} in {phc:?}",
        salt.len()
    );
    salt.to_vec()
}

/// The `m`, `t`, `p` numbers of `$argon2id$v=19$m=..,t=..,p=..$salt$hash`.
fn cost_of(phc: &str) -> (u32, u32, u32) {
    let fields: Vec<&str> = phc.split('$').collect();
    let number = |key: &str| {
        fields.get(3).and_then(|params| {
            params
                .split(',')
                .find_map(|kv| kv.strip_prefix(key)?.parse::<u32>().ok())
        })
    };
    match (number("m="), number("t="), number("p=")) {
        (Some(m), Some(t), Some(p)) => (m, t, p),
        _ => panic!("expected `m=<n>,t=<n>,p=<n>` as the 4th `$` field, but the hash is {phc:?}"),
    }
}

#[test]
fn a_new_hash_is_an_argon2id_phc_string_with_exactly_the_policy_parameters() {
    let hash = hash_password("correct horse battery staple").expect("hashing a normal password");

    let fields: Vec<&str> = hash.split('$').collect();
    assert_eq!(
        fields.len(),
        6,
        "expected `$argon2id$v=19$m=..,t=..,p=..$salt$hash`, got {hash:?}"
    );
    assert_eq!(
        fields[1], "argon2id",
        "expected the argon2id variant, got {hash:?}"
    );
    assert_eq!(
        fields[2], "v=19",
        "expected Argon2 version 19 (0x13), got {hash:?}"
    );
    let (m, t, p) = cost_of(&hash);
    assert_eq!(
        (m, t, p),
        (19_456, 2, 1),
        "expected exactly the policy m=19456 (KiB), t=2, p=1 (OWASP's minimum), but got m={m}, t={t}, p={p}"
    );
    assert!(
        fields[4].len() >= 22,
        "expected a salt of at least 16 bytes (22 base64 characters), got {:?}",
        fields[4]
    );
}

#[test]
fn two_hashes_of_the_same_password_differ() {
    let first = hash_password("same password").expect("hashing the first time");
    let second = hash_password("same password").expect("hashing the second time");

    assert_ne!(
        first, second,
        "expected a fresh random salt for every hash, but the same password hashed twice to the same string"
    );
}

#[test]
fn the_right_password_verifies() {
    let stored = hash_password("open sesame").expect("hashing");

    let result = verify_password("open sesame", &stored);

    assert_eq!(
        result,
        Ok(true),
        "expected the right password to verify against {stored:?}"
    );
}

#[test]
fn a_wrong_password_does_not_verify() {
    let stored = hash_password("open sesame").expect("hashing");

    let result = verify_password("open sesame!", &stored);

    assert_eq!(
        result,
        Ok(false),
        "expected Ok(false) for a wrong password (not an error)"
    );
}

#[test]
fn malformed_hashes_are_errors_and_never_panic() {
    let good = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "pw");
    let bcrypt_hash = bcrypt::hash("pw", 4).expect("bcrypt can hash in the test");
    let inputs = [
        String::new(),
        "not a hash".to_string(),
        good[..good.len() - 10].to_string(), // truncated in the hash part
        good[..good.rfind('$').unwrap_or(0)].to_string(), // salt but no hash part
        "$argon2id$v=19$m=19456,t=2,p=1".to_string(),
        good.replacen("m=4096", "m=abc", 1),
        good.replacen("m=4096", "m=0", 1),
        good.replacen("v=19", "v=99", 1),
        good.replacen("$argon2id$", "$argon2x$", 1),
        "$argon2id$v=19$m=19456,t=2,p=1$ü$ü".to_string(),
        "$2b$04$tooShort".to_string(),
        bcrypt_hash.replacen("$04$", "$99$", 1),
    ];

    let mut problems = Vec::new();
    for input in &inputs {
        match catch_unwind(|| verify_password("pw", input)) {
            Ok(Err(HashError::MalformedHash(_))) => {}
            Ok(other) => problems.push(format!(
                "{input:?}: expected Err(MalformedHash), got {other:?}"
            )),
            Err(_) => problems.push(format!("{input:?}: verify_password panicked")),
        }
        match catch_unwind(|| needs_rehash(input)) {
            Ok(true) => {}
            Ok(false) => problems.push(format!("{input:?}: needs_rehash said false")),
            Err(_) => problems.push(format!("{input:?}: needs_rehash panicked")),
        }
    }

    assert!(
        problems.is_empty(),
        "malformed stored hashes were mishandled:\n{}",
        problems.join("\n")
    );
}

#[test]
fn an_empty_password_is_rejected() {
    let argon2 = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "something");
    let bcrypt = bcrypt_hash("something", bcrypt::Version::TwoB);

    let hashed = hash_password("");

    assert_eq!(
        hashed,
        Err(HashError::EmptyPassword),
        "expected hash_password(\"\") to be rejected"
    );
    for stored in [&argon2, &bcrypt] {
        let verified = verify_password("", stored);
        assert_eq!(
            verified,
            Err(HashError::EmptyPassword),
            "expected verify_password(\"\", {stored:?}) to be rejected"
        );
    }
}

#[test]
fn a_password_over_1024_bytes_is_rejected() {
    assert_eq!(
        MAX_PASSWORD_BYTES, 1024,
        "the documented limit is 1024 bytes"
    );
    let argon2 = legacy_argon2(Algorithm::Argon2id, Version::V0x13, 4096, 1, "something");
    let bcrypt = bcrypt_hash("something", bcrypt::Version::TwoB);
    let longest = "a".repeat(1024);
    let too_long = "a".repeat(1025);
    let too_long_unicode = "é".repeat(513); // 513 characters, but 1026 bytes

    let at_limit = hash_password(&longest);
    let at_limit = at_limit
        .unwrap_or_else(|e| panic!("expected a 1024-byte password to be accepted, got Err({e:?})"));
    let verified = verify_password(&longest, &at_limit);
    assert_eq!(
        verified,
        Ok(true),
        "expected a 1024-byte password to verify against its own hash"
    );
    for (what, password) in [
        ("1025 ASCII bytes", &too_long),
        ("513 × 'é' = 1026 bytes", &too_long_unicode),
    ] {
        let expected = HashError::PasswordTooLong {
            len: password.len(),
        };
        let hashed = hash_password(password);
        assert_eq!(
            hashed,
            Err(expected.clone()),
            "expected hash_password to reject {what}"
        );
        for stored in [&argon2, &bcrypt] {
            let verified = verify_password(password, stored);
            assert_eq!(
                verified,
                Err(expected.clone()),
                "expected verify_password to reject {what} before hashing, against {stored:?}"
            );
        }
    }
}

#[test]
fn unicode_passwords_round_trip() {
    let password = "pässwörd 🔑 パスワード";
    let stored = hash_password(password).expect("hashing a unicode password");

    let right = verify_password(password, &stored);
    let near_miss = verify_password("passwörd 🔑 パスワード", &stored);

    assert_eq!(
        right,
        Ok(true),
        "expected the unicode password to verify against {stored:?}"
    );
    assert_eq!(
        near_miss,
        Ok(false),
        "expected a password differing in one letter not to verify"
    );
}

#[test]
fn hashing_on_many_threads_at_once_gives_distinct_random_salts_and_hashes_that_all_verify() {
    const TASKS: usize = 8;
    let barrier = Barrier::new(TASKS);

    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let password = format!("password number {i}");
                    barrier.wait(); // all eight hash at the same time
                    let stored = hash_password(&password);
                    let verified = match &stored {
                        Ok(s) => verify_password(&password, s),
                        Err(e) => Err(e.clone()),
                    };
                    (password, stored, verified)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| panic!("a hashing thread panicked"))
            })
            .collect()
    });

    let mut distinct = HashSet::new();
    for (password, stored, verified) in &results {
        let stored = stored
            .as_ref()
            .unwrap_or_else(|e| panic!("hashing {password:?} failed: {e}"));
        assert_eq!(
            *verified,
            Ok(true),
            "expected {password:?} to verify against {stored:?}"
        );
        distinct.insert(stored.clone());
    }
    assert_eq!(
        distinct.len(),
        TASKS,
        "expected {TASKS} different hashes, got {}",
        distinct.len()
    );
    // Random bytes vary in every position; a clock or a counter keeps its high bytes.
    let salts: Vec<Vec<u8>> = distinct.iter().map(|stored| salt_of(stored)).collect();
    let fixed: Vec<usize> = (0..16)
        .filter(|&i| salts.iter().all(|salt| salt[i] == salts[0][i]))
        .collect();
    assert!(
        fixed.is_empty(),
        "expected salts of random bytes, but byte(s) {fixed:?} are the same in all {TASKS} salts: {salts:02x?}"
    );
    let (other_password, _, _) = &results[0];
    let (_, stored, _) = &results[1];
    let stored = stored.as_ref().expect("checked above");
    let cross = verify_password(other_password, stored);
    assert_eq!(
        cross,
        Ok(false),
        "expected task 0's password not to verify against task 1's hash"
    );
}
