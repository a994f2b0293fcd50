//! HTTP for the web topics' tests: requests through the topic's real axum `Router` without a
//! socket (`tower::ServiceExt::oneshot`, as axum's `examples/testing` does), and raw HTTP/1.1
//! over a real one.
//!
//! ```ignore
//! let request = Request::get("/books").body(Body::empty()).expect("a valid request");
//! let reply = kata_testkit::http::send(&app, request).await;
//! assert_eq!(reply.status, StatusCode::OK, "expected 200, body: {:?}", reply.text());
//! assert_eq!(reply.header(header::CONTENT_TYPE), "application/json");
//! let books = reply.json();
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::AsHeaderName;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// How long a raw exchange over TCP may take before the test fails (a correct server answers
/// in a fraction of it).
pub const RAW_TIMEOUT: Duration = Duration::from_secs(30);

/// A response read to its end: what a test asserts on (`{:?}` shows the body as text).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads `response` to the end of its body (fails the test if the body breaks off).
    pub async fn read(response: Response<Body>) -> Reply {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap_or_else(|e| {
            panic!(
                "expected a readable body with the {} answer, but reading it failed: {e}",
                parts.status
            )
        });
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.to_bytes().to_vec(),
        }
    }

    /// The value of header `name` as an assertion shows it: `(none)` when the response has no
    /// such header, `(not text)` when its value is not visible ASCII.
    pub fn header(&self, name: impl AsHeaderName) -> &str {
        self.header_value(name).unwrap_or("(none)")
    }

    /// The value of header `name`, `None` when the response has no such header (`(not text)`
    /// when its value is not visible ASCII).
    pub fn header_value(&self, name: impl AsHeaderName) -> Option<&str> {
        let value = self.headers.get(name)?;
        Some(value.to_str().unwrap_or("(not text)"))
    }

    /// The body as text (bytes that are not UTF-8 shown as `�`).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body as JSON; fails the test, showing the body, when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("expected a JSON body, but got {:?} ({e})", self.text()))
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

/// Sends `request` through `app` (a clone of it: the router is shared state, not consumed)
/// and reads the whole answer.
pub async fn send(app: &Router, request: Request<Body>) -> Reply {
    let Ok(response) = app.clone().oneshot(request).await;
    Reply::read(response).await
}

/// `app` served on a port of its own on 127.0.0.1 (with the peer's address available to
/// `ConnectInfo`), until dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` over a real socket; see [`raw`] to talk to it.
pub async fn serve(app: Router) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.unwrap_or_else(|e| panic!("could not bind a local port: {e}"));
    let addr = listener
        .local_addr()
        .expect("a bound listener has an address");
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(axum::serve(listener, app).into_future());
    Server { addr, task }
}

/// One HTTP/1.1 exchange over a new TCP connection to `addr`: `head` is the request line and
/// any header lines (`"POST /books HTTP/1.1\r\nContent-Type: application/json"`); `Host`,
/// `Content-Length` and `Connection: close` are added. Returns the whole response as text; fails
/// the test when it does not end within [`RAW_TIMEOUT`].
pub async fn raw(addr: SocketAddr, head: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("could not connect to the server at {addr}: {e}"));
    let request = format!(
        "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let sent = stream.write_all(request.as_bytes()).await;
    sent.unwrap_or_else(|e| panic!("could not send the request to {addr}: {e}"));
    let mut response = Vec::new();
    let read = tokio::time::timeout(RAW_TIMEOUT, stream.read_to_end(&mut response)).await;
    let read = read.unwrap_or_else(|_| panic!("expected an answer within {RAW_TIMEOUT:?}"));
    read.unwrap_or_else(|e| panic!("expected a readable response, but reading failed: {e}"));
    String::from_utf8_lossy(&response).into_owned()
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, header};

    use super::*;

    fn reply(headers: &[(header::HeaderName, HeaderValue)], body: &[u8]) -> Reply {
        Reply {
            status: StatusCode::OK,
            headers: headers.iter().cloned().collect(),
            body: body.to_vec(),
        }
    }

    #[test]
    fn a_header_reads_as_text_or_says_why_not() {
        let etag = (header::ETAG, HeaderValue::from_static("\"1\""));
        let binary = (
            header::VARY,
            HeaderValue::from_bytes(b"\xff").expect("a byte"),
        );
        let reply = reply(&[etag, binary], b"");
        assert_eq!(reply.header(header::ETAG), "\"1\"");
        assert_eq!(reply.header("etag"), "\"1\"");
        assert_eq!(reply.header(&header::VARY), "(not text)");
        assert_eq!(reply.header(header::LOCATION), "(none)");
        assert_eq!(reply.header_value(header::LOCATION), None);
    }

    #[test]
    fn a_body_reads_as_text_and_json() {
        let reply = reply(&[], br#"{"id": 1}"#);
        assert_eq!(reply.text(), r#"{"id": 1}"#);
        assert_eq!(reply.json(), serde_json::json!({"id": 1}));
        let shown = format!("{reply:?}");
        assert!(shown.ends_with(r#"body: "{\"id\": 1}" }"#), "{shown}");
    }

    #[tokio::test]
    async fn a_router_is_driven_in_process_and_over_a_socket() {
        let app = Router::new().route("/hi", axum::routing::get(|| async { "hello" }));
        let request = Request::get("/hi").body(Body::empty()).expect("a request");
        let reply = send(&app, request).await;
        assert_eq!(
            (reply.status, reply.text().as_ref()),
            (StatusCode::OK, "hello")
        );

        let server = serve(app).await;
        let response = raw(server.addr, "GET /hi HTTP/1.1", "").await;
        assert!(response.starts_with("HTTP/1.1 200") && response.ends_with("\r\n\r\nhello"));
    }
}
