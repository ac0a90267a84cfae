//! The bytes of a Parquet file on their way to disk: direct I/O where the filesystem takes it.
//!
//! A cube's Parquet file is written once, fsynced and renamed ([`super::parquet`]), and read
//! back, if at all, long after its pages would have left the page cache. Through the page
//! cache, the kernel's copy of every byte and ext4's delayed allocation and writeback cost
//! ~12 % of `hsi-edge process`'s CPU time (`docs/benchmarks.md`), and that is also where the
//! host's page reclaim stalls it. [`OutputFile`] in [`OutputIo::Direct`] mode (the default)
//! writes with `O_DIRECT` instead: the device copies the bytes out of the process's buffers.
//!
//! ```text
//! writer ──write()──▶ aligned buffer (BUFFER bytes) ──full──▶ disk thread: pwrite(O_DIRECT)
//!    ▲                                                              │
//!    └──────────────── the emptied buffer comes back ───────────────┘  (at most BUFFERS)
//! ```
//!
//! Invariants of the direct path (what `O_DIRECT` needs on every Linux filesystem that
//! supports it, and what makes the result the same file as a buffered write):
//! - every write is a whole number of [`ALIGN`]-byte blocks, from an [`ALIGN`]-aligned
//!   address, at an [`ALIGN`]-aligned offset: buffers are [`BUFFER`] bytes (a multiple of
//!   [`ALIGN`]) and only the last one is partial;
//! - the last buffer is padded with zeros to [`ALIGN`], and [`OutputFile::finish`] cuts the
//!   file back to the bytes written (`set_len`) before it fsyncs, so a finished file holds
//!   exactly those bytes; a file that is not finished is deleted by its owner;
//! - the disk thread writes buffers in the order they were filled, at consecutive offsets;
//!   its first error ends it, and the writer reports that error at its next hand-over or at
//!   [`OutputFile::finish`].
//!
//! A filesystem that refuses `O_DIRECT` (tmpfs, some FUSE and overlay mounts) when the file
//! is opened, or at its first write (`EINVAL`), gets the same bytes through the page cache,
//! and so does every platform other than Linux. The page-cache path syncs in the background
//! every [`SYNC_EVERY_BYTES`] so the final `fsync` has little left to wait for (that early
//! writeback adds no durability promise: only the final `fsync` counts).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// How an [`OutputFile`] reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputIo {
    /// `O_DIRECT` where the filesystem takes it, else the page cache (see the module docs).
    #[default]
    Direct,
    /// Through the page cache, with background syncs.
    Buffered,
}

impl OutputIo {
    /// The mode named by `HSI_OUTPUT_IO` (`direct` or `buffered`), else [`OutputIo::Direct`]
    /// (with a warning when it names something else).
    pub fn from_env() -> Self {
        match std::env::var("HSI_OUTPUT_IO").as_deref() {
            Ok("buffered") => OutputIo::Buffered,
            Ok("direct") | Err(_) => OutputIo::Direct,
            Ok(other) => {
                tracing::warn!(
                    value = other,
                    "HSI_OUTPUT_IO is neither `direct` nor `buffered`; writing directly"
                );
                OutputIo::Direct
            }
        }
    }
}

/// Alignment of direct writes: buffer address, length and file offset (the largest logical
/// block size of the devices this runs on).
pub const ALIGN: usize = 4096;
/// Bytes per direct write.
pub const BUFFER: usize = 1 << 20;
/// Buffers in flight between the writer and the disk thread. Measured on the 256 MB cube
/// (one pinned core): with 3, the writer waited for the device ~0.06 s more per cube than with
/// 16 (a direct write's latency varies); 16 MiB is ~10 % of the pipeline's peak RSS.
const BUFFERS: usize = 16;
/// Bytes between background syncs on the page-cache path.
pub const SYNC_EVERY_BYTES: u64 = 64 << 20;

