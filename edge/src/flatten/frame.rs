//! ZSTD frames for band pages: one block per BYTE_STREAM_SPLIT stream, and incompressible
//! streams stored as raw blocks without running the compressor over them.
//!
//! A page body is `head` (the definition levels, a few bytes) followed by `pieces` (the four
//! BYTE_STREAM_SPLIT streams, or the PLAIN bytes). [`compress_pieces`] writes it as **one ZSTD
//! frame** in which each piece ends a block (`ZSTD_e_flush`): ZSTD chooses per block whether
//! and how to entropy-code the literals, so the sign/exponent and high-mantissa streams get
//! Huffman tables of their own and the noise of the low mantissa bytes is stored raw.
//!
//! Storing a block raw is ZSTD's own conclusion after it has searched it for matches,
//! histogrammed its literals and copied it through its input buffer: for calibrated
//! reflectance that is half of the bytes and a third of the compression time, spent to learn
//! the same answer page after page. [`FrameWriter`] learns it once per column and
//! [`PROBE_EVERY`] pages: a *probe* page is compressed whole and its blocks are read back
//! ([`blocks`]); while the leading `r` pieces came out raw, the next pages are assembled by
//! hand ([`compress_with_raw_prefix`]):
//!
//! ```text
//! magic 28 b5 2f fd | FHD 0xa0 (single segment, 4-byte content size) | content size (u32 LE)
//! raw block(s): head ++ pieces[..r]      3-byte header: last = 0, type = raw, size ≤ 128 KiB
//! the blocks of ZSTD's frame of pieces[r..], copied without its frame header
//! ```
//!
//! Invariants that make the splice a valid frame (RFC 8878 §3.1.1):
//! - raw blocks come **only before** the compressed ones. Raw blocks change no decoder state
//!   but the history: the repeat offsets (1, 4, 8) and the absence of previous entropy tables
//!   are what the compressor of `pieces[r..]` started from, and it never references data
//!   before its own start (ZSTD bounds repeat offsets and matches by its own prefix);
//! - the frame is single-segment with the exact content size, so the window is the whole
//!   page and every block is ≤ 128 KiB;
//! - the inner frame has no checksum and no dictionary (never set here; checked anyway: an
//!   inner frame this parser does not expect falls back to a plain compressed page).
//!
//! A raw decision can only cost size, never correctness: a stream that turns compressible
//! between probes (a run of no-data pixels, whose NaN low bytes are zero) is stored raw until
//! the next probe. Any ZSTD decoder reads these frames; the tests decode them with libzstd,
//! the `parquet` crate and pyarrow.

use bytes::Bytes;
use parquet::errors::{ParquetError, Result};

/// The compressor the band pages share: the `zstd` crate's context.
pub(crate) type Zstd = zstd::bulk::Compressor<'static>;

/// A probe page every this many pages of a column (the first page is one).
pub(crate) const PROBE_EVERY: u32 = 16;

const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// The largest block (`Block_Maximum_Size`).
const MAX_BLOCK: usize = 128 * 1024;
/// Frame header of [`compress_with_raw_prefix`]: 4-byte content size, single segment.
const FHD_SINGLE_SEGMENT_FCS4: u8 = 0b1010_0000;

/// A ZSTD block's type (RFC 8878 §3.1.1.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockType {
    Raw,
    Rle,
    Compressed,
}

/// Where a frame's blocks start and end, and their types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocks {
    /// Offset of the first block header (the frame header's length).
    pub(crate) start: usize,
    /// Offset just past the last block (where a checksum would start).
    pub(crate) end: usize,
    pub(crate) types: Vec<BlockType>,
}

