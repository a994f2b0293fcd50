//! Hidden tests for the HTTP caching kata: the headers a browser or CDN acts on, read from
//! responses of axum's real stack.
//!
//! Rule (README) -> test:
//! - fingerprint = first 16 lowercase hex of SHA-256, before the last extension ->
//!   `assets::a_fingerprint_follows_the_content_and_keeps_the_extension`,
//!   `assets::a_fingerprint_is_the_first_16_hex_digits_of_the_sha256_before_the_last_extension`
//! - strong_etag = quoted lowercase hex SHA-256 -> `a_strong_etag_is_the_quoted_hex_sha256`
//! - fingerprinted asset: bytes, content type, IMMUTABLE, for every asset ->
//!   `assets::a_fingerprinted_asset_is_cached_for_a_year_as_immutable`,
//!   `assets::every_asset_is_served_under_its_own_names_with_its_own_content_type`
//! - plain name: bytes, no-cache, ETag, 304 -> `assets::an_asset_under_its_plain_name_is_revalidated_not_kept`,
//!   `assets::an_asset_under_its_plain_name_answers_304_to_a_current_copy`
//! - any other name is 404 (old, another asset's, upper case, unknown) ->
//!   `assets::an_old_fingerprint_is_not_found`, `assets::a_name_that_is_not_exactly_a_current_fingerprint_is_not_found`
//! - product JSON, ETag = strong_etag(body) on every instance, no-cache ->
//!   `an_api_response_carries_a_strong_etag_of_its_body`
//! - French only when Accept-Language starts with fr ->
//!   `the_product_is_french_only_when_accept_language_starts_with_fr`
//! - Vary: Accept-Language, another language's ETag does not match ->
//!   `a_response_that_depends_on_accept_language_says_vary`
//! - changed product, new ETag -> `a_changed_resource_gets_a_new_etag_and_a_full_response`
//! - unknown id 404 -> `an_unknown_product_is_not_found`
//! - 304: no body, ETag, Cache-Control, Vary -> `conditional::a_current_copy_gets_304_with_no_body`
//! - If-None-Match `*`, lists, weak, no prefix/substring match ->
//!   `conditional::if_none_match_accepts_lists_weak_tags_and_a_star`,
//!   `conditional::if_none_match_refuses_tags_that_only_resemble_the_etag`,
//!   `conditional::a_list_a_weak_tag_or_a_star_gets_304_over_http`
//! - /api/me: 200 `{"user": name}` for a known Bearer token, else 401; private, no-store ->
//!   `a_users_own_data_never_lands_in_a_shared_cache`, `only_a_known_bearer_token_gets_the_users_data`
//! - 304 over a socket has no body -> `a_304_over_a_real_socket_has_no_body`

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_caching::{
    AppState, Asset, Product, app, fingerprinted_name, if_none_match_matches, strong_etag,
};
use kata_testkit::http::{self, Reply};

#[path = "http_caching/assets.rs"]
mod assets;
#[path = "http_caching/conditional.rs"]
mod conditional;

const APP_JS: &[u8] = b"console.log('v1');";
const STYLE_CSS: &[u8] = b"body { color: teal; }";
/// SHA-256 of `b"abc"` (FIPS 180-2 test vector).
const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn state() -> AppState {
    let product = Product {
        id: 7,
        name_en: "Kettle".into(),
        name_fr: "Bouilloire".into(),
        price_cents: 2999,
    };
    AppState {
        assets: Arc::new(vec![
            Asset {
                name: "app.js".into(),
                content_type: "text/javascript",
                bytes: APP_JS.to_vec(),
            },
            Asset {
                name: "style.css".into(),
                content_type: "text/css",
                bytes: STYLE_CSS.to_vec(),
            },
        ]),
        products: Arc::new(RwLock::new(HashMap::from([(7, product)]))),
        sessions: Arc::new(HashMap::from([("t0k3n".to_string(), "ada".to_string())])),
    }
}