/// A file being written, [`Write`] for the Parquet writer (see the [module docs](self)).
pub struct OutputFile {
    mode: Mode,
    path: PathBuf,
    /// Bytes accepted so far.
    len: u64,
}

enum Mode {
    Direct(Direct),
    Buffered(Buffered),
}

impl OutputFile {
    /// Create (truncate) `path`, directly written when `io` says so and the filesystem agrees.
    pub fn create(path: &Path, io: OutputIo) -> io::Result<Self> {
        let mode = match io {
            OutputIo::Direct => match Direct::create(path)? {
                Some(d) => Mode::Direct(d),
                None => Mode::Buffered(Buffered::create(path)?),
            },
            OutputIo::Buffered => Mode::Buffered(Buffered::create(path)?),
        };
        Ok(OutputFile {
            mode,
            path: path.to_path_buf(),
            len: 0,
        })
    }

    /// Whether the bytes go around the page cache (at least, so far: a filesystem that
    /// refuses the first direct write turns it off).
    pub fn is_direct(&self) -> bool {
        matches!(self.mode, Mode::Direct(_))
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Write out what is buffered, cut the file to its length and fsync it. Returns its length.
    pub fn finish(self) -> io::Result<u64> {
        let OutputFile { mode, path, len } = self;
        let file = match mode {
            Mode::Direct(d) => d.finish(&path)?,
            Mode::Buffered(b) => b.finish()?,
        };
        if file.metadata()?.len() != len {
            file.set_len(len)?;
        }
        file.sync_all()?;
        Ok(len)
    }
}

impl Write for OutputFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = match &mut self.mode {
            Mode::Direct(d) => d.write(data, &self.path)?,
            Mode::Buffered(b) => b.write(data)?,
        };
        self.len += n as u64;
        Ok(n)
    }

    /// Nothing to do: the bytes are durable only after [`OutputFile::finish`], and a direct
    /// file can only be written in whole blocks.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A [`BUFFER`]-byte window of a heap block, starting at an [`ALIGN`]-aligned address.
struct Aligned {
    mem: Vec<u8>,
    start: usize,
    filled: usize,
}

impl Aligned {
    fn new() -> Option<Self> {
        let mem = vec![0u8; BUFFER + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        (start < ALIGN).then_some(Aligned {
            mem,
            start,
            filled: 0,
        })
    }

    fn room(&mut self) -> &mut [u8] {
        &mut self.mem[self.start + self.filled..self.start + BUFFER]
    }

    fn is_full(&self) -> bool {
        self.filled == BUFFER
    }

    /// The filled bytes, zero-padded to whole [`ALIGN`]-byte blocks.
    fn blocks(&mut self) -> &[u8] {
        let end = self.filled.next_multiple_of(ALIGN);
        self.mem[self.start + self.filled..self.start + end].fill(0);
        &self.mem[self.start..self.start + end]
    }
}

/// The direct path: the buffer being filled and the disk thread.
struct Direct {
    buf: Aligned,
    /// Buffers allocated so far (at most [`BUFFERS`]).
    buffers: usize,
    to_disk: Option<SyncSender<Aligned>>,
    back: Receiver<Aligned>,
    thread: Option<JoinHandle<io::Result<File>>>,
}

impl Direct {
    /// `None` where the platform or the filesystem has no direct I/O.
    fn create(path: &Path) -> io::Result<Option<Self>> {
        let Some(file) = open_direct(path)? else {
            return Ok(None);
        };
        let Some(buf) = Aligned::new() else {
            return Ok(None);
        };
        let (to_disk, from_writer) = sync_channel::<Aligned>(BUFFERS);
        let (to_writer, back) = sync_channel::<Aligned>(BUFFERS);
        let reopen = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("parquet-direct".into())
            .spawn(move || write_out(file, &reopen, from_writer, to_writer))?;
        Ok(Some(Direct {
            buf,
            buffers: 1,
            to_disk: Some(to_disk),
            back,
            thread: Some(thread),
        }))
    }

