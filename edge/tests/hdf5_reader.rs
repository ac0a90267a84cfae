//! Round trips through `Hdf5CubeWriter` → `Hdf5Reader` with hand-chosen values.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use hsi_edge::cube::{
    Bands, CubeHeader, CubeReader, DataKind, FlatFieldFrames, GainFrames, Radiometry, Shape,
    StoredBlock,
};
use hsi_edge::read::hdf5::{Hdf5CubeWriter, Hdf5Reader, StringStyle, WriterOptions};
use ndarray::{Array1, Array2, Array3, arr0, s};

const LINES: usize = 10;
const SAMPLES: usize = 4;
const BANDS: usize = 3;

/// The DN written at (line, sample, band): every value is distinct and easy to check by eye.
fn dn(l: usize, s: usize, b: usize) -> u16 {
    (1000 * l + 10 * s + b) as u16
}

fn header() -> CubeHeader {
    CubeHeader {
        cube_id: "cube-0001".into(),
        sensor_id: "vnir-swir-7".into(),
        farm_id: "farm-ks-12".into(),
        field_id: "field-3".into(),
        region: "us-central".into(),
        acquisition_time: Utc.with_ymd_and_hms(2024, 6, 15, 17, 30, 5).unwrap(),
        crs: Some(32614),
        geotransform: Some([500_000.0, 0.05, 0.0, 4_400_000.0, 0.0, -0.05]),
        calibration_id: Some("cal-2024-06".into()),
    }
}

fn bands() -> Bands {
    Bands {
        wavelength_nm: vec![680.5, 664.25, 800.0],
        fwhm_nm: Some(vec![9.5, 9.75, 10.0]),
        good: None,
    }
}

fn flat_field() -> FlatFieldFrames {
    FlatFieldFrames {
        dark: Array2::from_shape_fn((SAMPLES, BANDS), |(s, b)| 100.0 + s as f32 + 0.5 * b as f32),
        white: Array2::from_shape_fn((SAMPLES, BANDS), |(s, b)| {
            30_000.0 - 100.0 * s as f32 + b as f32
        }),
        panel_reflectance: Array1::from(vec![0.99, 0.985, 0.98]),
    }
}

fn shape() -> Shape {
    Shape {
        lines: LINES,
        samples: SAMPLES,
        bands: BANDS,
    }
}

/// Write the cube in blocks of 3 lines (not aligned with the 4-line chunks).
fn write_cube(path: &Path, radiometry: Option<&Radiometry>, options: &WriterOptions) -> PathBuf {
    let mut w =
        Hdf5CubeWriter::create(path, &header(), shape(), &bands(), radiometry, options).unwrap();
    assert_eq!(w.chunk_lines(), options.chunk_lines.min(LINES));
    for first in (0..LINES).step_by(3) {
        let n = 3.min(LINES - first);
        let block = Array3::from_shape_fn((n, SAMPLES, BANDS), |(l, s, b)| dn(first + l, s, b));
        w.write_block(first, &block).unwrap();
    }
    assert_eq!(w.lines_written(), LINES);
    w.finish().unwrap()
}

fn options(chunk_lines: usize, deflate: Option<u8>) -> WriterOptions {
    WriterOptions {
        chunk_lines,
        deflate,
        ..WriterOptions::default()
    }
}

fn assert_block_values(r: &mut Hdf5Reader, first: usize, count: usize) {
    let block = r.read_block(first, count).unwrap();
    let n = count.min(LINES - first);
    assert_eq!(block.first_line, first);
    assert_eq!(block.data.dim(), (n, SAMPLES, BANDS));
    for ((l, s, b), v) in block.data.indexed_iter() {
        assert_eq!(
            *v,
            f32::from(dn(first + l, s, b)),
            "line {} sample {s} band {b}",
            first + l
        );
    }
    // The same lines as stored: u16, unconverted.
    match r.read_block_stored(first, count).unwrap() {
        StoredBlock::U16 { first_line, data } => {
            assert_eq!(first_line, first);
            assert_eq!(data.dim(), (n, SAMPLES, BANDS));
            for ((l, s, b), v) in data.indexed_iter() {
                assert_eq!(*v, dn(first + l, s, b), "stored line {}", first + l);
            }
        }
        StoredBlock::F32(b) => assert_eq!(n, 0, "a u16 cube read as f32: {:?}", b.data.dim()),
    }
}

