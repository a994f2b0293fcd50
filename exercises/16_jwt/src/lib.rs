//! JWT access tokens: issue and verify HS256 tokens with `jsonwebtoken`, and guard axum
//! routes with an `AuthUser` extractor (401 with a `WWW-Authenticate: Bearer` challenge,
//! 403 for a valid token that lacks a role).

#![allow(unused_variables)] // The stub does not use its arguments yet: delete this line when done.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
///
/// A token is expired when `now >= exp + LEEWAY_SECS` and not yet valid when
/// `now + LEEWAY_SECS < nbf`.
pub const LEEWAY_SECS: u64 = 5;

/// Who signs the tokens, for whom, and for how long they live.
#[derive(Clone)]
pub struct JwtConfig {
    /// The HMAC secret shared by the issuer and the verifier.
    pub secret: Vec<u8>,
    /// The `iss` claim written into tokens and required when verifying.
    pub issuer: String,
    /// The `aud` claim written into tokens and required when verifying.
    pub audience: String,
    /// Lifetime of a token: `exp = iat + ttl` (whole seconds).
    pub ttl: Duration,
}

/// The claims of an access token. Times are Unix timestamps in seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user the token was issued to.
    pub sub: String,
    /// Issuer.
    pub iss: String,
    /// Audience: the service the token is meant for.
    pub aud: String,
    /// Issued at.
    pub iat: u64,
    /// Not before.
    pub nbf: u64,
    /// Expiry.
    pub exp: u64,
    /// Unique token id (a random UUID), e.g. for revocation lists.
    pub jti: String,
    /// Roles granted to the subject, e.g. `["admin"]`.
    pub roles: Vec<String>,
}

/// Why a token was rejected (or could not be issued).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by someone else")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token is not signed with HS256")]
    WrongAlgorithm,
    #[error("the token is not a well-formed JWT with our claims")]
    Malformed,
    #[error("could not sign the token: {0}")]
    Signing(String),
}

/// Issues an HS256 token for `subject` with `roles`, as of `now` (Unix seconds).
///
/// `iat = nbf = now`, `exp = now + ttl`, `iss`/`aud` from the config, and a fresh random `jti`.
pub fn issue(
    config: &JwtConfig,
    subject: &str,
    roles: &[&str],
    now: u64,
) -> Result<String, JwtError> {
    // TODO: build the Claims (iat = nbf = now, exp = now + ttl, a fresh random jti, e.g.
    // `uuid::Uuid::new_v4()`), then sign them with `jsonwebtoken::encode`, an HS256 `Header`
    // and `EncodingKey::from_secret`.
    todo!("issue an HS256 token")
}

/// Verifies `token` as of `now` (Unix seconds) and returns its claims.
///
/// Only HS256 with the config's secret, issuer and audience is accepted; `exp` and `nbf` are
/// checked against `now` with [`LEEWAY_SECS`]. Each failure maps to its own [`JwtError`].
pub fn verify(config: &JwtConfig, token: &str, now: u64) -> Result<Claims, JwtError> {
    // TODO: decode with a `Validation` that pins HS256 and checks iss and aud, map each
    // `jsonwebtoken` error kind to its `JwtError`, then check `exp` and `nbf` against `now`
    // with LEEWAY_SECS (the library's own time checks read the wall clock, not `now`).
    todo!("verify the token")
}

/// An authenticated request: extracting it verifies `Authorization: Bearer <token>` against
/// the [`JwtConfig`] taken from the router state (via [`FromRef`]), as of the wall clock.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer ...` header: 401 with `WWW-Authenticate: Bearer`.
    #[error("a bearer token is required")]
    MissingToken,
    /// A bearer token that does not verify: 401 with
    /// `WWW-Authenticate: Bearer error="invalid_token"`.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] JwtError),
    /// A valid token without the required role: 403.
    #[error("the role {0:?} is required")]
    Forbidden(String),
}

impl AuthUser {
    /// `Ok(())` when the token grants `role`, otherwise [`AuthError::Forbidden`].
    pub fn require_role(&self, role: &str) -> Result<(), AuthError> {
        // TODO: Ok(()) when the claims' roles contain `role`, else AuthError::Forbidden.
        todo!("check the role")
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    JwtConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // TODO: read `Authorization: Bearer <token>` (scheme case-insensitive; anything else
        // is MissingToken), get the JwtConfig with `JwtConfig::from_ref(state)` and verify the
        // token as of the wall clock (`jsonwebtoken::get_current_timestamp()`).
        todo!("extract the authenticated user")
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        // TODO: 401 + `WWW-Authenticate: Bearer` for MissingToken, 401 +
        // `WWW-Authenticate: Bearer error="invalid_token"` for InvalidToken, 403 for Forbidden.
        todo!("turn the error into a response")
    }
}
