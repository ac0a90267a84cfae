//! Structured logging on stderr (text or JSON), filtered by `RUST_LOG` or `-v`
//! (the convention of every binary: `hsi_edge::logging`).

use crate::cli::LogFormat;

pub fn init(format: LogFormat, verbose: u8) {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let format = match format {
        LogFormat::Text => hsi_edge::logging::LogFormat::Text,
        LogFormat::Json => hsi_edge::logging::LogFormat::Json,
    };
    hsi_edge::logging::init(format, default);
}
