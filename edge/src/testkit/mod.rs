//! Real protocol servers for integration tests: `moto_server` (S3 + SQS), rdkafka's in-process
//! `MockCluster` (Kafka, feature `kafka`) and `tansu` (Kafka that survives a restart).
//!
//! Tests never mock the services they exercise. Each test starts its own server on a free port
//! (and, for tansu, its own SQLite-backed data directory), so tests run in parallel without sharing
//! state, and the server dies with the guard.
//!
//! Which Kafka: [`MockKafka`] unless the test restarts the broker and needs its data back;
//! only those tests use [`Tansu`], whose build is the slowest step of a cold CI run
//! (`docs/benchmarks.md`, "CI budget").
//!
//! Where the binaries come from:
//! - `HSI_MOTO_SERVER` (path to `moto_server`) or `moto_server` on `PATH`;
//! - `HSI_TANSU` (path to `tansu`), `tansu` on `PATH`, or the cached build
//!   `$HOME/.cache/hsi/tansu-0.6.0/bin/tansu` made by `scripts/bootstrap.sh`.
//!
//! When a binary is missing the starters print `SKIPPED: <test>: <why>` and return `None`;
//! with `HSI_REQUIRE_MOTO=1` / `HSI_REQUIRE_TANSU=1` (set by `scripts/test.sh`) they panic
//! instead, so CI cannot pass by skipping.

#[cfg(feature = "kafka")]
mod mock_kafka;
mod moto;
mod tansu;

#[cfg(feature = "kafka")]
pub use mock_kafka::MockKafka;
pub use moto::Moto;
pub use tansu::Tansu;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A TCP port that was free a moment ago.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Wait until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .is_ok()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Print a skip line, or panic when the environment variable `require` is set.
pub(crate) fn skip(require: &str, test: &str, why: &str) {
    let msg = format!("{test}: {why}");
    if std::env::var_os(require).is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("{msg} (and {require} is set)");
    }
    eprintln!("SKIPPED: {msg}");
}
