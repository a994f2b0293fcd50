//! The `conduit` binary: runs the migrations, then serves the API.
//!
//! Configuration from the environment:
//! - `DATABASE_URL` (required): the Postgres database;
//! - `JWT_SECRET`: the HMAC secret of the tokens (a development default otherwise);
//! - `HOST` (default `127.0.0.1`) and `PORT` (default `8080`; `0` picks a free port).
//!
//! Prints `listening on <address>` on stdout once it accepts connections, so a script that
//! starts it with `PORT=0` learns the port without a race.

use std::io::Write;

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL").context("set DATABASE_URL to a Postgres database")?;
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "conduit-development-secret-change-me".to_owned());
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .context("PORT must be a number from 0 to 65535")?,
        Err(_) => 8080,
    };

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await
        .with_context(|| format!("cannot connect to {url}"))?;
    capstone_conduit::MIGRATOR
        .run(&pool)
        .await
        .context("running the migrations")?;
    let state = capstone_conduit::AppState::new(pool, secret.as_bytes())?;

    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    axum::serve(listener, capstone_conduit::app(state)).await?;
    Ok(())
}
