//! Broken, hostile and inconsistent HDF5 files: every one is refused with a typed error that
//! names the file and the dataset or attribute, and nothing panics or allocates the cube.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use hdf5::types::VarLenUnicode;
use hsi_edge::Error;
use hsi_edge::cube::{Bands, CubeHeader, CubeReader, FlatFieldFrames, Radiometry, Shape};
use hsi_edge::read::hdf5::{Hdf5CubeWriter, Hdf5Reader, WriterOptions};
use ndarray::{Array1, Array2, Array3, arr0};

const LINES: usize = 40;
const SAMPLES: usize = 5;
const BANDS: usize = 3;

/// A valid cube whose pixel data is most of the file.
fn valid_cube(dir: &Path, name: &str) -> PathBuf {
    let header = CubeHeader {
        cube_id: "bad-input".into(),
        sensor_id: "s".into(),
        farm_id: "f".into(),
        field_id: "p".into(),
        region: "r".into(),
        acquisition_time: Utc.with_ymd_and_hms(2024, 7, 1, 12, 0, 0).unwrap(),
        crs: Some(32614),
        geotransform: Some([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
        calibration_id: None,
    };
    let shape = Shape {
        lines: LINES,
        samples: SAMPLES,
        bands: BANDS,
    };
    let bands = Bands {
        wavelength_nm: vec![500.0, 680.0, 800.0],
        fwhm_nm: None,
        good: None,
    };
    let ff = Radiometry::FlatField(FlatFieldFrames {
        dark: Array2::from_elem((SAMPLES, BANDS), 150.0),
        white: Array2::from_elem((SAMPLES, BANDS), 20_000.0),
        panel_reflectance: Array1::from_elem(BANDS, 0.99),
    });
    let path = dir.join(name);
    let opts = WriterOptions {
        chunk_lines: 8,
        ..WriterOptions::default()
    };
    let mut w = Hdf5CubeWriter::create(&path, &header, shape, &bands, Some(&ff), &opts).unwrap();
    let block = Array3::from_shape_fn((LINES, SAMPLES, BANDS), |(l, s, b)| {
        (l * 37 + s * 11 + b) as u16
    });
    w.write_block(0, &block).unwrap();
    w.finish().unwrap()
}

/// Open the cube and read every block; the first error.
fn first_error(path: &Path) -> Error {
    match Hdf5Reader::open(path) {
        Err(e) => e,
        Ok(mut r) => r
            .blocks(8)
            .find_map(|b| b.err())
            .unwrap_or_else(|| panic!("{} was accepted", path.display())),
    }
}

/// The message names the file and the dataset or attribute.
fn assert_names(err: &Error, path: &Path, key: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "no file in: {msg}"
    );
    assert!(msg.contains(key), "no `{key}` in: {msg}");
}

fn edit(path: &Path, f: impl FnOnce(&hdf5::File)) {
    let file = hdf5::File::open_rw(path).unwrap();
    f(&file);
}

#[test]
fn truncated_file_is_an_hdf5_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "t.h5");
    let len = std::fs::metadata(&path).unwrap().len();
    assert!(len > 1000, "{len}");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = first_error(&path);
    // HDF5 compares the superblock's stored end-of-file with the file's size.
    assert!(
        matches!(&err, Error::Hdf5 { dataset, reason, .. } if dataset == "/" && reason.contains("truncated")),
        "{err:?}"
    );
    assert_names(&err, &path, "t.h5");
}

#[test]
fn garbage_bytes_are_an_hdf5_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.h5");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, bytes).unwrap();
    let err = first_error(&path);
    match &err {
        Error::Hdf5 {
            dataset, reason, ..
        } => {
            assert_eq!(dataset, "/");
            assert!(reason.starts_with("cannot open as HDF5"), "{reason}");
        }
        other => panic!("expected Error::Hdf5, got {other:?}"),
    }
    assert_names(&err, &path, "garbage.h5");
}

#[test]
fn absent_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.h5");
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    );
    assert_names(&err, &path, "nowhere.h5");
}

#[test]
fn missing_cube_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "m.h5");
    edit(&path, |f| f.unlink("cube").unwrap());
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Missing { key, .. } if key == "/cube"),
        "{err:?}"
    );
    assert_names(&err, &path, "`/cube`");
}

#[test]
fn missing_cube_id_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "a.h5");
    edit(&path, |f| f.delete_attr("cube_id").unwrap());
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Missing { key, .. } if key == "@cube_id"),
        "{err:?}"
    );
    assert_names(&err, &path, "cube_id");
}

#[test]
fn dark_frame_of_the_wrong_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "d.h5");
    edit(&path, |f| {
        f.unlink("dark").unwrap();
        let dark = Array2::<f32>::from_elem((SAMPLES + 1, BANDS), 150.0);
        f.new_dataset_builder()
            .with_data(&dark)
            .create("dark")
            .unwrap();
    });
    let err = first_error(&path);
    match &err {
        Error::ShapeMismatch {
            key,
            expected,
            found,
            ..
        } => {
            assert_eq!(key, "/dark");
            assert_eq!(expected, "[5, 3]");
            assert_eq!(found, "[6, 3]");
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }
    assert_names(&err, &path, "/dark");
}

