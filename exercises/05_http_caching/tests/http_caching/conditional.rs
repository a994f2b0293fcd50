//! Conditional requests: If-None-Match in every form it comes in, answered with 304 and no body.

use super::*;

#[tokio::test]
async fn if_none_match_accepts_lists_weak_tags_and_a_star() {
    let etag = strong_etag(b"{}");

    for (header_value, expected) in [
        (etag.clone(), true),
        (format!("\"other\", {etag}"), true),
        (format!("\"a\",{etag} , \"b\""), true),
        (format!("W/{etag}"), true),
        ("*".to_string(), true),
        ("\"other\"".to_string(), false),
        (etag.trim_matches('"').to_string() + "0", false),
    ] {
        assert_eq!(
            if_none_match_matches(&header_value, &etag),
            expected,
            "If-None-Match: {header_value} against ETag {etag}: expected {expected} (RFC 9110: \
             a list of tags, compared weakly, or *)"
        );
    }
}

#[test]
fn if_none_match_refuses_tags_that_only_resemble_the_etag() {
    let etag = strong_etag(b"{}");
    let hex = etag.trim_matches('"');

    for header_value in [
        String::new(),
        "W/\"other\"".to_string(),
        format!("\"{hex}0\""),
        format!("\"0{hex}\""),
        format!("\"{}\"", &hex[..63]),
        format!("\"a\", \"{}\"", &hex[1..]),
    ] {
        assert!(
            !if_none_match_matches(&header_value, &etag),
            "If-None-Match: {header_value:?} against ETag {etag}: a tag matches only when it \
             is equal (ignoring W/), expected false"
        );
    }
}

#[tokio::test]
async fn a_list_a_weak_tag_or_a_star_gets_304_over_http() {
    let state = state();
    let etag = send(&state, "/api/products/7", &[])
        .await
        .header(header::ETAG)
        .to_owned();

    for header_value in [format!("\"other\", W/{etag}"), "*".to_string()] {
        let reply = send(
            &state,
            "/api/products/7",
            &[(header::IF_NONE_MATCH, &header_value)],
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_MODIFIED,
            "GET /api/products/7 with If-None-Match: {header_value} (current ETag {etag}): \
             the handler must compare as if_none_match_matches does"
        );
        assert!(reply.body.is_empty(), "a 304 has no body");
    }
}

#[tokio::test]
async fn a_current_copy_gets_304_with_no_body() {
    let state = state();
    let etag = send(&state, "/api/products/7", &[])
        .await
        .header(header::ETAG)
        .to_owned();

    let reply = send(&state, "/api/products/7", &[(header::IF_NONE_MATCH, &etag)]).await;

    assert_eq!(
        reply.status,
        StatusCode::NOT_MODIFIED,
        "If-None-Match: {etag}"
    );
    assert!(
        reply.body.is_empty(),
        "a 304 has no body, got {} bytes",
        reply.body.len()
    );
    assert_eq!(reply.header(header::ETAG), etag, "a 304 repeats the ETag");
    assert_eq!(
        reply.header(header::CACHE_CONTROL),
        "no-cache",
        "and Cache-Control"
    );
    assert!(
        varies_on(reply.header(header::VARY), "Accept-Language"),
        "a 304 repeats Vary: Accept-Language (a cache refreshing its copy with the 304 would \
         otherwise forget it), got Vary {:?}",
        reply.header(header::VARY)
    );
}
