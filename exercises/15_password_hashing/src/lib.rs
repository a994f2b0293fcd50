//! Password hashing: store Argon2id PHC strings, verify old hashes, and upgrade them on login.
//!
//! The login flow this crate supports:
//!
//! ```text
//! if verify_password(&typed, &stored)? {
//!     if needs_rehash(&stored) {
//!         stored = hash_password(&typed)?; // save it: the user is now on the current policy
//!     }
//!     // logged in
//! }
//! ```
#![allow(unused_variables)] // the stub does not use its arguments yet: remove this line when done

/// Argon2id memory cost of the current policy, in KiB (OWASP's minimum: 19 MiB).
pub const M_COST_KIB: u32 = 19_456;
/// Argon2id number of passes of the current policy (OWASP's minimum).
pub const T_COST: u32 = 2;
/// Argon2id degree of parallelism of the current policy (OWASP's minimum).
pub const P_COST: u32 = 1;
/// The longest password accepted, in BYTES of UTF-8 (not characters): 1024.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The most memory a stored Argon2 hash may ask for, in KiB (64 MiB): verifying allocates it.
pub const MAX_M_COST_KIB: u32 = 65_536;
/// The most passes over that memory a stored Argon2 hash may ask for.
pub const MAX_T_COST: u32 = 10;
/// The highest cost (2^cost rounds) a stored bcrypt hash may ask for: passlib's default, 12.
pub const MAX_BCRYPT_COST: u32 = 12;

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// The password is the empty string.
    #[error("the password is empty")]
    EmptyPassword,
    /// The password is longer than [`MAX_PASSWORD_BYTES`] bytes.
    #[error("the password is {len} bytes long; at most {MAX_PASSWORD_BYTES} bytes are accepted")]
    PasswordTooLong {
        /// The password's length in bytes.
        len: usize,
    },
    /// The stored hash is not a well-formed Argon2 PHC string or bcrypt hash, or it asks for
    /// more work than the bounds ([`MAX_M_COST_KIB`], [`MAX_T_COST`], [`MAX_BCRYPT_COST`]).
    #[error("the stored hash is malformed: {0}")]
    MalformedHash(String),
    /// The hasher itself failed (e.g. the OS random number generator is unavailable).
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// Hashes `password` with Argon2id (v=19, m=[`M_COST_KIB`], t=[`T_COST`], p=[`P_COST`]) and a
/// fresh random 16-byte salt, and returns the PHC string
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// # Errors
/// [`HashError::EmptyPassword`] for `""`, [`HashError::PasswordTooLong`] above
/// [`MAX_PASSWORD_BYTES`] bytes, [`HashError::Hashing`] if the hasher fails.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    // TODO: reject empty and over-long passwords (length in bytes), then hash with
    // `argon2::Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(..)?)` and the
    // `argon2::PasswordHasher` trait's `hash_password` (it generates a random salt).
    todo!("hash the password into an argon2id PHC string")
}

/// Checks `password` against a stored hash: an Argon2 PHC string (any variant, any version,
/// any parameters: they are read from the hash) or a legacy bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
///
/// Returns `Ok(true)` if it matches and `Ok(false)` if it does not. bcrypt only ever reads
/// the first 72 bytes of a password, so a bcrypt hash matches any password whose first 72
/// bytes match (that is how the legacy hash was made); Argon2 reads every byte.
///
/// # Errors
/// The same length errors as [`hash_password`], whatever `stored` is;
/// [`HashError::MalformedHash`] if `stored` cannot be parsed, lacks its salt or hash part, or
/// asks for an Argon2 `m` above [`MAX_M_COST_KIB`], a `t` above [`MAX_T_COST`] or a bcrypt
/// cost above [`MAX_BCRYPT_COST`] (refused before any hashing). Never panics.
pub fn verify_password(password: &str, stored: &str) -> Result<bool, HashError> {
    // TODO: check the length; send bcrypt hashes to `bcrypt::verify` (after checking their
    // cost); parse the rest with `argon2::PasswordHash::new`, check its `m` and `t` against the
    // bounds, and verify with the `argon2::PasswordVerifier` trait.
    // Tell a wrong password (`Ok(false)`) apart from a broken hash (`Err`).
    todo!("verify the password against the stored hash")
}

/// Says whether a stored hash should be replaced by a fresh [`hash_password`] hash after the
/// next successful login: `true` for bcrypt, argon2i, argon2d, Argon2 version 16, Argon2id
/// with `m` or `t` below the current policy, and anything unparsable or above the bounds;
/// `false` for Argon2id v=19 at or above the policy (and within the bounds).
pub fn needs_rehash(stored: &str) -> bool {
    // TODO: parse the PHC string and compare its algorithm, version and `m`/`t` costs
    // (`argon2::Params::try_from(&parsed)`) with the policy above.
    todo!("decide whether the stored hash is below the current policy")
}
