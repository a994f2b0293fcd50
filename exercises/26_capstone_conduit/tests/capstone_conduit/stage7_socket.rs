//! Stage 7: the same router served over a real TCP socket, and the `conduit` binary itself.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::common::SECRET;

/// One HTTP/1.1 request on a fresh connection; returns the status code and the JSON body.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("expected to connect to the server");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Token {t}\r\n"));
    let body = body.map_or(String::new(), |b| b.to_string());
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("expected to send the request");
    let mut response = String::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("expected an answer within 60 s")
    .expect("expected a readable response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("expected an HTTP status line, but got {response:?}"));
    let json = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .filter(|body| !body.is_empty())
        .map_or(Value::Null, |body| {
            serde_json::from_str(body)
                .unwrap_or_else(|_| panic!("expected a JSON body, but got {body:?}"))
        });
    (status, json)
}

#[tokio::test]
async fn stage7_the_api_answers_over_a_real_socket() {
    let db = kata_testkit::TestDb::new(crate::SCHEMA).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let addr = listener.local_addr().expect("a bound address");
    let state = capstone_conduit::AppState::new(db.pool().await, SECRET)
        .unwrap_or_else(|e| panic!("AppState::new failed: {e}"));
    let app = capstone_conduit::app(state);
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (status, body) = http(
        addr,
        "POST",
        "/api/users",
        None,
        Some(json!({"user": {"username": "sock", "email": "sock@mail.test", "password": "password"}})),
    )
    .await;
    assert_eq!(
        status, 201,
        "expected POST /api/users over TCP to answer 201, but got {status} with {body}"
    );
    let token = body["user"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a token, but got {body}"))
        .to_owned();

    let (status, body) = http(
        addr,
        "POST",
        "/api/articles",
        Some(&token),
        Some(json!({"article": {"title": "Over the wire", "description": "d", "body": "b", "tagList": ["tcp"]}})),
    )
    .await;
    assert_eq!(
        status, 201,
        "expected POST /api/articles over TCP to answer 201, but got {status} with {body}"
    );

    let (status, body) = http(addr, "GET", "/api/articles?tag=tcp", None, None).await;
    assert_eq!(
        status, 200,
        "expected GET /api/articles over TCP to answer 200, but got {status} with {body}"
    );
    assert_eq!(
        body["articles"][0]["slug"], "over-the-wire",
        "expected the article over TCP, but got {body}"
    );
    let (status, body) = http(addr, "GET", "/api/user", Some("not-a-jwt"), None).await;
    assert_eq!(
        status, 401,
        "expected a bad token over TCP to answer 401, but got {status} with {body}"
    );
}

/// The package's binary: `conduit` in the exercise, `conduit-solution` in the reference
/// solution (two bins of one name would collide in target/).
const BINARY: Option<&str> = match option_env!("CARGO_BIN_EXE_conduit") {
    Some(path) => Some(path),
    None => option_env!("CARGO_BIN_EXE_conduit-solution"),
};

#[tokio::test]
async fn stage7_the_binary_migrates_an_empty_database_and_serves_the_api() {
    let db = kata_testkit::TestDb::empty().await;
    let binary = BINARY.expect("this package builds a conduit binary");
    let mut server = tokio::process::Command::new(binary)
        .env("DATABASE_URL", db.url())
        .env("JWT_SECRET", "stage7-binary-secret")
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("expected to start {binary}: {e}"));
    let stdout = server.stdout.take().expect("a piped stdout");

    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("expected `listening on <address>` on stdout within 60 s")
    .ok();
    let addr: SocketAddr = line
        .strip_prefix("listening on ")
        .and_then(|addr| addr.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "expected the conduit binary (given main) to migrate the empty database, then \
                 print `listening on <address>`, but its first line was {line:?} (it exited: {:?})",
                server.try_wait()
            )
        });

    let (status, body) = http(addr, "GET", "/api/tags", None, None).await;
    assert_eq!(
        (status, &body),
        (200, &json!({"tags": []})),
        "expected GET /api/tags on the binary to answer 200 with no tags, but got {status} {body}"
    );
}
