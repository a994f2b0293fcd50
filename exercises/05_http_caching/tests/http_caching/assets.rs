//! Static assets: fingerprinted names cached for a year, plain names revalidated, every other
//! name not found.

use super::*;

#[test]
fn a_fingerprint_follows_the_content_and_keeps_the_extension() {
    let v1 = fingerprinted_name("app.js", b"one");
    let again = fingerprinted_name("app.js", b"one");
    let v2 = fingerprinted_name("app.js", b"two");

    let parts: Vec<&str> = v1.split('.').collect();
    assert!(
        parts.len() == 3 && parts[0] == "app" && parts[2] == "js",
        "expected app.<hash>.js, got {v1:?}"
    );
    assert!(
        parts[1].len() == 16 && parts[1].chars().all(|c| c.is_ascii_hexdigit()),
        "expected 16 hex digits of the content's SHA-256 in {v1:?}"
    );
    assert_eq!(v1, again, "the same content must get the same name");
    assert_ne!(
        v1, v2,
        "new content must get a new name, or caches keep serving the old one"
    );
}

#[tokio::test]
async fn a_fingerprinted_asset_is_cached_for_a_year_as_immutable() {
    let state = state();
    let name = fingerprinted_name("app.js", APP_JS);

    let reply = send(&state, &format!("/static/{name}"), &[]).await;

    assert_eq!(reply.status, StatusCode::OK, "GET /static/{name}");
    assert_eq!(reply.body, APP_JS, "GET /static/{name} must serve the file");
    assert_eq!(
        reply.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable",
        "a fingerprinted asset never changes under its name: cache it for a year"
    );
    assert_eq!(reply.header(header::CONTENT_TYPE), "text/javascript");
}

#[tokio::test]
async fn an_asset_under_its_plain_name_is_revalidated_not_kept() {
    let state = state();

    let reply = send(&state, "/static/app.js", &[]).await;

    assert_eq!(reply.status, StatusCode::OK, "GET /static/app.js");
    let cache_control = reply.header(header::CACHE_CONTROL);
    assert_eq!(
        cache_control, "no-cache",
        "app.js changes with every deploy: caches must revalidate it, got {cache_control:?}"
    );
    assert_eq!(reply.header(header::ETAG), strong_etag(APP_JS));
}

#[tokio::test]
async fn an_old_fingerprint_is_not_found() {
    let state = state();
    let old = fingerprinted_name("app.js", b"console.log('v0');");

    let reply = send(&state, &format!("/static/{old}"), &[]).await;

    assert_eq!(
        reply.status,
        StatusCode::NOT_FOUND,
        "a name whose hash is not the current content's must be 404, or a CDN would keep \
         today's file for a year under yesterday's name"
    );
}

#[test]
fn a_fingerprint_is_the_first_16_hex_digits_of_the_sha256_before_the_last_extension() {
    let hash = &ABC_SHA256[..16];

    for (name, expected) in [
        ("app.js", format!("app.{hash}.js")),
        ("app.min.js", format!("app.min.{hash}.js")),
        ("style.css", format!("style.{hash}.css")),
    ] {
        assert_eq!(
            fingerprinted_name(name, b"abc"),
            expected,
            "fingerprinted_name({name:?}, b\"abc\"): the first 16 lowercase hex digits of \
             SHA-256(\"abc\") = {ABC_SHA256}, before the last extension"
        );
    }
}

#[tokio::test]
async fn every_asset_is_served_under_its_own_names_with_its_own_content_type() {
    let state = state();
    let name = fingerprinted_name("style.css", STYLE_CSS);

    let fingerprinted = send(&state, &format!("/static/{name}"), &[]).await;
    let plain = send(&state, "/static/style.css", &[]).await;

    assert_eq!(fingerprinted.status, StatusCode::OK, "GET /static/{name}");
    assert_eq!(
        fingerprinted.body, STYLE_CSS,
        "GET /static/{name} must serve style.css, not another asset"
    );
    assert_eq!(
        fingerprinted.header(header::CONTENT_TYPE),
        "text/css",
        "each asset keeps its own content type"
    );
    assert_eq!(
        fingerprinted.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(plain.status, StatusCode::OK, "GET /static/style.css");
    assert_eq!(plain.body, STYLE_CSS, "GET /static/style.css");
    assert_eq!(plain.header(header::CONTENT_TYPE), "text/css");
    assert_eq!(plain.header(header::CACHE_CONTROL), "no-cache");
    assert_eq!(plain.header(header::ETAG), strong_etag(STYLE_CSS));
}

#[tokio::test]
async fn an_asset_under_its_plain_name_answers_304_to_a_current_copy() {
    let state = state();
    let etag = strong_etag(APP_JS);

    let reply = send(&state, "/static/app.js", &[(header::IF_NONE_MATCH, &etag)]).await;

    assert_eq!(
        reply.status,
        StatusCode::NOT_MODIFIED,
        "GET /static/app.js with If-None-Match: {etag} (its current ETag): a revalidated \
         asset answers 304, or the browser downloads it again on every page"
    );
    assert!(reply.body.is_empty(), "a 304 has no body");
    assert_eq!(reply.header(header::ETAG), etag, "a 304 repeats the ETag");
    assert_eq!(reply.header(header::CACHE_CONTROL), "no-cache");
}

#[tokio::test]
async fn a_name_that_is_not_exactly_a_current_fingerprint_is_not_found() {
    let state = state();
    let current = fingerprinted_name("app.js", APP_JS);
    let full_hash = strong_etag(APP_JS).trim_matches('"').to_string();
    let css_hash = fingerprinted_name("style.css", STYLE_CSS)
        .split('.')
        .nth(1)
        .unwrap()
        .to_string();

    for name in [
        current
            .to_uppercase()
            .replace(".JS", ".js")
            .replace("APP.", "app."),
        format!("app.{css_hash}.js"),
        format!("app.{full_hash}.js"),
        format!("{current}.map"),
        "missing.js".to_string(),
    ] {
        let reply = send(&state, &format!("/static/{name}"), &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "GET /static/{name}: only app.js and its exact current fingerprint {current} \
             exist; anything else is 404"
        );
    }
}
