//! `moto_server`: S3 and SQS on one port (path-style, dummy credentials, region us-east-1).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, skip, wait_for_port};

/// A running `moto_server`, killed when dropped. Its state is in memory only.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Start a server for `test`; `None` (after a `SKIPPED:` line) when moto is not installed.
    pub fn start(test: &str) -> Option<Moto> {
        let bin = std::env::var_os("HSI_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("moto_server"));
        let port = free_port().ok()?;
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                let why = format!(
                    "cannot start {} ({e}); install moto[server] (scripts/bootstrap.sh does)",
                    bin.display()
                );
                skip("HSI_REQUIRE_MOTO", test, &why);
                return None;
            }
        };
        let moto = Moto { child, port };
        assert!(
            wait_for_port(port, Duration::from_secs(30)),
            "{test}: moto_server did not listen on port {port} within 30 s"
        );
        Some(moto)
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:5100`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
