//! A terminal progress bar for [`hsi_edge::process::Progress`].

use hsi_edge::process::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Bar {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Bar {
    pub fn new(quiet: bool) -> Self {
        Bar { bar: None, quiet }
    }
}

impl Progress for Bar {
    fn begin(&mut self, cube_id: &str, total_lines: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total_lines), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:20} [{bar:40}] {pos}/{len} lines {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(cube_id.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, lines: u64) {
        if let Some(b) = &self.bar {
            b.inc(lines);
        }
    }

    fn end(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
