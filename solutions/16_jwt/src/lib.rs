//! JWT access tokens: issue and verify HS256 tokens with `jsonwebtoken`, and guard axum
//! routes with an `AuthUser` extractor (401 with a `WWW-Authenticate: Bearer` challenge,
//! 403 for a valid token that lacks a role).

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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
    let claims = Claims {
        sub: subject.to_owned(),
        iss: config.issuer.clone(),
        aud: config.audience.clone(),
        iat: now,
        nbf: now,
        exp: now + config.ttl.as_secs(),
        // A random id per token: two tokens issued in the same second still differ.
        jti: uuid::Uuid::new_v4().to_string(),
        roles: roles.iter().map(|role| role.to_string()).collect(),
    };
    let key = EncodingKey::from_secret(&config.secret);
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| JwtError::Signing(e.to_string()))
}

/// Verifies `token` as of `now` (Unix seconds) and returns its claims.
///
/// Only HS256 with the config's secret, issuer and audience is accepted; `exp` and `nbf` are
/// checked against `now` with [`LEEWAY_SECS`]. Each failure maps to its own [`JwtError`].
pub fn verify(config: &JwtConfig, token: &str, now: u64) -> Result<Claims, JwtError> {
    // Pin the algorithm: the header is attacker-controlled, never let it choose.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&[&config.issuer]);
    validation.set_audience(&[&config.audience]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    // The library compares `exp`/`nbf` with the wall clock (and a 60 s default leeway): we
    // compare them with the injected `now` below instead, so the checks are testable.
    validation.validate_exp = false;
    validation.validate_nbf = false;

    let key = DecodingKey::from_secret(&config.secret);
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => JwtError::BadSignature,
            ErrorKind::InvalidAlgorithm => JwtError::WrongAlgorithm,
            ErrorKind::InvalidIssuer => JwtError::WrongIssuer,
            ErrorKind::InvalidAudience => JwtError::WrongAudience,
            _ => JwtError::Malformed,
        })?
        .claims;

    if now >= claims.exp + LEEWAY_SECS {
        return Err(JwtError::Expired);
    }
    if now + LEEWAY_SECS < claims.nbf {
        return Err(JwtError::NotYetValid);
    }
    Ok(claims)
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
        if self.0.roles.iter().any(|granted| granted == role) {
            Ok(())
        } else {
            Err(AuthError::Forbidden(role.to_owned()))
        }
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    JwtConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // The auth scheme is case-insensitive (RFC 7235); any other scheme means "no token".
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::MissingToken)?;
        let config = JwtConfig::from_ref(state);
        let claims = verify(&config, token, jsonwebtoken::get_current_timestamp())?;
        Ok(AuthUser(claims))
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        // RFC 6750 §3: a challenge on every 401; `error="invalid_token"` only when a token
        // was presented, so the client knows to refresh rather than to log in.
        let (status, challenge) = match &self {
            AuthError::MissingToken => (StatusCode::UNAUTHORIZED, Some("Bearer")),
            AuthError::InvalidToken(_) => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer error="invalid_token""#),
            ),
            AuthError::Forbidden(_) => (StatusCode::FORBIDDEN, None),
        };
        let mut response = (status, self.to_string()).into_response();
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