#[test]
fn round_trip_keeps_header_shape_bands_frames_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let ff = Radiometry::FlatField(flat_field());
    let path = write_cube(&dir.path().join("c.h5"), Some(&ff), &options(4, None));
    assert!(!dir.path().join("c.h5.partial").exists());

    let mut r = Hdf5Reader::open(&path).unwrap();
    let info = r.info().clone();
    assert_eq!(info.header, header());
    assert_eq!(info.shape, shape());
    assert_eq!(info.bands, bands());
    assert_eq!(info.kind, DataKind::RawDn);
    assert_eq!(info.radiometry, Some(ff));
    assert_eq!(info.raw_bytes, (LINES * SAMPLES * BANDS * 2) as u64);
    assert_eq!(info.ignore_value, None);
    assert_eq!(
        info.format,
        "HDF5 /cube uint16 [10, 4, 3] [lines, samples, bands], chunks [4, 4, 3], filters: none"
    );
    assert_eq!(r.chunk_lines(), Some(4));

    // Aligned, straddling two chunks, and clamped at the end of the cube.
    assert_block_values(&mut r, 0, 4);
    assert_block_values(&mut r, 3, 5);
    assert_block_values(&mut r, 8, 5);
    assert_block_values(&mut r, 9, 1);
    let empty = r.read_block(10, 3).unwrap();
    assert_eq!(empty.data.dim(), (0, SAMPLES, BANDS));

    // The block iterator covers every line once: the sum of all DNs, computed by hand.
    let expected: f64 = (0..LINES)
        .flat_map(|l| {
            (0..SAMPLES).flat_map(move |s| (0..BANDS).map(move |b| f64::from(dn(l, s, b))))
        })
        .sum();
    let mut total = 0.0f64;
    let mut firsts = vec![];
    for block in r.blocks(4) {
        let block = block.unwrap();
        firsts.push(block.first_line);
        total += block.data.iter().map(|v| f64::from(*v)).sum::<f64>();
    }
    assert_eq!(firsts, vec![0, 4, 8]);
    assert_eq!(total, expected);
    // 120 values: Σ1000·l over 12 (s, b) pairs + Σ10·s over 30 (l, b) + Σb over 40 (l, s).
    assert_eq!(expected, 45_000.0 * 12.0 + 60.0 * 30.0 + 3.0 * 40.0);
    assert_eq!(expected, 541_920.0);
}

#[test]
fn open_dispatches_h5_files_to_the_hdf5_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_cube(&dir.path().join("d.h5"), None, &options(32, None));
    let mut r = hsi_edge::read::open(&path).unwrap();
    assert_eq!(r.info().header.cube_id, "cube-0001");
    assert_eq!(r.info().radiometry, None);
    let block = r.read_block(7, 1).unwrap();
    assert_eq!(block.data[[0, 3, 2]], f32::from(dn(7, 3, 2)));
    assert_eq!(block.data[[0, 3, 2]], 7032.0);
}

#[test]
fn blocks_in_any_order_are_served_from_the_staged_chunk_run() {
    // Chunks of 4 lines: requests inside the staged run, straddling runs, going backwards,
    // and a compressed cube with chunks of 3, all against the DNs computed by hand.
    let dir = tempfile::tempdir().unwrap();
    let ff = Radiometry::FlatField(flat_field());
    let plain = write_cube(&dir.path().join("plain.h5"), Some(&ff), &options(4, None));
    let packed = write_cube(
        &dir.path().join("packed.h5"),
        Some(&ff),
        &options(3, Some(1)),
    );
    for path in [plain, packed] {
        let mut r = Hdf5Reader::open(&path).unwrap();
        assert!(
            r.stages_chunks(),
            "chunks smaller than the chunk cache are staged"
        );
        for (first, count) in [
            (0, 2),
            (2, 2),
            (1, 6),
            (6, 1),
            (0, 1),
            (9, 1),
            (4, 4),
            (0, 10),
        ] {
            assert_block_values(&mut r, first, count);
        }
    }
}

