//! HTTP caching: tell browsers and CDNs what they may keep and for how long. Fingerprinted
//! static assets are cached for a year, API responses are revalidated with a strong `ETag`
//! (`304 Not Modified`), responses that depend on a request header say so with `Vary`, and
//! a user's own data never lands in a shared cache.

#![allow(unused_variables)] // The stub does not use its arguments yet: delete this line when done.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;

/// `Cache-Control` of a fingerprinted asset: its content can never change under that name.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything a cache may keep but must revalidate before each use.
pub const REVALIDATE: &str = "no-cache";
/// `Cache-Control` of responses for one user only.
pub const PRIVATE: &str = "private, no-store";

/// A static file, known by its plain name (`"app.js"`).
#[derive(Debug, Clone)]
pub struct Asset {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// A product, with its name in each language the API speaks.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: u32,
    pub name_en: String,
    pub name_fr: String,
    pub price_cents: i64,
}

/// The JSON representation of a product in one language.
#[derive(Debug, Clone, Serialize)]
pub struct ProductView {
    pub id: u32,
    pub name: String,
    pub price_cents: i64,
    pub language: &'static str,
}

#[derive(Clone, Default)]
pub struct AppState {
    pub assets: Arc<Vec<Asset>>,
    pub products: Arc<RwLock<HashMap<u32, Product>>>,
    /// Bearer token -> user name.
    pub sessions: Arc<HashMap<String, String>>,
}

/// `app.js` + content -> `app.<first 16 hex digits of the SHA-256 of the content>.js`.
pub fn fingerprinted_name(name: &str, bytes: &[u8]) -> String {
    // TODO: hash the bytes with `Sha256::digest`, keep 16 hex digits, put them before the extension.
    todo!("fingerprint the name")
}

/// A strong entity tag for a body: the quoted hex SHA-256 of its bytes.
pub fn strong_etag(body: &[u8]) -> String {
    // TODO: the quoted hex SHA-256 of the body.
    todo!("a strong ETag")
}

/// Does an `If-None-Match` header value match `etag`? It is `*` or a comma-separated list of
/// tags, compared weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`.
pub fn if_none_match_matches(if_none_match: &str, etag: &str) -> bool {
    // TODO: `*`, or any tag of the comma-separated list equal to `etag` once `W/` is ignored.
    todo!("If-None-Match")
}

pub fn app(state: AppState) -> Router {
    // TODO: three routes and the state.
    todo!("build the router")
}

/// `GET /static/{file}`: under its fingerprinted name an asset is immutable; under its plain
/// name it is revalidated; any other name (an old fingerprint) is 404.
pub async fn static_asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Response {
    // TODO: fingerprinted name: IMMUTABLE; plain name: revalidated with an ETag; else 404.
    todo!("serve an asset")
}

/// `GET /api/products/{id}`: JSON in the language of `Accept-Language` (`fr` or English),
/// revalidated with a strong ETag; `Vary: Accept-Language` since the body depends on it.
pub async fn product_show(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    request: HeaderMap,
) -> Response {
    // TODO: pick the language, serialise, answer 200 or 304 with ETag, Cache-Control and Vary.
    todo!("serve a product")
}

/// `GET /api/me` with `Authorization: Bearer <token>`: the user's own data, which no shared
/// cache may keep (nor the 401).
pub async fn me(State(state): State<AppState>, request: HeaderMap) -> Response {
    // TODO: 200 with the user for a known Bearer token, else 401; neither may be stored by a shared cache.
    todo!("the user's own data")
}