#[test]
fn wavelength_count_differs_from_band_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "w.h5");
    edit(&path, |f| {
        f.unlink("wavelength_nm").unwrap();
        f.new_dataset_builder()
            .with_data(&[500.0f32, 680.0, 800.0, 860.0])
            .create("wavelength_nm")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::ShapeMismatch { key, expected, found, .. }
            if key == "/wavelength_nm" && expected == "[3]" && found == "[4]"),
        "{err:?}"
    );
    assert_names(&err, &path, "/wavelength_nm");
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // Declared shapes from a corrupt or hostile header; no chunk is ever written, so the files
    // stay tiny while reading the declared cube would need terabytes.
    for (name, dims) in [
        ("long.h5", [2_000_000usize, 1_000, 224]),
        ("big.h5", [100_000, 100_000, 224]),
        ("bands.h5", [10, 10, 100_000]),
    ] {
        let path = valid_cube(dir.path(), name);
        edit(&path, |f| {
            f.unlink("cube").unwrap();
            f.new_dataset::<u16>()
                .shape(dims)
                .chunk([1, 1, dims[2].min(224)])
                .create("cube")
                .unwrap();
        });
        assert!(std::fs::metadata(&path).unwrap().len() < 64 * 1024);
        let err = first_error(&path);
        match &err {
            Error::AbsurdDimensions {
                lines,
                samples,
                bands,
                ..
            } => assert_eq!([*lines, *samples, *bands], dims.map(|d| d as u64)),
            other => panic!("expected AbsurdDimensions, got {other:?}"),
        }
        let dims_text = format!("{}x{}x{}", dims[0], dims[1], dims[2]);
        assert_names(&err, &path, &dims_text);
    }
}

#[test]
fn huge_declared_frame_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "hugeframe.h5");
    edit(&path, |f| {
        f.unlink("white").unwrap();
        f.new_dataset::<f32>()
            .shape([1_000_000, 100_000])
            .chunk([1, 1000])
            .create("white")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::ShapeMismatch { key, found, .. } if key == "/white" && found == "[1000000, 100000]"),
        "{err:?}"
    );
}

#[test]
fn bad_acquisition_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "time.h5");
    edit(&path, |f| {
        f.delete_attr("acquisition_time").unwrap();
        let t: VarLenUnicode = "15/06/2024 17:00".parse().unwrap();
        f.new_attr_builder()
            .with_data(&arr0(t))
            .create("acquisition_time")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "@acquisition_time"),
        "{err:?}"
    );
    assert_names(&err, &path, "15/06/2024 17:00");
    assert_names(&err, &path, "acquisition_time");
}

#[test]
fn wrong_rank_and_unsupported_type_of_cube() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "rank.h5");
    edit(&path, |f| {
        f.unlink("cube").unwrap();
        f.new_dataset_builder()
            .with_data(&Array2::<u16>::zeros((LINES, SAMPLES * BANDS)))
            .create("cube")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "/cube"),
        "{err:?}"
    );
    assert_names(&err, &path, "rank 3");

    let path = valid_cube(dir.path(), "f64.h5");
    edit(&path, |f| {
        f.unlink("cube").unwrap();
        f.new_dataset_builder()
            .with_data(&Array3::<f64>::zeros((LINES, SAMPLES, BANDS)))
            .create("cube")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "/cube"),
        "{err:?}"
    );
    assert_names(&err, &path, "float64");
}

#[test]
fn numbers_where_strings_belong_and_strings_where_numbers_belong() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "types.h5");
    edit(&path, |f| {
        f.delete_attr("farm_id").unwrap();
        f.new_attr::<i32>()
            .create("farm_id")
            .unwrap()
            .write_scalar(&7)
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "@farm_id"),
        "{err:?}"
    );
    assert_names(&err, &path, "expected a string attribute");

    let path = valid_cube(dir.path(), "crs.h5");
    edit(&path, |f| {
        f.delete_attr("crs").unwrap();
        let crs: VarLenUnicode = "UTM zone 14N".parse().unwrap();
        f.new_attr_builder()
            .with_data(&arr0(crs))
            .create("crs")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "@crs"),
        "{err:?}"
    );
    assert_names(&err, &path, "UTM zone 14N");

    let path = valid_cube(dir.path(), "gt.h5");
    edit(&path, |f| {
        f.delete_attr("geotransform").unwrap();
        f.new_attr_builder()
            .with_data(&[1.0f64, 2.0, 3.0])
            .create("geotransform")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::ShapeMismatch { key, .. } if key == "@geotransform"),
        "{err:?}"
    );
}

#[test]
fn non_finite_white_and_missing_panel() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "nan.h5");
    edit(&path, |f| {
        f.unlink("white").unwrap();
        let mut white = Array2::<f32>::from_elem((SAMPLES, BANDS), 20_000.0);
        white[[2, 1]] = f32::NAN;
        f.new_dataset_builder()
            .with_data(&white)
            .create("white")
            .unwrap();
    });
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "/white"),
        "{err:?}"
    );
    assert_names(&err, &path, "element 7 is NaN");

    let path = valid_cube(dir.path(), "panel.h5");
    edit(&path, |f| f.unlink("panel_reflectance").unwrap());
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Missing { key, .. } if key == "/panel_reflectance"),
        "{err:?}"
    );

    let path = valid_cube(dir.path(), "nodark.h5");
    edit(&path, |f| f.unlink("dark").unwrap());
    let err = first_error(&path);
    assert!(
        matches!(&err, Error::Missing { key, .. } if key == "/dark"),
        "{err:?}"
    );
}

#[test]
fn block_beyond_the_cube_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = valid_cube(dir.path(), "beyond.h5");
    let mut r = Hdf5Reader::open(&path).unwrap();
    let err = r.read_block(LINES + 1, 1).unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { key, .. } if key == "/cube"),
        "{err:?}"
    );
    assert_names(&err, &path, "beyond the cube's 40 lines");
}