/// Unfiltered chunks of whole lines larger than HDF5's chunk cache (here 6 lines of
/// 512 × 256 u16 = 1.5 MiB) are read as exactly the requested lines, in any order, straddling
/// chunks; compressed chunks of the same size are still staged. Both give the values written.
#[test]
fn large_unfiltered_chunks_are_read_as_exact_line_ranges() {
    let (lines, samples, bands) = (14, 512, 256);
    let value = |l: usize, s: usize, b: usize| ((l * 7919 + s * 31 + b * 3) % 65_521) as u16;
    let dir = tempfile::tempdir().unwrap();
    let band_info = Bands {
        wavelength_nm: (0..bands).map(|b| 400.0 + 2.0 * b as f32).collect(),
        fwhm_nm: None,
        good: None,
    };
    let cube = Array3::from_shape_fn((lines, samples, bands), |(l, s, b)| value(l, s, b));
    for deflate in [None, Some(1)] {
        let path = dir.path().join(format!("large-{deflate:?}.h5"));
        let shape = Shape {
            lines,
            samples,
            bands,
        };
        let mut w = Hdf5CubeWriter::create(
            &path,
            &header(),
            shape,
            &band_info,
            None,
            &options(6, deflate),
        )
        .unwrap();
        w.write_block(0, cube.view()).unwrap();
        w.finish().unwrap();
        let mut r = Hdf5Reader::open(&path).unwrap();
        assert_eq!(r.chunk_lines(), Some(6));
        assert_eq!(r.stages_chunks(), deflate.is_some(), "{deflate:?}");
        for (first, count) in [(0, 4), (4, 4), (5, 3), (12, 5), (2, 1), (0, 14), (8, 6)] {
            let n = count.min(lines - first);
            let StoredBlock::U16 { first_line, data } = r.read_block_stored(first, count).unwrap()
            else {
                panic!("u16 cube read as stored should stay u16");
            };
            assert_eq!(first_line, first);
            assert_eq!(
                data.dim(),
                (n, samples, bands),
                "{deflate:?} {first}+{count}"
            );
            assert_eq!(
                data,
                cube.slice(s![first..first + n, .., ..]),
                "{deflate:?} {first}"
            );
            let block = r.read_block(first, count).unwrap();
            assert_eq!(block.data, data.mapv(f32::from));
        }
    }
}

#[test]
fn deflate_compressed_chunks_read_identically() {
    let dir = tempfile::tempdir().unwrap();
    let ff = Radiometry::FlatField(flat_field());
    let plain = write_cube(&dir.path().join("plain.h5"), Some(&ff), &options(4, None));
    let packed = write_cube(
        &dir.path().join("packed.h5"),
        Some(&ff),
        &options(3, Some(6)),
    );
    let mut a = Hdf5Reader::open(&plain).unwrap();
    let mut b = Hdf5Reader::open(&packed).unwrap();
    assert!(
        b.info()
            .format
            .ends_with("chunks [3, 4, 3], filters: shuffle+deflate(6)"),
        "{}",
        b.info().format
    );
    for (first, count) in [(0, 10), (1, 2), (5, 4), (9, 9)] {
        let x = a.read_block(first, count).unwrap();
        let y = b.read_block(first, count).unwrap();
        assert_eq!(x.data, y.data);
    }
    assert_block_values(&mut b, 2, 7);
}

