//! A real full disk under the outbox: the outbox directory is a small tmpfs (room for one cube's
//! chunks, not two) while `outbox.cap_bytes` is far larger, so the kernel's ENOSPC comes first.
//! The daemon must not exit or lose data: it counts and logs the ENOSPC, abandons the cube's
//! staging (no partial file stays), retries it once acknowledgements free space, and in the
//! end the topic holds exactly the processed rows.
//!
//! Mounting: as root, `mount -t tmpfs` (unmounted by a guard); otherwise the daemon runs in an
//! unprivileged user + mount namespace (`unshare -rm`) that mounts the tmpfs first, and the test
//! looks at the outbox through `/proc/PID/root` (`HSI_TMPFS_UNSHARE=1` takes this path even as
//! root). Where neither works the test prints `SKIPPED:` (and fails with `HSI_REQUIRE_TMPFS=1`).
#![cfg(feature = "runtime")]

mod runtime_common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use runtime_common::*;

/// tmpfs size: one cube of 16 x 32 pixels makes about 0.55 MB of chunks (4 KiB pages).
const TMPFS_KIB: u64 = 768;

/// How the outbox tmpfs is mounted.
enum Tmpfs {
    /// Mounted here (root); unmounted on drop.
    Direct(PathBuf),
    /// Mounted by the daemon's own `unshare -rm` namespace.
    Namespaced,
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Tmpfs::Direct(dir) = self {
            let ok = Command::new("umount")
                .arg(&*dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "warning: could not unmount the test tmpfs at {}",
                    dir.display()
                );
            }
        }
    }
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Mount a `TMPFS_KIB` tmpfs on `dir`, or find out that a namespace can; `None` = neither.
fn tmpfs(dir: &Path) -> Option<Tmpfs> {
    let size = format!("size={TMPFS_KIB}k");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    // `HSI_TMPFS_UNSHARE=1` takes the unprivileged path even as root (to test it).
    let direct = root && std::env::var("HSI_TMPFS_UNSHARE").map_or(true, |v| v != "1");
    if direct
        && quiet(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
                .arg(dir),
        )
    {
        return Some(Tmpfs::Direct(dir.to_owned()));
    }
    let probe = r#"mount -t tmpfs -o "$1" tmpfs "$2""#;
    if quiet(
        Command::new("unshare")
            .args(["-rm", "sh", "-c", probe, "sh", &size])
            .arg(dir),
    ) {
        return Some(Tmpfs::Namespaced);
    }
    None
}

fn spawn(setup: &Setup, mode: &Tmpfs) -> Child {
    let Tmpfs::Namespaced = mode else {
        return setup.spawn(0);
    };
    let log = std::fs::File::create(setup.root.path().join("daemon-0.log")).expect("log file");
    let script =
        r#"mount -t tmpfs -o "$1" tmpfs "$2" && exec "$3" --log-format json run --config "$4""#;
    Command::new("unshare")
        .args([
            "-rm",
            "sh",
            "-c",
            script,
            "sh",
            &format!("size={TMPFS_KIB}k"),
        ])
        .arg(setup.outbox())
        .arg(env!("CARGO_BIN_EXE_hsi-edge"))
        .arg(&setup.config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn unshare hsi-edge run")
}

/// The outbox as the daemon sees it (through its mount namespace when it has its own).
fn outbox_view(setup: &Setup, mode: &Tmpfs, child: &Child) -> PathBuf {
    match mode {
        Tmpfs::Direct(dir) => dir.clone(),
        Tmpfs::Namespaced => {
            let rel = setup.outbox();
            let rel = rel.strip_prefix("/").expect("absolute");
            Path::new(&format!("/proc/{}/root", child.id())).join(rel)
        }
    }
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read outbox dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("under").display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Every committed cube in `ready/` is whole: its manifest lists exactly the payload files
/// present, each with the recorded size (no chunk recorded that was not fully written).
fn check_ready(outbox: &Path) {
    for e in std::fs::read_dir(outbox.join("ready")).expect("ready") {
        let dir = e.expect("entry").path();
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("cube.json")).expect("manifest"))
                .expect("json");
        for c in m["chunks"].as_array().expect("chunks") {
            let p = dir.join(format!(
                "{:06}.parquet",
                c["index"].as_u64().expect("index")
            ));
            // A chunk may already be acknowledged (deleted); one that exists is complete.
            if let Ok(meta) = std::fs::metadata(&p) {
                assert_eq!(Some(meta.len()), c["bytes"].as_u64(), "{}", p.display());
            }
        }
        let listed = m["chunks"].as_array().map(Vec::len).unwrap_or_default();
        let present = files(&dir)
            .iter()
            .filter(|f| f.ends_with(".parquet"))
            .count();
        assert!(present <= listed, "{}: unlisted payloads", dir.display());
    }
}

