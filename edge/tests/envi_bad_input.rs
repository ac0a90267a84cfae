//! The ENVI reader refuses bad input with typed errors that name the file and the header key;
//! it never panics and never allocates for absurd dimensions.

use std::path::{Path, PathBuf};

use hsi_edge::Error;
use hsi_edge::cube::CubeReader;
use hsi_edge::read::envi::{EnviHeader, EnviReader};

/// 2 lines × 3 samples × 2 bands of float32, BIP: 48 bytes of pixels.
const GOOD: &str = "ENVI\nsamples = 3\nlines = 2\nbands = 2\nheader offset = 0\ndata type = 4\n\
                    interleave = bip\nbyte order = 0\nwavelength = {500, 600}\n";
const GOOD_BYTES: usize = 48;

/// Write `name.hdr` with `header` and, if `binary_len` is given, `name.img` of that many bytes.
fn cube(dir: &Path, name: &str, header: &str, binary_len: Option<usize>) -> PathBuf {
    let hdr = dir.join(format!("{name}.hdr"));
    std::fs::write(&hdr, header).unwrap();
    if let Some(n) = binary_len {
        let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join(format!("{name}.img")), bytes).unwrap();
    }
    hdr
}

/// `GOOD` with the line starting `key =` replaced (or removed when `line` is empty).
fn with_line(key: &str, line: &str) -> String {
    let mut out: Vec<&str> = GOOD
        .lines()
        .filter(|l| !l.starts_with(&format!("{key} =")))
        .collect();
    if !line.is_empty() {
        out.push(line);
    }
    out.join("\n") + "\n"
}

/// The message names the file and the key.
fn assert_names(err: &Error, file: &str, key: &str) {
    let msg = err.to_string();
    assert!(msg.contains(file), "`{msg}` should name {file}");
    assert!(
        msg.contains(&format!("`{key}`")),
        "`{msg}` should name `{key}`"
    );
}

#[test]
fn good_header_opens() {
    let dir = tempfile::tempdir().unwrap();
    let hdr = cube(dir.path(), "good", GOOD, Some(GOOD_BYTES));
    let mut r = EnviReader::open(&hdr).unwrap();
    assert_eq!(r.read_block(0, 2).unwrap().data.dim(), (2, 3, 2));
}

#[test]
fn truncated_or_padded_binary_is_a_file_size_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    for (name, len) in [
        ("short", GOOD_BYTES - 8),
        ("long", GOOD_BYTES + 1),
        ("empty", 0),
    ] {
        let hdr = cube(dir.path(), name, GOOD, Some(len));
        let err = EnviReader::open(&hdr).unwrap_err();
        let Error::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } = &err
        else {
            panic!("{name}: {err}");
        };
        assert_eq!(key, "file size");
        assert!(expected.starts_with("48 bytes"), "{expected}");
        assert_eq!(found, &format!("{len} bytes"));
        assert_names(&err, &format!("{name}.img"), "file size");
    }
    // A header offset that the binary does not hold counts too.
    let hdr = cube(
        dir.path(),
        "offset",
        &with_line("header offset", "header offset = 16"),
        Some(GOOD_BYTES),
    );
    let err = EnviReader::open(&hdr).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    assert!(err.to_string().contains("expected 64 bytes"), "{err}");
}

#[test]
fn binary_truncated_after_open_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let hdr = cube(dir.path(), "shrinks", GOOD, Some(GOOD_BYTES));
    let mut r = EnviReader::open(&hdr).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("shrinks.img"))
        .unwrap()
        .set_len(30)
        .unwrap();
    assert!(r.read_block(0, 1).is_ok());
    let err = r.read_block(1, 1).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch { .. }), "{err}");
    assert_names(&err, "shrinks.img", "file size");
}

#[test]
fn missing_required_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["samples", "lines", "bands", "data type", "interleave"] {
        let hdr = cube(dir.path(), "nokey", &with_line(key, ""), Some(GOOD_BYTES));
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(
            matches!(&err, Error::Missing { key: k, .. } if k == key),
            "{err}"
        );
        assert_names(&err, "nokey.hdr", key);
    }
    // Wavelengths are optional for the header but required to process the cube.
    let hdr = cube(
        dir.path(),
        "nowl",
        &with_line("wavelength", ""),
        Some(GOOD_BYTES),
    );
    assert!(EnviHeader::read(&hdr).is_ok());
    let err = EnviReader::open(&hdr).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
    assert_names(&err, "nowl.hdr", "wavelength");
}

#[test]
fn unparsable_numbers_are_invalid() {
    let dir = tempfile::tempdir().unwrap();
    for (key, line) in [
        ("lines", "lines = two"),
        ("samples", "samples = 3.5"),
        ("bands", "bands = -2"),
        ("header offset", "header offset = 0x10"),
        ("wavelength", "wavelength = {500, six hundred}"),
        ("byte order", "byte order = little"),
    ] {
        let hdr = cube(dir.path(), "nan", &with_line(key, line), Some(GOOD_BYTES));
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(
            matches!(&err, Error::Invalid { key: k, .. } if k == key),
            "{line}: {err}"
        );
        assert_names(&err, "nan.hdr", key);
    }
}