#[test]
fn variable_length_string_attributes_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = header();
    h.farm_id = "Ferme Émile-Zoé".into(); // non-ASCII UTF-8, as h5py writes `str`
    let opts = options(5, None);
    assert_eq!(opts.strings, StringStyle::VariableUtf8);
    let path = dir.path().join("vlen.h5");
    let mut w = Hdf5CubeWriter::create(&path, &h, shape(), &bands(), None, &opts).unwrap();
    let block = Array3::from_shape_fn((LINES, SAMPLES, BANDS), |(l, s, b)| dn(l, s, b));
    w.write_block(0, block.view()).unwrap();
    w.finish().unwrap();

    {
        let f = hdf5::File::open(&path).unwrap();
        let t = f
            .attr("farm_id")
            .unwrap()
            .dtype()
            .unwrap()
            .to_descriptor()
            .unwrap();
        assert_eq!(t, TypeDescriptor::VarLenUnicode);
    }
    let r = Hdf5Reader::open(&path).unwrap();
    assert_eq!(r.info().header, h);
}

#[test]
fn fixed_length_strings_are_sized_to_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        strings: StringStyle::FixedUtf8,
        ..options(4, None)
    };
    let path = write_cube(&dir.path().join("fixed.h5"), None, &opts);
    let f = hdf5::File::open(&path).unwrap();
    let t = f
        .attr("cube_id")
        .unwrap()
        .dtype()
        .unwrap()
        .to_descriptor()
        .unwrap();
    assert_eq!(t, TypeDescriptor::FixedUnicode("cube-0001".len()));
    let t = f
        .attr("acquisition_time")
        .unwrap()
        .dtype()
        .unwrap()
        .to_descriptor()
        .unwrap();
    assert_eq!(
        t,
        TypeDescriptor::FixedUnicode("2024-06-15T17:30:05Z".len())
    );
}

#[test]
fn h5py_style_scalar_panel_string_crs_ascii_strings_and_offsets_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let ff = Radiometry::FlatField(flat_field());
    let path = write_cube(&dir.path().join("py.h5"), Some(&ff), &options(4, None));
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        f.unlink("panel_reflectance").unwrap();
        f.new_attr::<f64>()
            .create("panel_reflectance")
            .unwrap()
            .write_scalar(&0.975f64)
            .unwrap();
        f.delete_attr("crs").unwrap();
        let crs: VarLenUnicode = "EPSG:32615".parse().unwrap();
        f.new_attr_builder()
            .with_data(&arr0(crs))
            .create("crs")
            .unwrap();
        f.delete_attr("region").unwrap();
        let region = VarLenAscii::from_ascii("us-north").unwrap();
        f.new_attr_builder()
            .with_data(&arr0(region))
            .create("region")
            .unwrap();
        f.delete_attr("acquisition_time").unwrap();
        let t: VarLenUnicode = "2024-06-15T12:30:05-05:00".parse().unwrap();
        f.new_attr_builder()
            .with_data(&arr0(t))
            .create("acquisition_time")
            .unwrap();
        f.delete_attr("calibration_id").unwrap();
        f.dataset("cube")
            .unwrap()
            .new_attr::<u16>()
            .create("_FillValue")
            .unwrap()
            .write_scalar(&65535u16)
            .unwrap();
    }
    let r = Hdf5Reader::open(&path).unwrap();
    let info = r.info();
    assert_eq!(info.header.crs, Some(32615));
    assert_eq!(info.header.region, "us-north");
    assert_eq!(info.header.acquisition_time, header().acquisition_time);
    assert_eq!(info.header.calibration_id, None);
    assert_eq!(info.ignore_value, Some(65535.0));
    match &info.radiometry {
        Some(Radiometry::FlatField(f)) => {
            assert_eq!(f.panel_reflectance, Array1::from_elem(BANDS, 0.975f32));
            assert_eq!(f.dark, flat_field().dark);
        }
        other => panic!("expected a flat field, got {other:?}"),
    }
}

#[test]
fn gains_without_white_give_gain_radiometry() {
    let dir = tempfile::tempdir().unwrap();
    let gain = Radiometry::Gain(GainFrames {
        dark: Array2::from_elem((SAMPLES, BANDS), 120.0),
        gain: Array2::from_shape_fn((SAMPLES, BANDS), |(s, b)| 0.01 * (1 + s + b) as f32),
        offset: Array1::from(vec![0.5, -0.25, 0.0]),
    });
    let path = write_cube(&dir.path().join("g.h5"), Some(&gain), &options(4, Some(1)));
    let r = Hdf5Reader::open(&path).unwrap();
    assert_eq!(r.info().radiometry, Some(gain));
}

