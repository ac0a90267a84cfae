//! ENVI reader: a text header (`.hdr`) beside a headerless binary of samples.
//!
//! # Format
//!
//! The header ([`EnviHeader`], syntax in `syntax.rs`) starts with the line `ENVI` and holds
//! `key = value` entries; `{ ... }` values may span lines, keys are case-insensitive and `;`
//! starts a comment line. It gives the dimensions (`samples`, `lines`, `bands`), the sample type
//! (`data type`, see [`DataType`]), the storage order (`interleave`: `bsq`, `bil` or `bip`), the
//! byte order (`byte order`, little-endian when absent), a number of bytes to skip at the start of
//! the binary (`header offset`), and optionally band centres and widths (`wavelength`, `fwhm`,
//! with `wavelength units`), the bad-band list (`bbl`), the fill value (`data ignore value`) and
//! georeferencing (`map info`, see [`MapInfo`]).
//!
//! The binary holds exactly `header offset + lines·samples·bands·bytes_per_sample` bytes; the
//! reader checks that on open, so a truncated or mismatched file is refused before any pixel is
//! read.
//!
//! # Finding the pair
//!
//! - From a binary `x.img` (or `x.raw`, `x.bin`, `x`): [`header_path_for`] tries `x.hdr`, then
//!   `x.img.hdr`.
//! - From a header `x.hdr`: [`binary_path_for`] tries `x.img`, `x.raw`, `x.bin`, `x.dat`, then
//!   `x` (for `x.img.hdr`, `x.img` comes first).
//!
//! # Reading
//!
//! [`EnviReader`] implements [`CubeReader`](crate::cube::CubeReader): blocks of lines are read
//! with seeks and exact reads (one byte range per block for BIP/BIL, one per band for BSQ) and
//! returned as `f32` in BIP order, bands in file order (never sorted).

mod dtype;
mod header;
pub mod identity;
mod mapinfo;
mod reader;
mod syntax;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use dtype::{ByteOrder, DataType};
pub use header::{EnviHeader, MAX_HEADER_BYTES};
pub use mapinfo::{Hemisphere, MapInfo};
pub use reader::EnviReader;

/// Extensions tried for the binary beside a header, in order.
pub const BINARY_EXTENSIONS: [&str; 4] = ["img", "raw", "bin", "dat"];

/// The `.hdr` beside a binary (`x.hdr`, then `x.img.hdr` for `x.img`), if one exists.
///
/// A path that is itself a `.hdr` has no header beside it: `None`.
pub fn header_path_for(path: &Path) -> Option<PathBuf> {
    if is_header_path(path) {
        return None;
    }
    let appended = |ext: &str| {
        let mut s = OsString::from(path.as_os_str());
        s.push(".");
        s.push(ext);
        PathBuf::from(s)
    };
    ["hdr", "HDR"]
        .into_iter()
        .flat_map(|ext| [path.with_extension(ext), appended(ext)])
        .find(|p| p.is_file())
}

/// The binary beside a header `x.hdr`: `x.img`, `x.raw`, `x.bin`, `x.dat` or `x`, the first that
/// exists (for `x.img.hdr`, `x.img` is tried first).
pub fn binary_path_for(header: &Path) -> Option<PathBuf> {
    let stem = header.with_extension("");
    let stem_first = stem.extension().is_some().then(|| stem.clone());
    let with_ext = BINARY_EXTENSIONS
        .into_iter()
        .flat_map(|e| [e.to_owned(), e.to_ascii_uppercase()])
        .map(|e| header.with_extension(e));
    stem_first
        .into_iter()
        .chain(with_ext)
        .chain(std::iter::once(stem))
        .find(|p| p.is_file())
}

/// Whether the path names an ENVI header (`.hdr`, any case).
pub(crate) fn is_header_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("hdr"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_lookup_both_ways() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("a.img"), b"").unwrap();
        std::fs::write(p("a.hdr"), b"").unwrap();
        std::fs::write(p("b.raw"), b"").unwrap();
        std::fs::write(p("b.raw.hdr"), b"").unwrap();
        std::fs::write(p("c"), b"").unwrap();
        std::fs::write(p("c.hdr"), b"").unwrap();

        assert_eq!(header_path_for(&p("a.img")), Some(p("a.hdr")));
        assert_eq!(header_path_for(&p("b.raw")), Some(p("b.raw.hdr")));
        assert_eq!(header_path_for(&p("c")), Some(p("c.hdr")));
        assert_eq!(header_path_for(&p("a.hdr")), None);
        assert_eq!(header_path_for(&p("d.img")), None);

        assert_eq!(binary_path_for(&p("a.hdr")), Some(p("a.img")));
        assert_eq!(binary_path_for(&p("b.raw.hdr")), Some(p("b.raw")));
        assert_eq!(binary_path_for(&p("c.hdr")), Some(p("c")));
        assert_eq!(binary_path_for(&p("d.hdr")), None);
    }
}
