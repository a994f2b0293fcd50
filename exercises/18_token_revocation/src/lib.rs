//! # Revoking JWTs: a blocklist that forgets, and refresh-token rotation
//!
//! Read `README.md` first.
// The stub does not use its arguments (nor the struct's fields) yet: delete this line when you
// implement it.
#![allow(unused_variables, dead_code)]

use std::time::Duration;

use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};

/// Which job a token does: an access token is sent with every request, a refresh token only
/// to [`TokenService::refresh`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of both kinds of token. Times are Unix timestamps in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// Issued at.
    pub iat: u64,
    /// Expiry: the token is rejected from `now >= exp` on.
    pub exp: u64,
    /// Unique token id (a random UUID): what the blocklist and the used-marks are keyed by.
    pub jti: String,
    /// The family: one random id per login, carried by every token that descends from it
    /// through refreshes.
    pub fam: String,
    /// Access or refresh.
    pub kind: TokenKind,
}

/// What a login or a refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
}

/// Signing key and lifetimes.
#[derive(Clone)]
pub struct TokenConfig {
    /// The HS256 secret.
    pub secret: Vec<u8>,
    /// Lifetime of an access token (whole seconds).
    pub access_ttl: Duration,
    /// Lifetime of a refresh token (whole seconds).
    pub refresh_ttl: Duration,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, another algorithm (`none` included), not a JWT, or the wrong kind.
    #[error("the token is not a valid token of the expected kind")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    /// On the blocklist, or its family has been revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// A refresh token presented a second time: its whole family is revoked now.
    #[error("the refresh token was already used: its family is revoked")]
    Reused,
    #[error("could not sign the token: {0}")]
    Signing(String),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Issues, verifies, revokes and refreshes tokens; Redis holds the revocation state.
///
/// Keys (all under `prefix`), each with a TTL that ends when it stops mattering:
/// - `{prefix}:revoked:{jti}`: a revoked token, until its `exp`;
/// - `{prefix}:used:{jti}`: a refresh token already exchanged, until its `exp`;
/// - `{prefix}:family:{fam}`: a revoked family, for `refresh_ttl` (no token of the family
///   lives longer).
pub struct TokenService {
    redis: ConnectionManager,
    prefix: String,
    config: TokenConfig,
}

impl TokenService {
    pub fn new(redis: ConnectionManager, prefix: &str, config: TokenConfig) -> TokenService {
        TokenService {
            redis,
            prefix: prefix.to_owned(),
            config,
        }
    }

    /// A login: a new family, an access token and a refresh token issued at `now`.
    pub fn issue(&self, user: &str, now: u64) -> Result<TokenPair, TokenError> {
        // TODO: a new family id (a random UUID), then an access and a refresh token of it,
        // each with its own random `jti`, `iat = now` and `exp = now + ttl`, signed HS256.
        todo!("TokenService::issue")
    }

    /// The claims of a valid, unexpired, unrevoked access token.
    ///
    /// Checks, in this order: signature, algorithm (HS256 only) and kind
    /// ([`TokenError::Invalid`]), `now >= exp` ([`TokenError::Expired`]), the blocklist and the
    /// family ([`TokenError::Revoked`]: a revoked family takes its access tokens with it).
    pub async fn verify_access(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        // TODO: decode with the algorithm pinned to HS256 and `exp` compared with `now`, check
        // the kind, then ask Redis whether `{prefix}:revoked:{jti}` or `{prefix}:family:{fam}`
        // exists.
        todo!("TokenService::verify_access")
    }

    /// Revokes `token` (either kind) from `now` on: its `jti` goes on the blocklist until the
    /// token's `exp`, when it would be rejected anyway. An expired token needs no entry; an
    /// invalid one is [`TokenError::Invalid`] and stores nothing.
    pub async fn revoke(&self, token: &str, now: u64) -> Result<(), TokenError> {
        // TODO: check the signature; nothing to store for an expired token; otherwise SET
        // `{prefix}:revoked:{jti}` with a TTL of exactly the token's remaining life.
        todo!("TokenService::revoke")
    }

    /// Exchanges a refresh token for a new pair of the same family, marking it used.
    ///
    /// - Not a valid refresh token: [`TokenError::Invalid`]; expired: [`TokenError::Expired`].
    /// - Revoked itself, or its family revoked: [`TokenError::Revoked`].
    /// - Already used: [`TokenError::Reused`], and the whole family is revoked (whoever holds
    ///   its newest refresh token, the thief or the user, must log in again).
    /// - Of concurrent refreshes with one token exactly one succeeds; the others are reuse.
    pub async fn refresh(&self, refresh_token: &str, now: u64) -> Result<TokenPair, TokenError> {
        // TODO: decode; check the token's and its family's revocation; mark it used with ONE
        // atomic command (SET NX PX); on reuse revoke the family; else issue a new pair.
        todo!("TokenService::refresh")
    }
}
