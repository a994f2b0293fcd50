//! A TCP proxy in front of the test Redis that makes one race happen every time.
//!
//! Two connections go through it. The first command of each connection that names `marker`
//! (the `used:{jti}` key of a refresh token) reaches Redis at once, but its reply is held
//! until Redis has answered that command on BOTH connections. So both commands run before
//! either caller sees a result: a check-then-mark done as GET, then SET, reads "unused" twice,
//! while one atomic command (SET NX, a script) lets exactly one caller win.

use std::sync::{Arc, Mutex};

use redis::ConnectionAddr;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Default)]
struct Gate {
    /// Per connection: sent its marker command / got bytes of its reply from Redis.
    sent: [bool; 2],
    replied: [bool; 2],
}

/// Starts the proxy; returns a client that connects through it as the test's Redis user.
pub async fn start(upstream: &redis::Client, marker: String) -> redis::Client {
    let info = upstream.get_connection_info().clone();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let port = listener.local_addr().expect("a proxy address").port();
    let gate = Arc::new(Mutex::new(Gate::default()));
    let (released_tx, released) = watch::channel(false);
    let released_tx = Arc::new(released_tx);
    let addr = info.addr().clone();
    tokio::spawn(async move {
        for side in 0..2 {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let server: Box<dyn Stream> = match &addr {
                ConnectionAddr::Tcp(host, port) => Box::new(
                    tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .expect("reach Redis"),
                ),
                ConnectionAddr::Unix(path) => Box::new(
                    tokio::net::UnixStream::connect(path)
                        .await
                        .expect("reach Redis"),
                ),
                other => panic!("the proxy cannot reach Redis at {other:?}"),
            };
            let (client_read, client_write) = tokio::io::split(client);
            let (server_read, server_write) = tokio::io::split(server);
            let (gate, marker) = (gate.clone(), marker.clone());
            tokio::spawn(requests(
                client_read,
                server_write,
                side,
                gate.clone(),
                marker,
            ));
            tokio::spawn(replies(
                server_read,
                client_write,
                side,
                gate,
                released_tx.clone(),
                released.clone(),
            ));
        }
    });
    let proxied = info.set_addr(ConnectionAddr::Tcp("127.0.0.1".into(), port));
    redis::Client::open(proxied).expect("a valid proxied connection info")
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

async fn requests(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    side: usize,
    gate: Arc<Mutex<Gate>>,
    marker: String,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        let chunk = &buffer[..n];
        if chunk.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            // Armed before the bytes leave, so the reply cannot overtake the flag.
            gate.lock().expect("gate").sent[side] = true;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

async fn replies(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    side: usize,
    gate: Arc<Mutex<Gate>>,
    released_tx: Arc<watch::Sender<bool>>,
    mut released: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buffer).await {
        let hold = {
            let mut gate = gate.lock().expect("gate");
            if gate.sent[side] && !*released.borrow() {
                gate.replied[side] = true;
                if gate.replied == [true, true] {
                    released_tx.send_replace(true);
                }
                true
            } else {
                false
            }
        };
        if hold && released.wait_for(|open| *open).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
