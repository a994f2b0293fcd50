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

use argon2::password_hash::Error as PhcError;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

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
    check_length(password)?;
    // `hash_password` draws a new random salt from the OS for every call, so two users with
    // the same password get different hashes. The parameters are spelled out, not defaulted.
    let hash = current_policy()
        .hash_password(password.as_bytes())
        .map_err(|e| HashError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
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
    check_length(password)?;
    // Legacy bcrypt hashes (e.g. from Python's passlib) still let their users log in.
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        let cost = stored
            .parse::<bcrypt::HashParts>()
            .map_err(malformed)?
            .get_cost();
        if cost > MAX_BCRYPT_COST {
            return Err(too_costly(format!("bcrypt cost {cost}")));
        }
        // `verify` reads the first 72 bytes only, as the hash was made (`non_truncating_verify`
        // would lock out every legacy user whose password is longer).
        return bcrypt::verify(password, stored).map_err(malformed);
    }
    let (parsed, _) = parse_phc(stored)?;
    // The verifier takes algorithm, version and parameters from `parsed` (not from the
    // `Argon2` value) and compares the outputs in constant time.
    match Argon2::default().verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(PhcError::PasswordInvalid) => Ok(false),
        Err(e) => Err(malformed(e)),
    }
}

/// Says whether a stored hash should be replaced by a fresh [`hash_password`] hash after the
/// next successful login: `true` for bcrypt, argon2i, argon2d, Argon2 version 16, Argon2id
/// with `m` or `t` below the current policy, and anything unparsable or above the bounds;
/// `false` for Argon2id v=19 at or above the policy (and within the bounds).
pub fn needs_rehash(stored: &str) -> bool {
    let Ok((parsed, params)) = parse_phc(stored) else {
        return true; // bcrypt, or something no one can log in with
    };
    // Compare with `<`, not `!=`: a hash that is stronger than the policy is fine as it is.
    // (`p` is at least 1 in every valid hash, so it can never be below the policy's 1.)
    parsed.algorithm != argon2::ARGON2ID_IDENT
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() < M_COST_KIB
        || params.t_cost() < T_COST
}

/// Parses a PHC string that has both its salt and its hash part, and costs within the bounds.
fn parse_phc(stored: &str) -> Result<(PasswordHash, Params), HashError> {
    // Parse, never unwrap: a corrupt row must be an error, not a crashed request.
    let parsed = PasswordHash::new(stored).map_err(malformed)?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(HashError::MalformedHash("no salt or no hash part".into()));
    }
    let params = Params::try_from(&parsed).map_err(malformed)?;
    // The verifier allocates `m` KiB and makes `t` passes because the stored string says so:
    // one planted row with m=4194304 would cost 4 GiB per login attempt.
    if params.m_cost() > MAX_M_COST_KIB || params.t_cost() > MAX_T_COST {
        let (m, t) = (params.m_cost(), params.t_cost());
        return Err(too_costly(format!("m={m}, t={t}")));
    }
    Ok((parsed, params))
}

fn check_length(password: &str) -> Result<(), HashError> {
    if password.is_empty() {
        return Err(HashError::EmptyPassword);
    }
    // `len()` counts bytes, which is what the hasher's work depends on.
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HashError::PasswordTooLong {
            len: password.len(),
        });
    }
    Ok(())
}

fn current_policy() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("the policy is valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn too_costly(what: String) -> HashError {
    HashError::MalformedHash(format!("{what} is above the bounds this server verifies"))
}

fn malformed(e: impl std::fmt::Display) -> HashError {
    HashError::MalformedHash(e.to_string())
}