/// The blocks of the single ZSTD frame `frame`, or `None` when it is not one this module
/// writes or splices (a checksum, a dictionary, a skippable frame, truncation).
pub(crate) fn blocks(frame: &[u8]) -> Option<Blocks> {
    if frame.get(..4)? != MAGIC {
        return None;
    }
    let fhd = *frame.get(4)?;
    let (fcs_flag, single, checksum, dict) = (fhd >> 6, fhd >> 5 & 1, fhd >> 2 & 1, fhd & 3);
    if checksum != 0 || dict != 0 || fhd & 0b1_1000 != 0 {
        return None;
    }
    let fcs = match fcs_flag {
        0 => usize::from(single == 1),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let start = 5 + usize::from(single == 0) + fcs;
    let mut at = start;
    let mut types = Vec::new();
    loop {
        let h = frame.get(at..at + 3)?;
        let h = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
        let (last, kind, size) = (h & 1 == 1, h >> 1 & 3, (h >> 3) as usize);
        let (kind, stored) = match kind {
            0 => (BlockType::Raw, size),
            1 => (BlockType::Rle, 1),
            2 => (BlockType::Compressed, size),
            _ => return None,
        };
        types.push(kind);
        at += 3 + stored;
        if at > frame.len() {
            return None;
        }
        if last {
            return (at == frame.len()).then_some(Blocks {
                start,
                end: at,
                types,
            });
        }
    }
}

/// How a column's pages are framed: learnt from probe pages (see the [module docs](self)).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FrameWriter {
    /// Leading pieces stored raw without compressing them (0: compress every piece).
    raw: usize,
    /// Pages until the next probe (0: the next page is one).
    until_probe: u32,
}

impl FrameWriter {
    /// `head ++ body` as one frame, `body` being pieces that end at `cuts` (and at its end; see
    /// [`compress_pieces`]), probing, or skipping the compressor for the leading pieces the
    /// last probe found incompressible.
    pub(crate) fn compress(
        &mut self,
        z: &mut Zstd,
        scratch: &mut Vec<u8>,
        head: &[u8],
        body: &[u8],
        cuts: &[usize],
    ) -> Result<Bytes> {
        if self.until_probe > 0 {
            self.until_probe -= 1;
            if self.raw > 0 {
                return compress_with_raw_prefix(z, scratch, head, body, cuts, self.raw);
            }
            return compress_pieces(Some(z), head, &pieces(body, cuts));
        }
        self.until_probe = PROBE_EVERY - 1;
        let frame = compress_pieces(Some(z), head, &pieces(body, cuts))?;
        self.raw = match blocks(&frame) {
            // One block per piece (the head shares the first): the pieces map to the blocks.
            Some(b) if b.types.len() == cuts.len() + 1 => {
                b.types.iter().take_while(|t| **t == BlockType::Raw).count()
            }
            _ => 0,
        };
        Ok(frame)
    }
}

/// `body` cut at `cuts` (ascending offsets, clamped to the body).
pub(crate) fn pieces<'a>(body: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut rest = body;
    let mut at = 0;
    for &c in cuts {
        let (a, b) = rest.split_at(c.clamp(at, body.len()) - at);
        out.push(a);
        (rest, at) = (b, at + a.len());
    }
    out.push(rest);
    out
}

/// `head ++ body` (pieces ending at `cuts`) as one frame whose first `raw` pieces (and `head`)
/// are raw blocks and the rest ZSTD's blocks (see the [module docs](self)). `scratch` holds
/// the inner frame.
pub(crate) fn compress_with_raw_prefix(
    z: &mut Zstd,
    scratch: &mut Vec<u8>,
    head: &[u8],
    body: &[u8],
    cuts: &[usize],
    raw: usize,
) -> Result<Bytes> {
    let total = head.len() + body.len();
    let Ok(content) = u32::try_from(total) else {
        return compress_pieces(Some(z), head, &pieces(body, cuts));
    };
    let split = match raw.checked_sub(1) {
        None => 0,
        Some(i) => cuts.get(i).map_or(body.len(), |&c| c.min(body.len())),
    };
    let (prefix, rest) = body.split_at(split);
    let inner = if rest.is_empty() {
        None
    } else {
        let rest_cuts: Vec<usize> = cuts
            .iter()
            .filter(|&&c| c > split)
            .map(|c| c - split)
            .collect();
        compress_equal_pieces(z, scratch, rest, &pieces(rest, &rest_cuts))?;
        match blocks(scratch) {
            Some(b) => Some(b),
            None => return compress_pieces(Some(z), head, &pieces(body, cuts)),
        }
    };
    let raw_len = head.len() + prefix.len();
    let mut out = Vec::with_capacity(
        9 + raw_len + 3 * raw_len.div_ceil(MAX_BLOCK).max(1) + inner.as_ref().map_or(0, |b| b.end),
    );
    out.extend_from_slice(&MAGIC);
    out.push(FHD_SINGLE_SEGMENT_FCS4);
    out.extend_from_slice(&content.to_le_bytes());
    raw_blocks(&mut out, [head, prefix].into_iter(), inner.is_none());
    if let Some(b) = inner {
        out.extend_from_slice(&scratch[b.start..b.end]);
    }
    Ok(Bytes::from(out))
}

