//! Helpers shared by the integration tests: a small synthetic trial and the Python oracle.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use hsi_edge::synth::{self, SynthConfig, SynthOutput};

/// A small noise-free (or noisy) synthetic trial in `dir`.
pub fn small_trial(
    dir: &Path,
    lines: usize,
    samples: usize,
    noise: bool,
    cubes: usize,
) -> SynthOutput {
    let cfg = SynthConfig {
        lines,
        samples,
        noise,
        n_cubes: cubes,
        plot_rows: 2,
        plot_cols: 3,
        ..SynthConfig::default()
    };
    let spectra = hsi_edge::testdata::usgs_spectra().expect("shared test data");
    synth::generate(&cfg, &spectra, dir).expect("synthesis succeeds")
}

/// The Python interpreter with pyarrow, or `None` (with a clear message) when it is missing and
/// `HSI_REQUIRE_PYTHON` is not set. CI sets it, so there a missing pyarrow fails the test.
pub fn python_with_pyarrow() -> Option<PathBuf> {
    let py = std::env::var_os("HSI_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&py)
        .args(["-c", "import pyarrow.parquet"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    let msg = format!(
        "SKIPPED: {} cannot import pyarrow; run `eval \"$(scripts/bootstrap.sh)\"` (sets HSI_PYTHON) to enable the interop check",
        py.display()
    );
    if std::env::var_os("HSI_REQUIRE_PYTHON").is_some() {
        panic!("{msg} (HSI_REQUIRE_PYTHON is set)");
    }
    eprintln!("{msg}");
    None
}

/// Run a Python snippet with args; returns stdout (panics with stderr on failure).
pub fn run_python(py: &Path, code: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
