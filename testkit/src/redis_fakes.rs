//! Stand-ins for Redis on local ports, for what a real server will not do on demand: drop
//! every connection, refuse writes, answer slowly, report which commands it received, or lose
//! the connection right after a write (one that never answers: [`crate::silent`]).

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::TestRedis;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

/// A stand-in for Redis on a local port, for the failures a real server will not produce on
/// demand. It answers each command with `reply(&command)`: raw RESP after a delay, or `None` to
/// close the connection. Counts the connections it accepts; stops when dropped.
pub struct FakeRedis {
    url: String,
    accepted: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeRedis {
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("a valid URL")
    }

    /// Its address, `redis://127.0.0.1:{port}`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn accepted(&self) -> usize {
        self.accepted.load(SeqCst)
    }
}

impl Drop for FakeRedis {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn fake_redis(reply: fn(&str) -> Option<(Duration, String)>) -> FakeRedis {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, SeqCst);
            connections.spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                while let Some(command) = read_command(&mut read).await {
                    let name = String::from_utf8_lossy(&command[0]).to_ascii_uppercase();
                    let Some((delay, answer)) = reply(&name) else {
                        return;
                    };
                    // Not a synchronisation: the delay is the slow server under test.
                    tokio::time::sleep(delay).await;
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    FakeRedis {
        url,
        accepted,
        server,
    }
}

/// Stands between the cache and the test's real Redis, passing every byte on, and counts the
/// `GET`s it has passed on (a stand-in cannot do that: it would have to be a real Redis).
pub struct CountingProxy {
    pub client: redis::Client,
    pub gets: watch::Receiver<usize>,
    /// Every command received, as its name and arguments (lossy UTF-8), logged before it is
    /// passed on: a command whose reply has reached the cache is always in the log.
    commands: Arc<Mutex<Vec<Vec<String>>>>,
    server: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// The commands received so far, other than `GET`, that name `key` (writes: `PSETEX`,
    /// `SET`, a script, ...), each as one line.
    pub fn writes_of(&self, key: &str) -> Vec<String> {
        let commands = self.commands.lock().unwrap_or_else(|p| p.into_inner());
        commands
            .iter()
            .filter(|c| !c[0].eq_ignore_ascii_case("GET") && c[1..].iter().any(|a| a == key))
            .map(|c| c.join(" "))
            .collect()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Upstream = (
    Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
);

pub async fn counting_proxy(r: &TestRedis) -> CountingProxy {
    let (count, gets) = watch::channel(0);
    let commands = Arc::new(Mutex::new(Vec::new()));
    let log = commands.clone();
    let count = Arc::new(count);
    let (client, server) = proxy(r, move || {
        let (log, count) = (log.clone(), count.clone());
        move |command: &[Vec<u8>]| {
            let line = command
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned());
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(line.collect());
            if command[0].eq_ignore_ascii_case(b"GET") {
                count.send_modify(|gets| *gets += 1);
            }
            Flow::Pass
        }
    })
    .await;
    CountingProxy {
        client,
        gets,
        commands,
        server,
    }
}

/// A proxy cut off right after a write: connections end, and none is made again.
pub struct CuttingProxy {
    pub client: redis::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Passes every command on to the test's real Redis until the first command other than `GET`
/// that names `key` (a write). That one is passed on too, then both sides of the connection
/// are closed before anything else is: a crash, or a dropped connection, right after it.
/// Connections made after that are closed at once.
pub async fn cutting_proxy(r: &TestRedis, key: &str) -> CuttingProxy {
    let key = key.as_bytes().to_vec();
    let (client, server) = proxy(r, move || {
        let key = key.clone();
        move |command: &[Vec<u8>]| {
            let write_of_key =
                command[1..].contains(&key) && !command[0].eq_ignore_ascii_case(b"GET");
            if write_of_key {
                Flow::PassThenCut
            } else {
                Flow::Pass
            }
        }
    })
    .await;
    CuttingProxy { client, server }
}

/// A proxy that answers late: see [`slow_proxy`].
pub struct SlowProxy {
    pub client: redis::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Passes every command on to the test's real Redis, some of them late. On each connection:
/// the first command (the client's connection set-up, `AUTH` and `CLIENT SETINFO` sent
/// together) after `setup`, and the first command that names `key` after `command`; the rest
/// at once (and in order, so a command sent behind a delayed one waits for it).
pub async fn slow_proxy(r: &TestRedis, key: &str, setup: Duration, command: Duration) -> SlowProxy {
    let key = key.as_bytes().to_vec();
    let (client, server) = proxy(r, move || {
        let (key, mut first, mut key_seen) = (key.clone(), true, false);
        move |args: &[Vec<u8>]| {
            let delay = if std::mem::take(&mut first) {
                setup
            } else if !key_seen && args[1..].contains(&key) {
                key_seen = true;
                command
            } else {
                Duration::ZERO
            };
            Flow::PassAfter(delay)
        }
    })
    .await;
    SlowProxy { client, server }
}

/// What a proxy does with a command.
enum Flow {
    Pass,
    /// Pass it on after this long (not a synchronisation: the slow server under test).
    PassAfter(Duration),
    /// Pass it on, then close both sides of the connection before anything else is, and close
    /// every later connection at once.
    PassThenCut,
}

/// Stands between the cache and the test's real Redis, passing each command on once the
/// connection's `on_command` (made by `new_connection` for each connection) has seen it, so
/// whatever it records is there before the reply can arrive.
async fn proxy<F>(
    r: &TestRedis,
    new_connection: impl Fn() -> F + Send + Sync + 'static,
) -> (redis::Client, tokio::task::JoinHandle<()>)
where
    F: FnMut(&[Vec<u8>]) -> Flow + Send + 'static,
{
    let (listener, client, upstream) = proxy_listener(r).await;
    let server = tokio::spawn(async move {
        let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((socket, _)) = listener.accept().await {
            if cut.load(SeqCst) {
                continue;
            }
            let (upstream, mut on_command, cut) = (upstream.clone(), new_connection(), cut.clone());
            connections.spawn(async move {
                let (mut up_read, mut up_write) = connect(&upstream).await;
                let (read, mut write) = socket.into_split();
                let replies = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut up_read, &mut write).await;
                });
                let mut read = BufReader::new(read);
                while let Some(command) = read_command(&mut read).await {
                    let flow = on_command(&command);
                    if let Flow::PassAfter(delay) = flow {
                        tokio::time::sleep(delay).await;
                    }
                    if up_write.write_all(&encode(&command)).await.is_err() {
                        break;
                    }
                    if let Flow::PassThenCut = flow {
                        cut.store(true, SeqCst);
                        break;
                    }
                }
                // Dropping both halves of each side closes both connections.
                replies.abort();
            });
        }
    });
    (client, server)
}

/// A local port for a proxy, a client for the cache that connects there as the test's user,
/// and the test Redis's own address.
async fn proxy_listener(
    r: &TestRedis,
) -> (
    tokio::net::TcpListener,
    redis::Client,
    redis::ConnectionAddr,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await;
    let listener = listener.expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let info = r.client().get_connection_info().clone();
    let upstream = info.addr().clone();
    let local = redis::ConnectionAddr::Tcp("127.0.0.1".into(), port);
    let client = redis::Client::open(info.set_addr(local)).expect("a valid address");
    (listener, client, upstream)
}

async fn connect(upstream: &redis::ConnectionAddr) -> Upstream {
    match upstream {
        redis::ConnectionAddr::Tcp(host, port) => {
            let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await;
            let (read, write) = tokio::io::split(stream.expect("Redis answers"));
            (Box::new(read), Box::new(write))
        }
        redis::ConnectionAddr::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await;
            let (read, write) = tokio::io::split(stream.expect("Redis answers"));
            (Box::new(read), Box::new(write))
        }
        other => panic!("the proxy cannot reach Redis at {other:?}"),
    }
}

/// `command` as RESP: an array of bulk strings.
fn encode(command: &[Vec<u8>]) -> Vec<u8> {
    let mut resp = format!("*{}\r\n", command.len()).into_bytes();
    for arg in command {
        resp.extend(format!("${}\r\n", arg.len()).bytes());
        resp.extend(arg);
        resp.extend(b"\r\n");
    }
    resp
}

/// One RESP command (an array of bulk strings), or `None` at the end of the stream.
async fn read_command(read: &mut (impl AsyncBufRead + Unpin)) -> Option<Vec<Vec<u8>>> {
    async fn header(read: &mut (impl AsyncBufRead + Unpin), kind: char) -> Option<usize> {
        let mut line = String::new();
        read.read_line(&mut line).await.ok()?;
        line.trim_end().strip_prefix(kind)?.parse().ok()
    }
    let mut command = Vec::new();
    for _ in 0..header(read, '*').await? {
        let mut arg = vec![0; header(read, '$').await? + 2];
        read.read_exact(&mut arg).await.ok()?;
        arg.truncate(arg.len() - 2);
        command.push(arg);
    }
    (!command.is_empty()).then_some(command)
}
