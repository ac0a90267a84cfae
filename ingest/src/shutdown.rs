//! Graceful shutdown: SIGTERM (Spot reclaim, `docker stop`, Batch termination) and SIGINT set
//! a flag that the loops check at safe points (a cube boundary, before a commit, between
//! polls). Nothing is interrupted mid-write.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// Exit code of a worker that stopped early on a signal (EX_TEMPFAIL): the job must be retried.
pub const EXIT_INTERRUPTED: u8 = 75;

/// A shutdown flag.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A flag set by SIGTERM and SIGINT.
    pub fn install() -> Result<Self> {
        let s = Shutdown::default();
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&s.0))
                .map_err(Error::io("signal handler"))?;
        }
        Ok(s)
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Request a stop (tests, and the stream consumer's own error paths).
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}
