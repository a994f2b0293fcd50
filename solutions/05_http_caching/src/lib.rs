//! HTTP caching: tell browsers and CDNs what they may keep and for how long. Fingerprinted
//! static assets are cached for a year, API responses are revalidated with a strong `ETag`
//! (`304 Not Modified`), responses that depend on a request header say so with `Vary`, and
//! a user's own data never lands in a shared cache.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use sha2::{Digest, Sha256};

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
    let hash = &hex(&Sha256::digest(bytes))[..16];
    match name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{hash}.{extension}"),
        None => format!("{name}.{hash}"),
    }
}

/// A strong entity tag for a body: the quoted hex SHA-256 of its bytes.
pub fn strong_etag(body: &[u8]) -> String {
    format!("\"{}\"", hex(&Sha256::digest(body)))
}

/// Does an `If-None-Match` header value match `etag`? It is `*` or a comma-separated list of
/// tags, compared weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`.
pub fn if_none_match_matches(if_none_match: &str, etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .any(|candidate| opaque(candidate) == opaque(etag))
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/static/{file}", get(static_asset))
        .route("/api/products/{id}", get(product_show))
        .route("/api/me", get(me))
        .with_state(state)
}

/// `GET /static/{file}`: under its fingerprinted name an asset is immutable; under its plain
/// name it is revalidated; any other name (an old fingerprint) is 404.
pub async fn static_asset(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Response {
    for asset in state.assets.iter() {
        if file == fingerprinted_name(&asset.name, &asset.bytes) {
            let headers = [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, IMMUTABLE),
            ];
            return (headers, asset.bytes.clone()).into_response();
        }
        if file == asset.name {
            return conditional(&request, asset.content_type, asset.bytes.clone(), None);
        }
    }
    StatusCode::NOT_FOUND.into_response()
}

/// `GET /api/products/{id}`: JSON in the language of `Accept-Language` (`fr` or English),
/// revalidated with a strong ETag; `Vary: Accept-Language` since the body depends on it.
pub async fn product_show(
    State(state): State<AppState>,
    Path(id): Path<u32>,
    request: HeaderMap,
) -> Response {
    let Some(product) = state.products.read().unwrap().get(&id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let french = request
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("fr"));
    let view = ProductView {
        id: product.id,
        name: if french {
            product.name_fr
        } else {
            product.name_en
        },
        price_cents: product.price_cents,
        language: if french { "fr" } else { "en" },
    };
    let body = serde_json::to_vec(&view).expect("a product serialises");
    conditional(&request, "application/json", body, Some("Accept-Language"))
}

/// `GET /api/me` with `Authorization: Bearer <token>`: the user's own data, which no shared
/// cache may keep (nor the 401).
pub async fn me(State(state): State<AppState>, request: HeaderMap) -> Response {
    let user = request
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| state.sessions.get(token));
    let no_store = [(header::CACHE_CONTROL, PRIVATE)];
    match user {
        Some(user) => (no_store, Json(serde_json::json!({ "user": user }))).into_response(),
        None => (StatusCode::UNAUTHORIZED, no_store).into_response(),
    }
}

/// A revalidatable response: 304 with no body when the client's copy is current, else 200.
fn conditional(
    request: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
    vary: Option<&'static str>,
) -> Response {
    let etag = strong_etag(&body);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| if_none_match_matches(v, &etag));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is ASCII"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    if let Some(vary) = vary {
        headers.insert(header::VARY, HeaderValue::from_static(vary));
    }
    // A 304 repeats the validators and caching headers but never carries a body.
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (headers, body).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
