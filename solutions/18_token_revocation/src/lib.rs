//! # Revoking JWTs: a blocklist that forgets, and refresh-token rotation
//!
//! Read `README.md` first.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, SetExpiry, SetOptions};
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
        self.pair(user, &uuid::Uuid::new_v4().to_string(), now)
    }

    /// The claims of a valid, unexpired, unrevoked access token.
    ///
    /// Checks, in this order: signature, algorithm (HS256 only) and kind
    /// ([`TokenError::Invalid`]), `now >= exp` ([`TokenError::Expired`]), the blocklist and the
    /// family ([`TokenError::Revoked`]: a revoked family takes its access tokens with it).
    pub async fn verify_access(&self, token: &str, now: u64) -> Result<Claims, TokenError> {
        let claims = self.decode(token, TokenKind::Access, now)?;
        // The signature proves who issued the token, not that it is still wanted: every
        // verification asks the blocklist, and whether reuse revoked the token's family (one
        // EXISTS, two keys).
        let keys = [
            self.key("revoked", &claims.jti),
            self.key("family", &claims.fam),
        ];
        let revoked: usize = self.redis.clone().exists(&keys).await?;
        if revoked > 0 {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// Revokes `token` (either kind) from `now` on: its `jti` goes on the blocklist until the
    /// token's `exp`, when it would be rejected anyway. An expired token needs no entry; an
    /// invalid one is [`TokenError::Invalid`] and stores nothing.
    pub async fn revoke(&self, token: &str, now: u64) -> Result<(), TokenError> {
        let claims = self.decode_any(token)?;
        if now >= claims.exp {
            return Ok(());
        }
        // The entry only has to outlive the token: PX = exp - now keeps the blocklist as small
        // as the set of revoked tokens that could still be presented.
        let ttl_ms = (claims.exp - now) * 1000;
        let () = self
            .redis
            .clone()
            .pset_ex(self.key("revoked", &claims.jti), 1, ttl_ms)
            .await?;
        Ok(())
    }

    /// Exchanges a refresh token for a new pair of the same family, marking it used.
    ///
    /// - Not a valid refresh token: [`TokenError::Invalid`]; expired: [`TokenError::Expired`].
    /// - Revoked itself, or its family revoked: [`TokenError::Revoked`].
    /// - Already used: [`TokenError::Reused`], and the whole family is revoked (whoever holds
    ///   its newest refresh token, the thief or the user, must log in again).
    /// - Of concurrent refreshes with one token exactly one succeeds; the others are reuse.
    pub async fn refresh(&self, refresh_token: &str, now: u64) -> Result<TokenPair, TokenError> {
        let claims = self.decode(refresh_token, TokenKind::Refresh, now)?;
        let mut redis = self.redis.clone();
        let family = self.key("family", &claims.fam);
        let revoked: usize = redis
            .exists(&[self.key("revoked", &claims.jti), family.clone()])
            .await?;
        if revoked > 0 {
            return Err(TokenError::Revoked);
        }
        // Check-and-mark in ONE command: SET NX succeeds for exactly one caller. A GET followed
        // by a SET lets two concurrent refreshes both see "unused".
        let ttl_ms = (claims.exp - now) * 1000;
        let options = SetOptions::default()
            .conditional_set(redis::ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(ttl_ms));
        let marked: Option<String> = redis
            .set_options(self.key("used", &claims.jti), 1, options)
            .await?;
        if marked.is_none() {
            let family_ttl_ms = self.config.refresh_ttl.as_secs() * 1000;
            let () = redis.pset_ex(&family, 1, family_ttl_ms).await?;
            return Err(TokenError::Reused);
        }
        self.pair(&claims.sub, &claims.fam, now)
    }

    fn pair(&self, user: &str, family: &str, now: u64) -> Result<TokenPair, TokenError> {
        Ok(TokenPair {
            access: self.sign(user, family, TokenKind::Access, now)?,
            refresh: self.sign(user, family, TokenKind::Refresh, now)?,
        })
    }

    fn sign(
        &self,
        user: &str,
        family: &str,
        kind: TokenKind,
        now: u64,
    ) -> Result<String, TokenError> {
        let ttl = match kind {
            TokenKind::Access => self.config.access_ttl,
            TokenKind::Refresh => self.config.refresh_ttl,
        };
        let claims = Claims {
            sub: user.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
            fam: family.to_owned(),
            kind,
        };
        let key = EncodingKey::from_secret(&self.config.secret);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Signature, algorithm and claims only: no expiry, no kind, no Redis.
    fn decode_any(&self, token: &str) -> Result<Claims, TokenError> {
        // Pinned to HS256: the header is the attacker's, never let it pick the algorithm.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        // `exp` is compared with the injected `now`, not the library's wall clock.
        validation.validate_exp = false;
        let key = DecodingKey::from_secret(&self.config.secret);
        jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    fn decode(&self, token: &str, kind: TokenKind, now: u64) -> Result<Claims, TokenError> {
        let claims = self.decode_any(token)?;
        if claims.kind != kind {
            return Err(TokenError::Invalid);
        }
        if now >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }
}