    fn write(&mut self, data: &[u8], path: &Path) -> io::Result<usize> {
        let room = self.buf.room();
        let n = room.len().min(data.len());
        room[..n].copy_from_slice(&data[..n]);
        self.buf.filled += n;
        if self.buf.is_full() {
            self.hand_over(path)?;
        }
        Ok(n)
    }

    /// Send the filled buffer to the disk thread and take an empty one.
    fn hand_over(&mut self, path: &Path) -> io::Result<()> {
        let next = match self.back.try_recv() {
            Ok(b) => Some(b),
            Err(_) if self.buffers < BUFFERS => {
                self.buffers += 1;
                Aligned::new()
            }
            Err(_) => None,
        };
        let next = match next {
            Some(b) => b,
            None => match self.back.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.stopped(path)),
            },
        };
        let full = std::mem::replace(&mut self.buf, next);
        let sent = self.to_disk.as_ref().map(|tx| tx.send(full).is_ok());
        if sent == Some(true) {
            Ok(())
        } else {
            Err(self.stopped(path))
        }
    }

    /// Close the channel to the disk thread and wait for it: the file, or its first error.
    fn join(&mut self) -> io::Result<File> {
        self.to_disk = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the direct-write thread panicked")),
            None => Err(io::Error::other("the direct-write thread already stopped")),
        }
    }

    /// The disk thread's error, once it has stopped.
    fn stopped(&mut self, path: &Path) -> io::Error {
        match self.join() {
            Err(e) => e,
            Ok(_) => io::Error::other(format!(
                "{}: the direct-write thread stopped",
                path.display()
            )),
        }
    }

    fn finish(mut self, path: &Path) -> io::Result<File> {
        if self.buf.filled > 0 {
            let last = std::mem::replace(
                &mut self.buf,
                Aligned {
                    mem: Vec::new(),
                    start: 0,
                    filled: 0,
                },
            );
            let sent = self.to_disk.as_ref().map(|tx| tx.send(last).is_ok());
            if sent != Some(true) {
                return Err(self.stopped(path));
            }
        }
        self.join()
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        // Abandoned: let the thread drain and stop (the owner deletes the file).
        self.to_disk = None;
        if let Some(h) = self.thread.take() {
            let _ = h.join();
        }
    }
}

/// The disk thread: write each buffer at the next offset and send it back. A filesystem that
/// accepted `O_DIRECT` at open but refuses the first write gets the file reopened buffered.
fn write_out(
    mut file: File,
    path: &Path,
    buffers: Receiver<Aligned>,
    back: SyncSender<Aligned>,
) -> io::Result<File> {
    let mut at = 0u64;
    for mut buf in buffers {
        let blocks = buf.blocks();
        match write_at(&file, blocks, at) {
            Err(e) if at == 0 && e.kind() == io::ErrorKind::InvalidInput => {
                file = OpenOptions::new().write(true).open(path)?;
                write_at(&file, blocks, at)?;
            }
            r => r?,
        }
        at += blocks.len() as u64;
        buf.filled = 0;
        let _ = back.send(buf);
    }
    Ok(file)
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

#[cfg(unix)]
fn write_at(file: &File, data: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, data, at)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, data: &[u8], at: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom};
    file.seek(SeekFrom::Start(at))?;
    file.write_all(data)
}

/// The page-cache path, with the early-writeback syncs.
struct Buffered {
    w: BufWriter<File>,
    /// A second handle on the file, for the background syncs.
    sync_handle: Option<File>,
    syncing: Option<JoinHandle<io::Result<()>>>,
    written: u64,
    synced: u64,
}