/// Does a `Vary` value list `name` (header names compare case-insensitively)?
fn varies_on(vary: &str, name: &str) -> bool {
    vary.split(',').any(|v| v.trim().eq_ignore_ascii_case(name))
}

/// The media type of a `Content-Type`, without parameters such as `charset`.
fn media_type(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

async fn send(state: &AppState, uri: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let request = request.body(Body::empty()).expect("a valid request");
    http::send(&app(state.clone()), request).await
}

#[tokio::test]
async fn an_api_response_carries_a_strong_etag_of_its_body() {
    let (first, second) = (state(), state());

    let reply = send(&first, "/api/products/7", &[]).await;
    let other_instance = send(&second, "/api/products/7", &[]).await;

    assert_eq!(reply.status, StatusCode::OK);
    let etag = reply.header(header::ETAG);
    assert_eq!(
        etag,
        strong_etag(&reply.body),
        "expected the ETag to be strong_etag(body) (a strong tag derived from the bytes sent)"
    );
    assert_eq!(
        other_instance.header(header::ETAG),
        etag,
        "two instances serving the same bytes must give the same ETag (behind a load \
         balancer, anything else breaks revalidation)"
    );
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
    let content_type = reply.header(header::CONTENT_TYPE);
    assert_eq!(
        media_type(content_type),
        "application/json",
        "a product is JSON, got Content-Type {content_type:?}"
    );
    let body = reply.json();
    assert!(
        body["id"] == 7 && body["price_cents"] == 2999,
        "expected product 7 at 2999 cents, got {body}"
    );
}

#[tokio::test]
async fn a_changed_resource_gets_a_new_etag_and_a_full_response() {
    let state = state();
    let old = send(&state, "/api/products/7", &[])
        .await
        .header(header::ETAG)
        .to_owned();
    state
        .products
        .write()
        .unwrap()
        .get_mut(&7)
        .unwrap()
        .price_cents = 2499;

    let reply = send(&state, "/api/products/7", &[(header::IF_NONE_MATCH, &old)]).await;

    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the price changed: the old ETag must not get a 304 (the client would keep the old price)"
    );
    assert_ne!(reply.header(header::ETAG), old, "new content, new ETag");
    let body = reply.json();
    assert_eq!(body["price_cents"], 2499, "body: {body}");
}

#[tokio::test]
async fn a_response_that_depends_on_accept_language_says_vary() {
    let state = state();

    let english = send(
        &state,
        "/api/products/7",
        &[(header::ACCEPT_LANGUAGE, "en")],
    )
    .await;
    let french = send(
        &state,
        "/api/products/7",
        &[(header::ACCEPT_LANGUAGE, "fr-FR")],
    )
    .await;
    let english_tag = english.header(header::ETAG);
    let french_for_english_copy = send(
        &state,
        "/api/products/7",
        &[
            (header::ACCEPT_LANGUAGE, "fr"),
            (header::IF_NONE_MATCH, english_tag),
        ],
    )
    .await;

    let body = french.json();
    assert_eq!(body["name"], "Bouilloire", "Accept-Language: fr-FR: {body}");
    for reply in [&english, &french] {
        assert!(
            varies_on(reply.header(header::VARY), "Accept-Language"),
            "the body depends on Accept-Language: without Vary: Accept-Language a CDN serves \
             French to everyone; got Vary {:?}",
            reply.header(header::VARY)
        );
    }
    assert_ne!(english_tag, french.header(header::ETAG));
    assert_eq!(
        french_for_english_copy.status,
        StatusCode::OK,
        "a client holding the English copy that now asks for French must get it, not a 304"
    );
}