/// Raw blocks of at most [`MAX_BLOCK`] bytes holding `parts` (at least one block, even when
/// empty); the last one flagged `last`.
fn raw_blocks<'a>(out: &mut Vec<u8>, parts: impl Iterator<Item = &'a [u8]>, last: bool) {
    fn open(out: &mut Vec<u8>) -> usize {
        out.extend_from_slice(&[0; 3]);
        out.len() - 3
    }
    fn close(out: &mut [u8], at: usize, last: bool) {
        let size = (out.len() - at - 3) as u32;
        let h = size << 3 | u32::from(last);
        out[at..at + 3].copy_from_slice(&h.to_le_bytes()[..3]);
    }
    let mut header_at = open(out);
    let mut room = MAX_BLOCK;
    for mut part in parts {
        while !part.is_empty() {
            if room == 0 {
                close(out, header_at, false);
                header_at = open(out);
                room = MAX_BLOCK;
            }
            let take = room.min(part.len());
            out.extend_from_slice(&part[..take]);
            (room, part) = (room - take, &part[take..]);
        }
    }
    close(out, header_at, last);
}

/// `head` followed by `pieces`, as one ZSTD frame when `zstd` is given (else concatenated),
/// each piece ending a block (see the [module docs](self)).
pub(crate) fn compress_pieces(
    zstd: Option<&mut Zstd>,
    head: &[u8],
    pieces: &[&[u8]],
) -> Result<Bytes> {
    let Some(z) = zstd else {
        let total = head.len() + pieces.iter().map(|p| p.len()).sum::<usize>();
        let mut body = Vec::with_capacity(total);
        body.extend_from_slice(head);
        pieces.iter().for_each(|p| body.extend_from_slice(p));
        return Ok(Bytes::from(body));
    };
    let mut packed = Vec::new();
    compress_into(z, &mut packed, head, pieces)?;
    Ok(Bytes::from(packed))
}

/// ZSTD's smallest `ZSTD_c_maxBlockSize` (`ZSTD_BLOCKSIZE_MAX_MIN`).
const MIN_MAX_BLOCK: usize = 1 << 10;

/// [`compress_into`] without a head, for `pieces` that are the consecutive parts of `body`:
/// when they are all one length (the BYTE_STREAM_SPLIT streams of a page), one call of
/// `ZSTD_compress2` over `body` with the block size capped at that length, which cuts the
/// blocks exactly at the pieces' ends (ZSTD cuts a frame into `min(rest, max block size)`
/// blocks, and splits no block under 128 KiB further) and compresses straight from `body`,
/// where the streaming API copies its input into the context's buffer first.
fn compress_equal_pieces(
    z: &mut Zstd,
    packed: &mut Vec<u8>,
    body: &[u8],
    pieces: &[&[u8]],
) -> Result<()> {
    use zstd::zstd_safe::CParameter;
    let len = pieces.first().map_or(0, |p| p.len());
    let equal = pieces.iter().all(|p| p.len() == len) && len * pieces.len() == body.len();
    if !equal || !(MIN_MAX_BLOCK..=MAX_BLOCK).contains(&len) {
        return compress_into(z, packed, &[], pieces);
    }
    let zerr = |code: usize| {
        ParquetError::General(format!("ZSTD: {}", zstd::zstd_safe::get_error_name(code)))
    };
    let cx = z.context_mut();
    cx.set_parameter(CParameter::MaxBlockSize(len as u32))
        .map_err(zerr)?;
    packed.clear();
    packed.reserve(zstd::zstd_safe::compress_bound(body.len()));
    let done = cx.compress2(packed, body).map_err(zerr);
    // Back to the default for the streaming calls, which cut blocks themselves.
    cx.set_parameter(CParameter::MaxBlockSize(0))
        .map_err(zerr)?;
    done.map(|_| ())
}