/// Tests that restart the broker and need its data back: tansu. `scripts/test.sh` runs them
/// last (`broker_restart::`), once tansu is built.
mod broker_restart {
    use super::*;

    #[test]
    fn a_full_disk_under_the_outbox_pauses_and_retries_without_loss() {
        let require = std::env::var("HSI_REQUIRE_TMPFS").is_ok_and(|v| v == "1");
        let Some(mut tansu) = tansu("runtime_enospc::full_disk") else {
            return;
        };
        // The broker is down at first: nothing drains, so the disk fills.
        tansu.stop();
        let work = tempfile::tempdir().expect("tempdir");
        let cubes = synth_cubes(work.path(), 4, 16, 32);
        let expected = expected_rows(&cubes, "full");
        let setup = Setup::new(&tansu.bootstrap(), 1 << 30, "");
        std::fs::create_dir_all(setup.outbox()).expect("outbox dir");
        let Some(mode) = tmpfs(&setup.outbox()) else {
            let why = "SKIPPED: runtime_enospc: cannot mount a tmpfs (not root, no unshare -rm)";
            assert!(!require, "{why} and HSI_REQUIRE_TMPFS=1");
            eprintln!("{why}");
            return;
        };
        let mut child = spawn(&setup, &mode);
        assert!(setup.wait_up(Duration::from_secs(60)), "{}", setup.logs());
        let outbox = outbox_view(&setup, &mode, &child);
        for c in &cubes {
            land(c, &setup.landing);
        }

        // 1. The disk fills after the first cube: ENOSPC is counted, logged, and survived.
        assert!(
            wait_until(Duration::from_secs(120), || setup
                .metric("hsi_edge_outbox_disk_full_total")
                .is_some_and(|n| n >= 1.0)),
            "no ENOSPC seen\n{}",
            setup.logs()
        );
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            child.try_wait().expect("poll").is_none(),
            "the daemon exited\n{}",
            setup.logs()
        );
        let processed = setup
            .metric("hsi_edge_cubes_processed_total")
            .expect("metric");
        eprintln!(
            "tmpfs {} KiB ({}): {processed} of 4 cubes committed, {:?} ENOSPC",
            TMPFS_KIB,
            match mode {
                Tmpfs::Direct(_) => "mounted directly",
                Tmpfs::Namespaced => "unshare -rm",
            },
            setup.metric("hsi_edge_outbox_disk_full_total")
        );
        assert!(
            (1.0..4.0).contains(&processed),
            "one cube fits the disk, not all: {processed} of 4"
        );
        let (status, health) = setup.get("/healthz").expect("healthz");
        assert_eq!(status, 200, "{health}");
        let log = std::fs::read_to_string(setup.root.path().join("daemon-0.log")).expect("log");
        assert!(
            log.lines()
                .any(|l| l.contains("no space left on the outbox disk") && l.contains("\"WARN\"")),
            "the ENOSPC is logged\n{}",
            setup.logs()
        );
        check_ready(&outbox);
        for c in &cubes {
            assert!(setup.landing.join(c.file_name().expect("name")).exists());
        }

        // 2. The broker comes back: the outbox drains, processing resumes, everything arrives.
        tansu.restart().expect("restart tansu");
        let got = read_topic(&tansu.bootstrap(), expected.len(), Duration::from_secs(180));
        assert_eq!(got.rows_per_cube(), expected, "0 lost\n{}", setup.logs());
        assert_eq!(got.duplicates(), 0, "0 duplicated\n{}", setup.logs());
        assert!(
            wait_until(Duration::from_secs(60), || setup
                .metric("hsi_edge_cubes_sent_total")
                == Some(4.0)
                && setup.metric("hsi_edge_outbox_chunks_pending") == Some(0.0)),
            "{}",
            setup.logs()
        );
        assert_eq!(setup.metric("hsi_edge_cubes_processed_total"), Some(4.0));
        assert_eq!(setup.metric("hsi_edge_cubes_failed_total"), Some(0.0));
        // Nothing partial or temporary is left: the outbox is empty but for its directories.
        assert_eq!(files(&outbox), Vec::<String>::new(), "{}", setup.logs());
        let status = {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            child.wait().expect("wait")
        };
        assert!(status.success(), "{status:?}\n{}", setup.logs());
        drop(mode);
    }
}