#[test]
fn unsupported_data_type_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    for code in ["6", "9", "13", "15", "float"] {
        let hdr = cube(
            dir.path(),
            "complex",
            &with_line("data type", &format!("data type = {code}")),
            Some(GOOD_BYTES),
        );
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");
        assert_names(&err, "complex.hdr", "data type");
        assert!(
            err.to_string()
                .contains(&format!("`{code}` is not supported")),
            "{err}"
        );
    }
}

#[test]
fn per_band_list_length_mismatch_is_a_shape_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    for (key, line) in [
        ("wavelength", "wavelength = {500, 600, 700}"),
        ("fwhm", "fwhm = {10}"),
        ("bbl", "bbl = {1, 1, 0, 1}"),
    ] {
        let header = format!("{GOOD}{line}\n");
        let header = if key == "wavelength" {
            with_line("wavelength", line)
        } else {
            header
        };
        let hdr = cube(dir.path(), "count", &header, Some(GOOD_BYTES));
        let err = EnviReader::open(&hdr).unwrap_err();
        let Error::ShapeMismatch {
            key: k, expected, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(k, key);
        assert!(expected.starts_with("2 values"), "{expected}");
        assert_names(&err, "count.hdr", key);
    }
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // No binary of 24 GB exists (none at all): the header alone is refused.
    for (line, dims) in [
        ("lines = 1000000000", "1000000000x3x2"),
        ("samples = 18446744073709551615", "2x18446744073709551615x2"),
        ("lines = 0", "0x3x2"),
    ] {
        let key = line.split(" =").next().unwrap();
        let hdr = cube(dir.path(), "huge", &with_line(key, line), None);
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(matches!(err, Error::AbsurdDimensions { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("huge.hdr") && msg.contains(dims), "{msg}");
    }
    let hdr = cube(
        dir.path(),
        "bands",
        &with_line("bands", "bands = 100000"),
        None,
    );
    assert!(matches!(
        EnviReader::open(&hdr),
        Err(Error::AbsurdDimensions { bands: 100_000, .. })
    ));
}

#[test]
fn a_header_that_does_not_start_with_envi_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("notenvi", GOOD.replacen("ENVI", "ENVY", 1)),
        ("blank", String::new()),
    ] {
        let hdr = cube(dir.path(), name, &text, Some(GOOD_BYTES));
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{err}");
        assert_names(&err, &format!("{name}.hdr"), "ENVI");
    }
    // A binary handed over as a header.
    let hdr = dir.path().join("binary.hdr");
    std::fs::write(&hdr, [0u8, 159, 146, 150, 255, 10, 0]).unwrap();
    let err = EnviHeader::read(&hdr).unwrap_err();
    assert_names(&err, "binary.hdr", "ENVI");
}

#[test]
fn a_missing_binary_or_header_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let hdr = cube(dir.path(), "alone", GOOD, None);
    let err = EnviReader::open(&hdr).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
    assert_names(&err, "alone.hdr", "binary");

    let img = dir.path().join("orphan.img");
    std::fs::write(&img, [0u8; GOOD_BYTES]).unwrap();
    let err = EnviReader::open(&img).unwrap_err();
    assert!(matches!(err, Error::Missing { .. }), "{err}");
    assert_names(&err, "orphan.img", "header");

    let err = EnviReader::open(&dir.path().join("nowhere.hdr")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(err.to_string().contains("nowhere.hdr"), "{err}");
}

#[test]
fn malformed_values_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, text) in [
        (
            "wavelength",
            format!("{GOOD}fwhm = {{1, 2}}\nwavelength = {{500,\n600\n"),
        ),
        ("interleave", with_line("interleave", "interleave = bsl")),
        (
            "map info",
            format!("{GOOD}map info = {{ UTM , 1 , 1 , 500000 }}\n"),
        ),
        ("bbl", format!("{GOOD}bbl = {{1, 2}}\n")),
        (
            "wavelength units",
            format!("{GOOD}wavelength units = Index\n"),
        ),
    ] {
        let hdr = cube(dir.path(), "odd", &text, Some(GOOD_BYTES));
        let err = EnviReader::open(&hdr).unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{key}: {err}");
        assert_names(&err, "odd.hdr", key);
    }
}

#[test]
fn reading_past_the_last_line_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let hdr = cube(dir.path(), "past", GOOD, Some(GOOD_BYTES));
    let mut r = EnviReader::open(&hdr).unwrap();
    let err = r.read_block(2, 1).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert_names(&err, "past.img", "lines");
    assert_eq!(r.read_block(1, usize::MAX).unwrap().data.dim(), (1, 3, 2));
}