/// Replace `/cube` by a dataset of another element type holding the same values.
fn replace_cube<T: hdf5::H5Type + Copy>(path: &Path, convert: impl Fn(u16) -> T) {
    let f = hdf5::File::open_rw(path).unwrap();
    f.unlink("cube").unwrap();
    let values = Array3::from_shape_fn((LINES, SAMPLES, BANDS), |(l, s, b)| {
        convert(dn(l, s, b) % 200)
    });
    f.new_dataset_builder()
        .with_data(&values)
        .create("cube")
        .unwrap();
}

#[test]
fn uint8_int16_and_float32_cubes_are_converted_to_f32() {
    let dir = tempfile::tempdir().unwrap();
    let expect = |l: usize, s: usize, b: usize| f32::from(dn(l, s, b) % 200);
    for (name, kind, bytes) in [
        ("u8.h5", "uint8", 1u64),
        ("i16.h5", "int16", 2),
        ("f32.h5", "float32", 4),
    ] {
        let path = write_cube(&dir.path().join(name), None, &options(4, None));
        match kind {
            "uint8" => replace_cube(&path, |v| v as u8),
            "int16" => replace_cube(&path, |v| -(v as i16)),
            _ => replace_cube(&path, |v| f32::from(v) + 0.25),
        }
        let mut r = Hdf5Reader::open(&path).unwrap();
        assert!(r.info().format.contains(kind), "{}", r.info().format);
        assert_eq!(r.info().raw_bytes, (LINES * SAMPLES * BANDS) as u64 * bytes);
        assert_eq!(r.chunk_lines(), None);
        let kind_expected = if kind == "float32" {
            DataKind::Reflectance
        } else {
            DataKind::RawDn
        };
        assert_eq!(r.info().kind, kind_expected);
        let block = r.read_block(2, 3).unwrap();
        for ((l, s, b), v) in block.data.indexed_iter() {
            let want = match kind {
                "uint8" => expect(2 + l, s, b),
                "int16" => -expect(2 + l, s, b),
                _ => expect(2 + l, s, b) + 0.25,
            };
            assert_eq!(*v, want);
        }
    }
}

#[test]
fn unfinished_writers_leave_no_cube_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("partial.h5");
    let mut w =
        Hdf5CubeWriter::create(&path, &header(), shape(), &bands(), None, &options(4, None))
            .unwrap();
    let block = Array3::from_shape_fn((5, SAMPLES, BANDS), |(l, s, b)| dn(l, s, b));
    w.write_block(0, &block).unwrap();
    w.write_block(7, block.slice(s![..3, .., ..])).unwrap();
    assert_eq!(w.lines_written(), 8);
    let err = w.finish().unwrap_err().to_string();
    assert!(
        err.contains("lines 5..7 were never written (8 of 10 lines written)"),
        "{err}"
    );
    assert!(!path.exists());
    assert!(!dir.path().join("partial.h5.partial").exists());

    let mut w =
        Hdf5CubeWriter::create(&path, &header(), shape(), &bands(), None, &options(4, None))
            .unwrap();
    assert!(dir.path().join("partial.h5.partial").exists());
    let too_far = w.write_block(8, &block).unwrap_err().to_string();
    assert!(
        too_far.contains("block of 5 lines at line 8 runs past the cube's 10 lines"),
        "{too_far}"
    );
    let wrong = Array3::<u16>::zeros((1, SAMPLES + 1, BANDS));
    let err = w.write_block(0, &wrong).unwrap_err();
    assert!(
        matches!(err, hsi_edge::Error::ShapeMismatch { .. }),
        "{err}"
    );
    drop(w);
    assert!(!dir.path().join("partial.h5.partial").exists());
}