/// [`compress_pieces`] with a compressor, into `packed` (cleared first).
fn compress_into(z: &mut Zstd, packed: &mut Vec<u8>, head: &[u8], pieces: &[&[u8]]) -> Result<()> {
    use zstd::zstd_safe::zstd_sys::ZSTD_EndDirective;
    use zstd::zstd_safe::{InBuffer, OutBuffer};
    let total = head.len() + pieces.iter().map(|p| p.len()).sum::<usize>();
    packed.clear();
    packed.reserve(zstd::zstd_safe::compress_bound(total) + 16 * (pieces.len() + 1));
    let zerr = |code: usize| {
        ParquetError::General(format!("ZSTD: {}", zstd::zstd_safe::get_error_name(code)))
    };
    let cx = z.context_mut();
    cx.reset(zstd::zstd_safe::ResetDirective::SessionOnly)
        .map_err(zerr)?;
    cx.set_pledged_src_size(Some(total as u64)).map_err(zerr)?;
    let mut out = OutBuffer::around(packed);
    let last = pieces.len();
    let inputs = std::iter::once(head).chain(pieces.iter().copied());
    for (i, piece) in inputs.enumerate() {
        let op = if i == last {
            ZSTD_EndDirective::ZSTD_e_end
        } else if i == 0 {
            // The few bytes of levels share the first stream's block.
            ZSTD_EndDirective::ZSTD_e_continue
        } else {
            ZSTD_EndDirective::ZSTD_e_flush
        };
        let mut input = InBuffer::around(piece);
        loop {
            let before = (out.pos(), input.pos);
            let left = cx
                .compress_stream2(&mut out, &mut input, op)
                .map_err(zerr)?;
            let consumed = input.pos == input.src.len();
            if consumed && (left == 0 || op == ZSTD_EndDirective::ZSTD_e_continue) {
                break;
            }
            if (out.pos(), input.pos) == before {
                return Err(ParquetError::General(
                    "ZSTD made no progress: output buffer too small".into(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise (xorshift) and a compressible ramp.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn ramp(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i / 700 % 5) as u8 + 60).collect()
    }

    fn zstd() -> Zstd {
        let mut z = Zstd::new(-50).expect("zstd");
        z.set_parameter(zstd::zstd_safe::CParameter::LiteralCompressionMode(
            zstd::zstd_safe::ParamSwitch::Enable,
        ))
        .expect("param");
        z
    }

    fn decode(frame: &[u8], size: usize) -> Vec<u8> {
        // Both of libzstd's decoders: the one-shot one and the streaming one.
        let one = zstd::bulk::decompress(frame, size).expect("one-shot decode");
        let streamed = zstd::stream::decode_all(frame).expect("streaming decode");
        assert_eq!(one, streamed);
        one
    }

    #[test]
    fn probe_learns_the_raw_prefix_and_spliced_frames_decode() {
        let head = [3u8, 0, 0, 0, 0x80, 0x80, 0x04, 1];
        let (s0, s1, s2, s3) = (
            noise(32768, 1),
            noise(32768, 2),
            ramp(32768),
            vec![63; 32768],
        );
        let body: Vec<u8> = [&s0[..], &s1, &s2, &s3].concat();
        let cuts = [32768, 65536, 98304];
        let want: Vec<u8> = [&head[..], &body].concat();
        let (mut z, mut scratch, mut fw) = (zstd(), Vec::new(), FrameWriter::default());

        let probe = fw
            .compress(&mut z, &mut scratch, &head, &body, &cuts)
            .expect("probe");
        assert_eq!(decode(&probe, want.len()), want);
        let b = blocks(&probe).expect("probe frame");
        assert_eq!(b.types[..2], [BlockType::Raw, BlockType::Raw]);
        assert_eq!(fw.raw, 2, "both noise streams learnt as raw");

        let spliced = fw
            .compress(&mut z, &mut scratch, &head, &body, &cuts)
            .expect("splice");
        assert_eq!(decode(&spliced, want.len()), want);
        let b = blocks(&spliced).expect("spliced frame");
        // head ++ s0 ++ s1 in one raw block, then ZSTD's blocks for s2 and s3.
        assert_eq!(b.types[0], BlockType::Raw);
        assert!(b.types[1..].iter().all(|t| *t != BlockType::Raw));
        assert_eq!(b.types.len(), 3);
        assert!(spliced.len() < want.len() - 32768, "s2 and s3 compressed");
        // The same size as ZSTD's own frame, give or take block and frame headers.
        assert!(
            spliced.len().abs_diff(probe.len()) < 64,
            "{} vs {}",
            spliced.len(),
            probe.len()
        );

        // Probes recur: PROBE_EVERY pages later the whole page is compressed again.
        for _ in 2..PROBE_EVERY {
            fw.compress(&mut z, &mut scratch, &head, &body, &cuts)
                .expect("page");
        }
        assert_eq!(fw.until_probe, 0);
        // The spliced pages capped ZSTD's block size at a stream's length and put it back:
        // this probe's head + s0 is one block again, so the raw prefix is learnt again.
        let probe = fw
            .compress(&mut z, &mut scratch, &head, &body, &cuts)
            .expect("probe");
        assert_eq!(blocks(&probe).expect("probe frame").types.len(), 4);
        assert_eq!(fw.raw, 2);
        assert_eq!(decode(&probe, want.len()), want);

        // Streams too short for a capped block size (< 1 KiB) take the streaming path.
        let short: Vec<u8> = [&s0[..500], &s1[..500], &s2[..500], &s3[..500]].concat();
        let f =
            compress_with_raw_prefix(&mut z, &mut scratch, &head, &short, &[500, 1000, 1500], 2)
                .expect("short");
        assert_eq!(decode(&f, head.len() + 2000), [&head[..], &short].concat());
        assert_eq!(blocks(&f).expect("frame").types.len(), 3);
    }

    #[test]
    fn a_compressible_stream_first_means_no_raw_prefix() {
        let (s0, s1) = (ramp(4096), noise(4096, 9));
        let mut fw = FrameWriter::default();
        let (mut z, mut scratch) = (zstd(), Vec::new());
        let body = [&s0[..], &s1].concat();
        let f = fw
            .compress(&mut z, &mut scratch, &[], &body, &[4096])
            .expect("probe");
        assert_eq!(fw.raw, 0);
        assert_eq!(decode(&f, 8192), [s0, s1].concat());
    }

    #[test]
    fn raw_prefixes_longer_than_a_block_and_all_raw_pages() {
        // 200 KiB + 70 KiB of noise: three raw blocks (128 KiB maximum each), all of it raw.
        let (a, b) = (noise(200 * 1024, 3), noise(70 * 1024, 4));
        let head = [1u8, 2, 3];
        let want: Vec<u8> = [&head[..], &a, &b].concat();
        let (mut z, mut scratch) = (zstd(), Vec::new());
        let body = [&a[..], &b].concat();
        let f = compress_with_raw_prefix(&mut z, &mut scratch, &head, &body, &[a.len()], 2)
            .expect("raw");
        assert_eq!(decode(&f, want.len()), want);
        let blk = blocks(&f).expect("frame");
        assert_eq!(blk.types, [BlockType::Raw; 3]);
        assert_eq!(f.len(), 9 + 3 * 3 + want.len());

        // Raw prefix then a compressed tail longer than a block.
        let c = ramp(300 * 1024);
        let want: Vec<u8> = [&head[..], &a, &c].concat();
        let body = [&a[..], &c].concat();
        let f = compress_with_raw_prefix(&mut z, &mut scratch, &head, &body, &[a.len()], 1)
            .expect("mix");
        assert_eq!(decode(&f, want.len()), want);

        // Empty pieces and an empty page.
        let f = compress_with_raw_prefix(&mut z, &mut scratch, &[], &[], &[0], 2).expect("empty");
        assert_eq!(decode(&f, 0), Vec::<u8>::new());
    }

    #[test]
    fn frames_this_module_does_not_splice_are_refused() {
        let plain = zstd::bulk::compress(&ramp(1000), 3).expect("compress");
        assert!(blocks(&plain).is_some());
        let mut with_sum = zstd::bulk::Compressor::new(3).expect("zstd");
        with_sum
            .set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
            .expect("param");
        let summed = with_sum.compress(&ramp(1000)).expect("compress");
        assert_eq!(blocks(&summed), None);
        assert_eq!(blocks(&plain[..plain.len() - 1]), None, "truncated");
        assert_eq!(blocks(b"not zstd"), None);
    }
}