impl Buffered {
    fn create(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        Ok(Buffered {
            sync_handle: file.try_clone().ok(),
            w: BufWriter::with_capacity(1 << 20, file),
            syncing: None,
            written: 0,
            synced: 0,
        })
    }

    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.w.write(data)?;
        self.written += n as u64;
        if self.written >= self.synced + SYNC_EVERY_BYTES
            && self.syncing.as_ref().is_none_or(|h| h.is_finished())
        {
            self.join_sync()?;
            self.w.flush()?;
            if let Some(file) = self.sync_handle.as_ref().and_then(|f| f.try_clone().ok()) {
                self.synced = self.written;
                self.syncing = std::thread::Builder::new()
                    .name("parquet-sync".into())
                    .spawn(move || file.sync_data())
                    .ok();
            }
        }
        Ok(n)
    }

    /// Wait for the background sync, if any; its error is the file's.
    fn join_sync(&mut self) -> io::Result<()> {
        match self.syncing.take().map(JoinHandle::join) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(io::Error::other("the background sync thread panicked")),
        }
    }

    fn finish(mut self) -> io::Result<File> {
        self.join_sync()?;
        self.w.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Writes of awkward sizes (one byte, a buffer and a bit, a block less one) across many
    /// buffers come back byte for byte, and the file is exactly as long as what was written.
    fn round_trip(io: OutputIo, sizes: &[usize]) -> (bool, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("o.parquet.partial");
        let mut f = OutputFile::create(&path, io).expect("create");
        let direct = f.is_direct();
        let mut expect = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let chunk = pattern(n, i as u8);
            f.write_all(&chunk).expect("write");
            expect.extend_from_slice(&chunk);
        }
        assert_eq!(f.len(), expect.len() as u64);
        let len = f.finish().expect("finish");
        assert_eq!(len, expect.len() as u64);
        let got = std::fs::read(&path).expect("read back");
        assert_eq!(got.len(), expect.len(), "file cut back to its length");
        assert!(got == expect, "the bytes read back are the bytes written");
        (direct, got)
    }

    const SIZES: [usize; 8] = [1, BUFFER + 17, ALIGN - 1, 3 * BUFFER, 12_345, 0, BUFFER, 5];

    #[test]
    fn direct_files_hold_exactly_the_bytes_written() {
        let (direct, _) = round_trip(OutputIo::Direct, &SIZES);
        if !direct {
            eprintln!(
                "note: the temp directory's filesystem refuses O_DIRECT; checked the page-cache fallback"
            );
        }
    }

    #[test]
    fn buffered_files_hold_exactly_the_bytes_written() {
        let (direct, _) = round_trip(OutputIo::Buffered, &SIZES);
        assert!(!direct);
    }

    #[test]
    fn the_page_cache_path_syncs_in_the_background_while_writing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.partial");
        let mut f = OutputFile::create(&path, OutputIo::Buffered).expect("create");
        let chunk = pattern(SYNC_EVERY_BYTES as usize / 2 + 1, 7);
        for _ in 0..3 {
            f.write_all(&chunk).expect("write");
        }
        let Mode::Buffered(b) = &f.mode else {
            panic!("buffered mode asked for")
        };
        assert!(b.synced >= SYNC_EVERY_BYTES, "a background sync started");
        assert_eq!(f.finish().expect("finish"), 3 * chunk.len() as u64);
        assert_eq!(
            std::fs::metadata(&path).expect("stat").len(),
            3 * chunk.len() as u64
        );
    }

    #[test]
    fn a_whole_number_of_buffers_and_an_empty_file_round_trip() {
        round_trip(OutputIo::Direct, &[BUFFER, BUFFER]);
        round_trip(OutputIo::Direct, &[]);
        round_trip(OutputIo::Direct, &[ALIGN]);
    }

    #[test]
    fn abandoning_a_file_stops_its_disk_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.partial");
        let mut f = OutputFile::create(&path, OutputIo::Direct).expect("create");
        f.write_all(&pattern(2 * BUFFER + 3, 1)).expect("write");
        drop(f);
        assert!(path.exists(), "the owner deletes it, not the writer");
    }
}
