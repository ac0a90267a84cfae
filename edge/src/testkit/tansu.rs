//! `tansu`: a Kafka-protocol broker storing its data in SQLite (see TOOLING.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, skip, wait_for_port};

/// The cached build made by `scripts/bootstrap.sh`.
const CACHED: &str = ".cache/hsi/tansu-0.6.0/bin/tansu";

/// A tansu broker with its own data directory. [`Tansu::stop`] and [`Tansu::restart`] simulate an
/// outage; the data (SQLite) and the port survive them. Dropping it kills the broker and removes
/// the directory.
pub struct Tansu {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    /// Start a broker for `test`; `None` (after a `SKIPPED:` line) when tansu is not installed.
    pub fn start(test: &str) -> Option<Tansu> {
        let Some(bin) = Self::binary() else {
            skip(
                "HSI_REQUIRE_TANSU",
                test,
                "no tansu binary (set HSI_TANSU, or run scripts/bootstrap.sh, which builds tansu 0.6.0 into ~/.cache/hsi)",
            );
            return None;
        };
        let port = free_port().ok()?;
        let dir = std::env::temp_dir().join(format!("hsi-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let mut t = Tansu {
            bin,
            dir,
            port,
            child: None,
        };
        if let Err(e) = t.restart() {
            panic!("{test}: {e}");
        }
        Some(t)
    }

    fn binary() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("HSI_TANSU") {
            return Some(PathBuf::from(p));
        }
        if let Some(path) = std::env::var_os("PATH") {
            for d in std::env::split_paths(&path) {
                let c = d.join("tansu");
                if c.is_file() {
                    return Some(c);
                }
            }
        }
        let home = std::env::var_os("HOME")?;
        let cached = Path::new(&home).join(CACHED);
        cached.is_file().then_some(cached)
    }

    /// `host:port` for `bootstrap.servers`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker URL tansu's own CLI takes.
    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Create a topic (tansu does not auto-create topics).
    pub fn create_topic(&self, name: &str, partitions: u32) -> Result<(), String> {
        let out = Command::new(&self.bin)
            .args([
                "topic",
                "create",
                "--broker",
                &self.url(),
                "--partitions",
                &partitions.to_string(),
                name,
            ])
            .output()
            .map_err(|e| format!("cannot run {} topic create: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "tansu topic create {name}: {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Kill the broker (SIGKILL); its data stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// (Re)start the broker on the same port and data.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let url = self.url();
        let log = std::fs::File::create(self.dir.join("tansu.log")).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .current_dir(&self.dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        if wait_for_port(self.port, Duration::from_secs(30)) {
            Ok(())
        } else {
            Err(format!(
                "tansu did not listen on port {} within 30 s (log: {})",
                self.port,
                self.dir.join("tansu.log").display()
            ))
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
