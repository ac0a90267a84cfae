//! The terminal progress of `hsi run`: which cube of how many, a bar over its lines (Bronze
//! then Silver), then a spinner for the Gold refresh. Drawn on stderr only when it is a
//! terminal (indicatif hides it otherwise), so logs and pipes stay clean.

use std::path::Path;
use std::time::Duration;

use hsi_edge::process::Progress;
use hsi_lakehouse::pipeline::RunProgress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct RunBars {
    bar: Option<ProgressBar>,
    cube: String,
}

impl RunBars {
    pub fn new() -> Self {
        RunBars {
            bar: None,
            cube: String::new(),
        }
    }

    fn clear(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for RunBars {
    fn begin(&mut self, cube_id: &str, total: u64) {
        self.clear();
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix} {msg:24} [{bar:32}] {percent:>3}% Bronze+Silver lines, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(self.cube.clone());
        bar.set_message(cube_id.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, lines: u64) {
        if let Some(b) = &self.bar {
            b.inc(lines);
        }
    }

    fn end(&mut self) {
        self.clear();
    }
}

impl RunProgress for RunBars {
    fn cube_started(&mut self, index: usize, total: usize, _path: &Path) {
        self.cube = format!("cube {}/{total}", index + 1);
    }

    fn stage(&mut self, what: &str) {
        self.clear();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }
}

impl Drop for RunBars {
    fn drop(&mut self) {
        self.clear();
    }
}
