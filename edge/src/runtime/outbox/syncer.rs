//! Background `fsync` of a staged cube's chunk files.
//!
//! Flushing a 1 MB chunk to disk takes milliseconds of I/O wait (about 4 ms on the development
//! VM, a fifth of the time to encode it), and batching the calls does not make them cheaper. A
//! staging cube therefore writes each chunk and hands the open file to this thread, which syncs
//! it while the next chunk is calibrated and encoded. [`Syncer::finish`] waits for every sync,
//! and [`super::Staging::commit`] calls it before the manifest is written: durability is what
//! it was (nothing is committed that is not on disk), only the waiting overlaps the work.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use crate::runtime::error::{Error, Result};
use crate::runtime::fsutil::remove_partial;

/// The sync thread of one staging cube.
pub(super) struct Syncer {
    tx: Option<Sender<(PathBuf, File)>>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl Syncer {
    /// Start the thread.
    pub(super) fn start() -> Result<Syncer> {
        let (tx, rx) = channel::<(PathBuf, File)>();
        let handle = std::thread::Builder::new()
            .name("hsi-fsync".into())
            .spawn(move || {
                for (path, file) in rx {
                    if let Err(e) = file.sync_all() {
                        drop(file);
                        remove_partial(&path);
                        return Err(Error::io(&path, e));
                    }
                }
                Ok(())
            })
            .map_err(|e| Error::io("hsi-fsync thread", e))?;
        Ok(Syncer {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    /// Queue `file` (written, not synced). An error is that of an earlier sync that failed.
    pub(super) fn sync(&mut self, path: PathBuf, file: File) -> Result<()> {
        let sent = self.tx.as_ref().map(|tx| tx.send((path, file)).is_ok());
        if sent == Some(true) {
            return Ok(());
        }
        // The thread stopped: it failed on an earlier file.
        self.finish()?;
        Err(Error::io(
            "outbox staging",
            std::io::Error::other("the fsync thread stopped"),
        ))
    }

    /// Wait until every queued file is synced; the first failure, if any.
    pub(super) fn finish(&mut self) -> Result<()> {
        drop(self.tx.take());
        match self.handle.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(Error::io(
                "outbox staging",
                std::io::Error::other("the fsync thread panicked"),
            )),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
