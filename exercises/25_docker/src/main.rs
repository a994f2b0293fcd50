//! `kata-service`: the process the image runs (given complete; the kata is the Dockerfile and
//! the two functions in `lib.rs`).
//!
//! - `kata-service` (or `kata-service serve`): `GET /healthz` -> `200 ok` on `0.0.0.0:$PORT`.
//!   All addresses, not 127.0.0.1: inside a container, loopback is the container's own, and a
//!   published port (`docker run -p 8080:8080`) arrives on the container's network interface.
//!   SIGTERM (what `docker stop` and Kubernetes send) stops it gracefully: in-flight requests
//!   finish, then the process exits 0. As PID 1 it must handle SIGTERM itself: the kernel does
//!   not apply the default "terminate" action to PID 1 of a container.
//! - `kata-service healthcheck`: probes `http://127.0.0.1:$PORT/healthz` and exits 0 if it
//!   answers 200, else 1: what the image's `HEALTHCHECK` runs, since a distroless image has no
//!   shell and no curl.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("--version") {
        // The package too: the exercise and the solution both build a `kata-service`.
        let (version, package) = (env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_NAME"));
        println!("kata-service {version} (package {package})");
        return ExitCode::SUCCESS;
    }
    let port = std::env::var_os("PORT").map(|v| v.to_string_lossy().into_owned());
    let port = match docker::port_from_env(port.as_deref()) {
        Ok(port) => port,
        Err(e) => {
            eprintln!("kata-service: {e}");
            return ExitCode::from(2);
        }
    };
    match command.as_deref() {
        None | Some("serve") => serve(port).await,
        Some("healthcheck") => {
            if docker::probe(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
                ExitCode::SUCCESS
            } else {
                eprintln!("kata-service: http://127.0.0.1:{port}/healthz is not healthy");
                ExitCode::FAILURE
            }
        }
        Some(other) => {
            eprintln!(
                "kata-service: unknown command {other:?}; usage: kata-service [serve|healthcheck|--version]"
            );
            ExitCode::from(2)
        }
    }
}

async fn serve(port: u16) -> ExitCode {
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("kata-service: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("kata-service: listening on {addr}");
    match axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
    {
        Ok(()) => {
            eprintln!("kata-service: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kata-service: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM (`docker stop`) or Ctrl-C (SIGINT).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("install a SIGTERM handler");
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