#[tokio::test]
async fn a_users_own_data_never_lands_in_a_shared_cache() {
    let state = state();

    let mine = send(
        &state,
        "/api/me",
        &[(header::AUTHORIZATION, "Bearer t0k3n")],
    )
    .await;
    let refused = send(&state, "/api/me", &[]).await;

    assert_eq!(
        mine.status,
        StatusCode::OK,
        "GET /api/me with a valid token"
    );
    assert_eq!(
        refused.status,
        StatusCode::UNAUTHORIZED,
        "GET /api/me without a token"
    );
    let body = mine.json();
    assert_eq!(body["user"], "ada", "GET /api/me as ada: {body}");
    for (what, reply) in [("the user's data", &mine), ("the 401", &refused)] {
        let cache_control = reply.header(header::CACHE_CONTROL);
        assert!(
            cache_control.contains("private")
                && cache_control.contains("no-store")
                && !cache_control.contains("public"),
            "{what}: expected Cache-Control: private, no-store (a CDN must not show one user's \
             data to the next), got {cache_control:?}"
        );
    }
}

#[tokio::test]
async fn a_304_over_a_real_socket_has_no_body() {
    let state = state();
    let etag = send(&state, "/api/products/7", &[])
        .await
        .header(header::ETAG)
        .to_owned();
    let server = http::serve(app(state)).await;

    let head = format!("GET /api/products/7 HTTP/1.1\r\nIf-None-Match: {etag}");
    let response = http::raw(server.addr, &head, "").await;

    assert!(
        response.starts_with("HTTP/1.1 304 Not Modified\r\n"),
        "expected a 304 over the socket, got:\n{response}"
    );
    let (_, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(body.is_empty(), "a 304 must not carry a body, got {body:?}");
}

#[test]
fn a_strong_etag_is_the_quoted_hex_sha256() {
    assert_eq!(
        strong_etag(b"abc"),
        format!("\"{ABC_SHA256}\""),
        "strong_etag(b\"abc\"): the lowercase hex SHA-256 in double quotes, no W/ (that is weak)"
    );
    assert_eq!(
        strong_etag(b""),
        "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"",
        "strong_etag of an empty body"
    );
}

#[tokio::test]
async fn the_product_is_french_only_when_accept_language_starts_with_fr() {
    let state = state();

    for (accept_language, expected) in [
        (None, "Kettle"),
        (Some("en"), "Kettle"),
        (Some("de-DE"), "Kettle"),
        (Some("en-US,en;q=0.9,fr;q=0.5"), "Kettle"),
        (Some("fr"), "Bouilloire"),
        (Some("fr-CA,en;q=0.5"), "Bouilloire"),
    ] {
        let headers: Vec<(header::HeaderName, &str)> = accept_language
            .map(|v| (header::ACCEPT_LANGUAGE, v))
            .into_iter()
            .collect();
        let reply = send(&state, "/api/products/7", &headers).await;
        assert_eq!(reply.status, StatusCode::OK, "GET /api/products/7");
        let body = reply.json();
        assert_eq!(
            body["name"], expected,
            "Accept-Language: {accept_language:?}: French only when it starts with fr, else \
             English; got {body}"
        );
    }
}

#[tokio::test]
async fn an_unknown_product_is_not_found() {
    let state = state();

    let reply = send(&state, "/api/products/8", &[]).await;

    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "GET /api/products/8: no such product"
    );
}

#[tokio::test]
async fn only_a_known_bearer_token_gets_the_users_data() {
    let state = state();

    for authorization in [
        "Bearer nope",
        "Bearer t0k3n2",
        "Bearer ",
        "Basic t0k3n",
        "t0k3n",
    ] {
        let reply = send(&state, "/api/me", &[(header::AUTHORIZATION, authorization)]).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "GET /api/me with Authorization: {authorization:?}: only `Bearer <known token>` \
             is let in"
        );
        let cache_control = reply.header(header::CACHE_CONTROL);
        assert!(
            cache_control.contains("private") && cache_control.contains("no-store"),
            "the 401 for Authorization: {authorization:?} must be private, no-store too, got \
             {cache_control:?}"
        );
    }
}
