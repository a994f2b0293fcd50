//! `probe` against real servers: a 200 is healthy, any other status, a non-HTTP answer, no
//! listener and a server that never answers are not.

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use docker::{PROBE_TIMEOUT, probe};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::free_port;

/// A real axum server on 127.0.0.1 whose `/healthz` answers `status`.
async fn serve_healthz(status: StatusCode) -> SocketAddr {
    // The body says "200 OK" whatever the status: only the status line may decide.
    let app = Router::new().route("/healthz", get(move || async move { (status, "200 OK") }));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a test port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn the_probe_is_true_when_healthz_answers_200() {
    let addr = serve_healthz(StatusCode::OK).await;

    let healthy = probe(addr).await;

    assert!(
        healthy,
        "GET /healthz on {addr} answers 200 OK, so probe must be true"
    );
}

#[tokio::test]
async fn the_probe_is_false_when_healthz_answers_anything_but_200() {
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::NO_CONTENT,
        StatusCode::ACCEPTED,
        StatusCode::NOT_FOUND,
    ] {
        let addr = serve_healthz(status).await;

        let healthy = probe(addr).await;

        assert!(
            !healthy,
            "GET /healthz on {addr} answers {status} (with the body \"200 OK\"): only a 200 \
             status is healthy, so probe must be false"
        );
    }
}

#[tokio::test]
async fn the_probe_is_false_when_nothing_listens() {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));

    let healthy = probe(addr).await;

    assert!(
        !healthy,
        "nothing listens on {addr}, so probe must be false"
    );
}

// On a paused clock (see `kata_testkit::silent`): nothing but the kernel answers here.
#[tokio::test(start_paused = true)]
async fn the_probe_gives_up_on_a_server_that_never_answers() {
    // The kernel accepts the connection (backlog) but nobody ever reads or writes on it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a test port");
    let addr = silent.local_addr().expect("a bound address");
    let bound = PROBE_TIMEOUT * 10;

    let healthy = tokio::time::timeout(bound, probe(addr)).await;

    assert_eq!(
        healthy,
        Ok(false),
        "a server that accepts and never answers is unhealthy: probe must return false after \
         PROBE_TIMEOUT ({PROBE_TIMEOUT:?}); Ok(false) expected, Err means it still hung after \
         {bound:?}"
    );
    drop(silent);
}

/// A TCP server on 127.0.0.1 that reads each request to its blank line, then answers `reply`
/// verbatim and closes the connection.
async fn serve_raw(reply: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind a test port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            // The whole request is read first: closing with unread bytes would reset the
            // connection, and the probe would fail for that reason instead of the answer.
            let mut request = Vec::new();
            let mut chunk = [0_u8; 512];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = stream.write_all(reply.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    addr
}

#[tokio::test]
async fn the_probe_is_false_when_the_answer_is_not_an_http_status_line() {
    // Same shape as HTTP's status line, 200 in the second word: another protocol, or an
    // HTTP version that is not 1.x (a prefix check on "HTTP/" lets these through).
    for reply in [
        "RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n",
        "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/2 200\r\ncontent-length: 0\r\n\r\n",
        "HTTP/0.9 200 OK\r\n\r\n",
    ] {
        let addr = serve_raw(reply).await;

        let healthy = probe(addr).await;

        assert!(
            !healthy,
            "the server on {addr} answers {:?}: that is not an HTTP/1.x status line, so it is \
             not a healthy kata-service and probe must be false",
            reply.lines().next().unwrap_or_default()
        );
    }
}
