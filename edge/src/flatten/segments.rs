//! A column chunk kept as the byte segments it was written in, so finished pages are not
//! copied into a chunk buffer before the file writer copies them again.
//!
//! [`ChunkBuf`] is the `Write` under a band chunk's page writer
//! (`TrackedWrite<ChunkBuf>`). Told which [`Bytes`] the next page body is
//! ([`ChunkBuf::expect`]), it keeps a reference to that body when the write arrives with the
//! very same bytes (same address and length: the `parquet` crate's page writer hands page
//! bodies larger than its 8 KiB buffer straight through), and copies everything else (page
//! headers, small pages) into the segment being built. [`Segments`] is the result, read back by
//! `append_column` as a [`ChunkReader`].
//!
//! Invariant: the segments, concatenated, are exactly the bytes written, in order. Keeping a
//! reference is only an optimisation: when the page writer buffers a body (or any future
//! version of it copies), the bytes are copied and the result is the same.

use std::io::{Read, Write};

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};
use parquet::file::reader::{ChunkReader, Length};

/// The `Write` side (see the [module docs](self)).
#[derive(Debug, Default)]
pub(crate) struct ChunkBuf {
    parts: Vec<Bytes>,
    /// Bytes copied since the last kept body.
    tail: Vec<u8>,
    /// The body the next write may be.
    pending: Option<Bytes>,
    len: u64,
}

impl ChunkBuf {
    /// The next write of exactly `body`'s bytes keeps `body` instead of copying it.
    pub(crate) fn expect(&mut self, body: &Bytes) {
        self.pending = Some(body.clone());
    }

    /// The bytes written, as segments.
    pub(crate) fn finish(mut self) -> Segments {
        self.close_tail();
        Segments {
            parts: self.parts,
            len: self.len,
        }
    }

    fn close_tail(&mut self) {
        if !self.tail.is_empty() {
            self.parts.push(Bytes::from(std::mem::take(&mut self.tail)));
        }
    }
}

impl Write for ChunkBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.pending.take() {
            Some(body) if body.as_ptr() == buf.as_ptr() && body.len() == buf.len() => {
                self.close_tail();
                self.parts.push(body);
            }
            other => {
                self.pending = other;
                self.tail.extend_from_slice(buf);
            }
        }
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A column chunk's bytes in segments, readable as a [`ChunkReader`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Segments {
    parts: Vec<Bytes>,
    len: u64,
}

impl From<Bytes> for Segments {
    fn from(b: Bytes) -> Self {
        Segments {
            len: b.len() as u64,
            parts: vec![b],
        }
    }
}

impl Length for Segments {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for Segments {
    type T = SegmentsReader;

    fn get_read(&self, start: u64) -> Result<SegmentsReader> {
        let mut reader = SegmentsReader {
            parts: self.parts.clone(),
            part: 0,
        };
        let mut skip = start;
        while let Some(p) = reader.parts.get_mut(reader.part) {
            if skip < p.len() as u64 {
                *p = p.slice(skip as usize..);
                return Ok(reader);
            }
            skip -= p.len() as u64;
            reader.part += 1;
        }
        if skip == 0 {
            Ok(reader)
        } else {
            Err(ParquetError::EOF(format!(
                "offset {start} is past the chunk's {} bytes",
                self.len
            )))
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes> {
        let mut out = Vec::with_capacity(length);
        self.get_read(start)?
            .take(length as u64)
            .read_to_end(&mut out)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        if out.len() != length {
            return Err(ParquetError::EOF(format!(
                "{length} bytes from offset {start} run past the chunk's {} bytes",
                self.len
            )));
        }
        Ok(Bytes::from(out))
    }
}

/// Reads [`Segments`] from an offset.
#[derive(Debug)]
pub(crate) struct SegmentsReader {
    parts: Vec<Bytes>,
    part: usize,
}

impl Read for SegmentsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(p) = self.parts.get_mut(self.part) {
            if p.is_empty() {
                self.part += 1;
                continue;
            }
            let n = p.len().min(buf.len());
            buf[..n].copy_from_slice(&p[..n]);
            *p = p.slice(n..);
            return Ok(n);
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_kept_by_reference_and_everything_reads_back_in_order() {
        let body = Bytes::from((0..20_000u32).map(|i| i as u8).collect::<Vec<_>>());
        let other = Bytes::from(vec![7u8; 5]);
        let mut w = ChunkBuf::default();
        w.write_all(b"head-1").unwrap();
        w.expect(&body);
        w.write_all(&body).unwrap();
        // Expected but copied (a buffered write arrives from elsewhere): still correct.
        w.expect(&other);
        w.write_all(b"head-2").unwrap();
        let same_bytes_elsewhere = vec![7u8; 5];
        w.write_all(&same_bytes_elsewhere).unwrap();
        let s = w.finish();
        assert_eq!(
            s.parts.len(),
            3,
            "head-1, the body by reference, then the copies"
        );
        assert_eq!(s.parts[1].as_ptr(), body.as_ptr());
        let want: Vec<u8> = [&b"head-1"[..], &body, b"head-2", &other].concat();
        assert_eq!(s.len(), want.len() as u64);
        let mut all = Vec::new();
        s.get_read(0).unwrap().read_to_end(&mut all).unwrap();
        assert_eq!(all, want);
        for start in [0u64, 3, 6, 7, 20_005, 20_006, 20_012, want.len() as u64] {
            let mut got = Vec::new();
            s.get_read(start).unwrap().read_to_end(&mut got).unwrap();
            assert_eq!(got, want[start as usize..], "from {start}");
        }
        assert_eq!(s.get_bytes(4, 10).unwrap(), want[4..14]);
        assert!(s.get_read(want.len() as u64 + 1).is_err());
        assert!(s.get_bytes(want.len() as u64 - 2, 5).is_err());
    }
}
