//! Test helpers: a seeded database, a Redis namespace, the app's state, and requests through
//! axum's real `Router` (no socket) or a real TCP socket.

use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::Duration;

use argon2::{Argon2, PasswordHasher};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
pub use kata_testkit::http::{self, Reply};
use kata_testkit::{TestDb, TestRedis};
use login_flow::{AppState, Config, app};

pub const SCHEMA: &str = include_str!("../../schema.sql");
pub const SECRET: &[u8] = b"login-flow-kata-secret-of-32-bytes";
pub const TOKEN_TTL_SECS: u64 = 900;
pub const WINDOW_MS: u64 = 60_000;
pub const MAX_FAILURES: u64 = 5;
pub const ALICE: &str = "alice@example.com";
pub const ALICE_PASSWORD: &str = "correct horse battery staple";
pub const BOB: &str = "bob@example.com";
pub const BOB_PASSWORD: &str = "hunter2-but-longer";
/// Same length as ALICE, but no account.
pub const NOBODY: &str = "zorro@example.com";

/// An Argon2id hash with argon2's defaults (m=19456, t=2, p=1), as a sign-up would store it.
pub fn hash(password: &str) -> String {
    let hash = Argon2::default().hash_password(password.as_bytes());
    hash.expect("the test can hash").to_string()
}

/// Alice's and Bob's hashes, computed once per test process: Argon2 is the slow part of a test.
static SEEDED_HASHES: LazyLock<[String; 2]> =
    LazyLock::new(|| [hash(ALICE_PASSWORD), hash(BOB_PASSWORD)]);

pub fn config(prefix: &str) -> Config {
    Config {
        jwt_secret: SECRET.to_vec(),
        token_ttl: Duration::from_secs(TOKEN_TTL_SECS),
        redis_prefix: prefix.to_owned(),
        max_failures: MAX_FAILURES,
        failure_window: Duration::from_millis(WINDOW_MS),
    }
}

pub struct Kata {
    pub db: TestDb,
    pub redis: TestRedis,
    pub state: AppState,
    pub alice_id: i64,
}

/// A database with Alice and Bob, a Redis namespace, and the app's state over both.
pub async fn kata() -> Kata {
    let db = TestDb::new(SCHEMA).await;
    let mut admin = db.admin().await;
    let mut alice_id = 0;
    let [alice_hash, bob_hash] = SEEDED_HASHES.clone();
    for (email, password_hash) in [(ALICE, alice_hash), (BOB, bob_hash)] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id",
        )
        .bind(email)
        .bind(password_hash)
        .fetch_one(&mut admin)
        .await
        .expect("seeding a user");
        if email == ALICE {
            alice_id = id;
        }
    }
    let redis = TestRedis::new().await;
    let state = new_state(&db, &redis).await;
    Kata {
        db,
        redis,
        state,
        alice_id,
    }
}

/// Another instance of the service over the same Postgres and Redis.
pub async fn new_state(db: &TestDb, redis: &TestRedis) -> AppState {
    new_state_with(db, redis, config(redis.namespace())).await
}

/// An instance of the service with a configuration of the test's choosing.
pub async fn new_state_with(db: &TestDb, redis: &TestRedis, config: Config) -> AppState {
    let state = AppState::new(db.pool().await, redis.client(), config).await;
    state.unwrap_or_else(|e| panic!("expected AppState::new to succeed, but got: {e:#}"))
}

pub async fn send(app: Router, request: Request<Body>) -> Reply {
    http::send(&app, request).await
}

pub fn login_request(body: &str) -> Request<Body> {
    let request = Request::post("/login").header(header::CONTENT_TYPE, "application/json");
    request
        .body(Body::from(body.to_owned()))
        .expect("a valid request")
}

pub fn credentials(email: &str, password: &str) -> String {
    serde_json::json!({ "email": email, "password": password }).to_string()
}

pub fn me_request(authorization: Option<&str>) -> Request<Body> {
    let mut request = Request::get("/me");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::empty()).expect("a valid request")
}

impl Kata {
    pub fn app(&self) -> Router {
        app(self.state.clone())
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        send(self.app(), login_request(&credentials(email, password))).await
    }

    /// Logs in with the right password and returns the token.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let reply = self.login(email, password).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "expected the right password for {email} to log in, but got {reply:?}"
        );
        let token = reply.json()["access_token"].as_str().map(str::to_owned);
        token.unwrap_or_else(|| panic!("expected an access_token string in {:?}", reply.text()))
    }

    /// `times` logins with a wrong password, each of which must be a 401.
    pub async fn fail(&self, email: &str, times: usize) {
        fail_on(&self.app(), email, times).await;
    }

    /// The failure counter of `email`: `{namespace}:login_failures:{email}`.
    pub fn failures_key(&self, email: &str) -> String {
        self.redis.key(&format!("login_failures:{email}"))
    }

    /// PTTL of the failure counter of `email`, read with an unrestricted connection.
    pub async fn failures_pttl(&self, email: &str) -> i64 {
        self.redis.pttl(&self.failures_key(email)).await
    }

    /// Sets the failure counter of `email` to expire in `ms` (as if time had passed).
    pub async fn pexpire_failures(&self, email: &str, ms: u64) {
        let key = self.failures_key(email);
        let set: i64 = self
            .admin_command(redis::cmd("PEXPIRE").arg(&key).arg(ms))
            .await;
        assert_eq!(set, 1, "expected the failure counter {key} to exist");
    }

    /// Runs a command over an unrestricted connection (the test's, not the service's).
    pub async fn admin_command<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> T {
        let got = command.query_async(&mut self.redis.admin().await).await;
        got.unwrap_or_else(|e| panic!("the test's Redis command failed: {e}"))
    }
}

/// `times` logins with a wrong password through `app`, each of which must be a 401.
pub async fn fail_on(app: &Router, email: &str, times: usize) {
    for attempt in 1..=times {
        let reply = send(
            app.clone(),
            login_request(&credentials(email, "wrong password")),
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "expected failed login {attempt} of {times} for {email} to be a 401, but got {reply:?}"
        );
    }
}

/// Whole milliseconds since `start`, rounded up (bounds what a TTL can have lost meanwhile).
pub fn elapsed_ms(start: std::time::Instant) -> u64 {
    start.elapsed().as_millis() as u64 + 1
}

/// How long a held verification waits for the test before giving up (only wrong answers wait).
pub const HELD_FOR: Duration = Duration::from_secs(20);

/// A gate that password verifications wait at (from a `PasswordVerifier` hook, on the
/// verifying thread) until the test opens it.
#[derive(Clone, Default)]
pub struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    /// Blocks until the gate is open, or for `HELD_FOR` at most.
    pub fn wait(&self) {
        let (open, opened) = &*self.0;
        let open = open.lock().expect("gate lock");
        let waited = opened.wait_timeout_while(open, HELD_FOR, |open| !*open);
        drop(waited.expect("gate lock"));
    }

    pub fn open(&self) {
        let (open, opened) = &*self.0;
        *open.lock().expect("gate lock") = true;
        opened.notify_all();
    }
}
