//! The ENVI reader against every real file in `shared/data/envi/` (see its `PROVENANCE.md`), and
//! a synthetic round trip over every data type, byte order and interleave.
//!
//! Expected pixel values are decoded here independently, straight from the binary's bytes at
//! hand-computed offsets; expected header facts are read from the header text with plain string
//! handling, not with the reader's parser.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hsi_edge::cube::{CubeReader, DataKind, Interleave, LineBlock};
use hsi_edge::read::envi::{ByteOrder, DataType, EnviReader};
use ndarray::{Array3, Axis, concatenate};

const NG_2580: &str = "ang20140912t192359_corr_v1c_img_2580-2590_540-550";
const NG_FILL: &str = "ang20140912t192359_corr_v1c_img_400-410_10-20";
const NG_4200: &str = "ang20150420t182808_corr_v1e_img_4200-4210_70-80";
const NG_4000: &str = "ang20150422t163638_corr_v1e_img_4000-4010_550-560";
const NG_PIXEL: &str = "ang20150422t163638_corr_v1e_img_987_654";
const AVIRIS: &str = "f080702t01p00r08rdn_c_sc01_ort_img_123_456";
const CORN: &str = "corn-kernel-hyperspectral";
const NG_CHIPS: [&str; 5] = [NG_2580, NG_FILL, NG_4200, NG_4000, NG_PIXEL];

/// A fixture, with the helpful message from `testdata` when it is missing.
fn fixture(name: &str) -> PathBuf {
    hsi_edge::testdata::shared_file(format!("envi/{name}")).unwrap_or_else(|e| panic!("{e}"))
}

fn open(stem: &str) -> EnviReader {
    let hdr = fixture(&format!("{stem}.hdr"));
    EnviReader::open(&hdr).unwrap_or_else(|e| panic!("{e}"))
}

fn read_all(r: &mut EnviReader) -> Array3<f32> {
    let lines = r.info().shape.lines;
    r.read_block(0, lines).unwrap().data
}

fn binary_bytes(r: &EnviReader) -> Vec<u8> {
    std::fs::read(r.binary_path()).unwrap()
}

fn header_text(stem: &str) -> String {
    std::fs::read_to_string(fixture(&format!("{stem}.hdr"))).unwrap()
}

/// The numbers of a `key = { a , b , ... }` list, found with plain string handling.
fn header_list(text: &str, key: &str) -> Vec<f64> {
    let start = text.find(&format!("\n{key} = {{")).expect(key) + key.len() + 5;
    let end = start + text[start..].find('}').unwrap();
    text[start..end]
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn f32_le(bytes: &[u8], offset: usize) -> f32 {
    f32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

#[test]
fn every_fixture_opens_with_its_shape_and_layout() {
    let table: [(&str, [usize; 3], DataType, Interleave, DataKind); 7] = [
        (
            NG_2580,
            [10, 10, 432],
            DataType::F32,
            Interleave::Bip,
            DataKind::Reflectance,
        ),
        (
            NG_FILL,
            [10, 10, 432],
            DataType::F32,
            Interleave::Bip,
            DataKind::Reflectance,
        ),
        (
            NG_4200,
            [10, 10, 432],
            DataType::F32,
            Interleave::Bip,
            DataKind::Reflectance,
        ),
        (
            NG_4000,
            [10, 10, 432],
            DataType::F32,
            Interleave::Bip,
            DataKind::Reflectance,
        ),
        (
            NG_PIXEL,
            [1, 1, 432],
            DataType::F32,
            Interleave::Bip,
            DataKind::Reflectance,
        ),
        (
            AVIRIS,
            [1, 1, 224],
            DataType::I16,
            Interleave::Bip,
            DataKind::Radiance,
        ),
        (
            CORN,
            [31, 43, 580],
            DataType::U16,
            Interleave::Bil,
            DataKind::RawDn,
        ),
    ];
    // Every header in the directory is covered by the table.
    let dir = fixture("");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hdr"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = table.iter().map(|t| t.0.to_owned()).collect();
    assert_eq!(on_disk, listed);

    for (stem, [lines, samples, bands], dtype, interleave, kind) in table {
        let r = open(stem);
        let info = r.info();
        let s = info.shape;
        assert_eq!(
            [s.lines, s.samples, s.bands],
            [lines, samples, bands],
            "{stem}"
        );
        assert_eq!(r.header().data_type, dtype, "{stem}");
        assert_eq!(r.header().interleave, interleave, "{stem}");
        assert_eq!(r.header().header_offset, 0, "{stem}");
        assert_eq!(info.kind, kind, "{stem}");
        assert_eq!(info.bands.wavelength_nm.len(), bands, "{stem}");
        assert_eq!(
            info.raw_bytes,
            (lines * samples * bands * dtype.size()) as u64
        );
        assert_eq!(
            info.raw_bytes,
            std::fs::metadata(r.binary_path()).unwrap().len()
        );
        assert_eq!(info.header.cube_id, stem);
        assert_eq!(info.path, fixture(&format!("{stem}.hdr")));
        assert!(info.radiometry.is_none());
        // Opening from the binary finds the same header.
        let via_binary = EnviReader::open(r.binary_path()).unwrap();
        assert_eq!(via_binary.header(), r.header());
    }
    assert_eq!(
        open(NG_2580).info().format,
        "ENVI bip float32 little-endian, header offset 0"
    );
    assert_eq!(
        open(CORN).info().format,
        "ENVI bil uint16 little-endian, header offset 0"
    );
}

#[test]
fn bip_float32_values_match_an_independent_decode() {
    for stem in NG_CHIPS {
        let mut r = open(stem);
        let bytes = binary_bytes(&r);
        let s = r.info().shape;
        let cube = read_all(&mut r);
        let (last_l, last_s, last_b) = (s.lines - 1, s.samples - 1, s.bands - 1);
        for (l, sm, b) in [
            (0, 0, 0),
            (last_l, last_s, last_b),
            (last_l / 2, last_s, 100),
            (0, last_s / 3, last_b),
        ] {
            let offset = ((l * s.samples + sm) * s.bands + b) * 4;
            assert_eq!(
                cube[[l, sm, b]],
                f32_le(&bytes, offset),
                "{stem} ({l},{sm},{b})"
            );
        }
        // The whole chip, element by element.
        let all: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(cube.iter().copied().collect::<Vec<_>>(), all, "{stem}");
    }
    // Values from PROVENANCE (reflectance −0.12..1.45 for this chip) and a Python decode.
    let cube = read_all(&mut open(NG_2580));
    let min = cube.iter().copied().fold(f32::INFINITY, f32::min);
    let max = cube.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert!(
        (min - -0.117_562_61).abs() < 1e-7 && (max - 1.449_226_6).abs() < 1e-6,
        "{min} {max}"
    );
    assert_eq!(cube[[0, 0, 0]], -0.116_061_22);
    assert_eq!(cube[[9, 9, 431]], 0.096_614_6);
    assert_eq!(cube[[3, 7, 100]], 0.277_660_5);
}

#[test]
fn bil_uint16_values_match_an_independent_decode() {
    let mut r = open(CORN);
    let bytes = binary_bytes(&r);
    let (lines, samples, bands) = (31, 43, 580);
    let cube = read_all(&mut r);
    assert_eq!(cube.dim(), (lines, samples, bands));
    let at = |l: usize, s: usize, b: usize| {
        let offset = ((l * bands + b) * samples + s) * 2;
        f32::from(u16::from_le_bytes([bytes[offset], bytes[offset + 1]]))
    };
    for (l, s, b) in [
        (0, 0, 0),
        (30, 42, 579),
        (15, 21, 300),
        (0, 42, 1),
        (30, 0, 578),
        (7, 13, 0),
    ] {
        assert_eq!(cube[[l, s, b]], at(l, s, b), "({l},{s},{b})");
    }
    for ((l, s, b), v) in cube.indexed_iter() {
        assert_eq!(*v, at(l, s, b));
    }
    assert_eq!(
        [cube[[0, 0, 0]], cube[[30, 42, 579]], cube[[15, 21, 300]]],
        [22.0, 16.0, 2478.0]
    );
}

#[test]
fn int16_bip_radiance_pixel_matches_an_independent_decode() {
    let mut r = open(AVIRIS);
    let bytes = binary_bytes(&r);
    let cube = read_all(&mut r);
    assert_eq!(cube.dim(), (1, 1, 224));
    for b in 0..224 {
        let v = i16::from_le_bytes([bytes[2 * b], bytes[2 * b + 1]]);
        assert_eq!(cube[[0, 0, b]], f32::from(v), "band {b}");
    }
    assert_eq!(
        cube.slice(ndarray::s![0, 0, ..3]).to_vec(),
        [1072.0, 1163.0, 1148.0]
    );
    assert_eq!(cube[[0, 0, 223]], 5.0);
}

#[test]
fn blocks_of_three_lines_equal_one_block() {
    for stem in [NG_2580, NG_4200, NG_4000, NG_FILL, CORN] {
        let mut r = open(stem);
        let whole = read_all(&mut r);
        let blocks: Vec<LineBlock> = r.blocks(3).collect::<Result<_, _>>().unwrap();
        let lines = whole.dim().0;
        assert_eq!(blocks.len(), lines.div_ceil(3), "{stem}");
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.first_line, 3 * i);
            assert_eq!(b.data.dim().0, 3.min(lines - 3 * i));
        }
        let views: Vec<_> = blocks.iter().map(|b| b.data.view()).collect();
        assert_eq!(concatenate(Axis(0), &views).unwrap(), whole, "{stem}");
        // A block asked past the end is clamped.
        let tail = r.read_block(lines - 2, 100).unwrap();
        assert_eq!(tail.data, whole.slice(ndarray::s![lines - 2.., .., ..]));
    }
}

#[test]
fn single_aviris_ng_pixel_has_red_and_nir_reflectance_from_provenance() {
    let mut r = open(NG_PIXEL);
    let wl = r.info().bands.wavelength_nm.clone();
    let nearest = |target: f32| {
        (0..wl.len())
            .min_by(|&a, &b| (wl[a] - target).abs().total_cmp(&(wl[b] - target).abs()))
            .unwrap()
    };
    let (red, nir) = (nearest(670.0), nearest(800.0));
    assert_eq!((red, nir), (65, 91));
    assert!((wl[red] - 671.863_1).abs() < 1e-3 && (wl[nir] - 802.088_5).abs() < 1e-3);
    let px = read_all(&mut r);
    let (r670, r800) = (px[[0, 0, red]], px[[0, 0, nir]]);
    assert!((r670 - 0.28).abs() < 0.005, "R670 = {r670}");
    assert!((r800 - 0.32).abs() < 0.005, "R800 = {r800}");
    assert_eq!(r.info().header.crs, Some(32612));
}

#[test]
fn classic_aviris_band_centres_stay_in_file_order() {
    let r = open(AVIRIS);
    let wl = &r.info().bands.wavelength_nm;
    let text_wl = header_list(&header_text(AVIRIS), "wavelength");
    assert_eq!(text_wl.len(), 224);
    for (got, want) in wl.iter().zip(&text_wl) {
        assert_eq!(*got, *want as f32);
    }
    let drops: Vec<usize> = (0..wl.len() - 1).filter(|&i| wl[i + 1] < wl[i]).collect();
    assert_eq!(drops, [31, 95, 159]);
    assert_eq!((wl[31], wl[32]), (667.561, 655.2923));
    let fwhm = r.info().bands.fwhm_nm.as_ref().unwrap();
    assert_eq!(fwhm[0], 9.852_108);
    assert!(r.info().bands.good.is_none());
}

#[test]
fn all_fill_chip_holds_only_the_fill_value() {
    let mut r = open(NG_FILL);
    // The real header carries no `data ignore value`: the reader invents none.
    assert!(!header_text(NG_FILL).contains("data ignore value"));
    assert_eq!(r.info().ignore_value, None);
    let cube = read_all(&mut r);
    assert!(cube.iter().all(|&v| v == -0.005_f32));

    // The same chip with the fill declared, as a producer would write it.
    let dir = tempfile::tempdir().unwrap();
    let hdr = dir.path().join("fill.hdr");
    std::fs::write(
        &hdr,
        header_text(NG_FILL) + "\ndata ignore value = -0.005\n",
    )
    .unwrap();
    std::fs::copy(r.binary_path(), dir.path().join("fill.img")).unwrap();
    let mut declared = EnviReader::open(&hdr).unwrap();
    let fill = declared.info().ignore_value.unwrap();
    assert_eq!(fill, -0.005);
    assert!(read_all(&mut declared).iter().all(|&v| v == fill as f32));
}

#[test]
fn bad_band_lists_match_the_header_text() {
    for stem in NG_CHIPS {
        let r = open(stem);
        let text_bbl = header_list(&header_text(stem), "bbl");
        let good = r.info().bands.good.as_ref().unwrap();
        assert_eq!(good.len(), 432);
        let bad_in_text = text_bbl.iter().filter(|&&v| v == 0.0).count();
        assert_eq!(good.iter().filter(|g| !**g).count(), bad_in_text, "{stem}");
        assert_eq!(bad_in_text, 59, "{stem}");
        for (g, t) in good.iter().zip(&text_bbl) {
            assert_eq!(*g, *t == 1.0);
        }
        // The first seven bands (346–376 nm) are flagged bad.
        assert_eq!(
            good[..8],
            [false, false, false, false, false, false, false, true]
        );
    }
}

#[test]
fn corn_kernel_without_byte_order_is_little_endian() {
    let text = header_text(CORN);
    assert!(!text.to_lowercase().contains("byte order"));
    let mut r = open(CORN);
    assert_eq!(r.header().byte_order, ByteOrder::Little);
    let wl = &r.info().bands.wavelength_nm;
    assert_eq!((wl[0], wl[579]), (366.551, 1048.421));
    assert!(wl.windows(2).all(|w| w[0] < w[1]));
    assert!(r.info().header.geotransform.is_none() && r.info().header.crs.is_none());
    // Read big-endian, DN 22 would be 5632; the sensor's 12-bit range says little-endian.
    let cube = read_all(&mut r);
    assert_eq!(cube[[0, 0, 0]], 22.0);
    assert!(cube.iter().all(|&v| v <= 4095.0));
}

#[test]
fn map_info_gives_gdal_geotransform_and_utm_epsg() {
    // (stem, easting, northing, pixel size, rotation degrees, EPSG)
    let cases = [
        (NG_2580, 277_811.628, 4_483_607.425, 3.1, 53.0, 32613),
        (NG_FILL, 277_811.628, 4_483_607.425, 3.1, 53.0, 32613),
        (NG_4200, 724_440.117, 4_077_192.168, 1.1, 75.0, 32612),
        (NG_4000, 736_600.089, 4_078_126.750, 2.7, -66.0, 32612),
        (AVIRIS, 663_139.010, 4_406_866.600, 16.4, -27.0, 32617),
    ];
    for (stem, e, n, size, rot, epsg) in cases {
        let r = open(stem);
        let h = &r.info().header;
        assert_eq!(h.crs, Some(epsg), "{stem}");
        let gt = h.geotransform.unwrap();
        // GDAL's ENVI driver, reference pixel (1, 1): rotation θ counter-clockwise.
        let t = f64::to_radians(rot);
        let want = [
            e,
            t.cos() * size,
            t.sin() * size,
            n,
            t.sin() * size,
            -t.cos() * size,
        ];
        for (g, w) in gt.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{stem}: {gt:?} vs {want:?}");
        }
        // The upper-left corner is the map info's reference point.
        let (x, y) = h.map_xy(-0.5, -0.5);
        assert!((x - e).abs() < 1e-9 && (y - n).abs() < 1e-9);
    }
    let mi = open(NG_2580).header().map_info.clone().unwrap();
    assert_eq!(
        (mi.zone, mi.datum.as_deref(), mi.reference_pixel),
        (Some(13), Some("WGS-84"), [1.0, 1.0])
    );
}

/// ENVI `data type` code → encoder of one value, independent of the reader.
fn encode(code: u32, big: bool, v: f64, out: &mut Vec<u8>) {
    macro_rules! put {
        ($x:expr) => {
            out.extend_from_slice(&if big {
                $x.to_be_bytes()
            } else {
                $x.to_le_bytes()
            })
        };
    }
    match code {
        1 => out.push(v as u8),
        2 => put!(v as i16),
        3 => put!(v as i32),
        4 => put!(v as f32),
        5 => put!(v),
        12 => put!(v as u16),
        _ => unreachable!(),
    }
}

/// A value per (type, line, sample, band) that exercises each type's range and is exact in f32.
fn synthetic_value(code: u32, l: usize, s: usize, b: usize) -> f64 {
    let v = (l * 40 + s * 10 + b) as f64; // 0..=183
    match code {
        1 => v,
        2 => (v - 100.0) * 150.0,
        3 => (v - 100.0) * 1000.0,
        4 | 5 => v - 100.25,
        12 => v * 300.0,
        _ => unreachable!(),
    }
}

#[test]
fn synthetic_round_trip_every_type_order_and_interleave() {
    let (lines, samples, bands, offset) = (5usize, 3usize, 4usize, 7usize);
    let dir = tempfile::tempdir().unwrap();
    for code in [1, 2, 3, 4, 5, 12] {
        let expected = Array3::from_shape_fn((lines, samples, bands), |(l, s, b)| {
            synthetic_value(code, l, s, b) as f32
        });
        for big in [false, true] {
            for il in ["bsq", "bil", "bip"] {
                let mut data = vec![0xAB; offset];
                let order: Vec<(usize, usize, usize)> = match il {
                    "bsq" => indices(bands, lines, samples)
                        .map(|(b, l, s)| (l, s, b))
                        .collect(),
                    "bil" => indices(lines, bands, samples)
                        .map(|(l, b, s)| (l, s, b))
                        .collect(),
                    _ => indices(lines, samples, bands).collect(),
                };
                for (l, s, b) in order {
                    encode(code, big, synthetic_value(code, l, s, b), &mut data);
                }
                let name = format!("t{code}_{}_{il}", u8::from(big));
                let img = dir.path().join(format!("{name}.img"));
                std::fs::write(&img, &data).unwrap();
                std::fs::write(
                    dir.path().join(format!("{name}.hdr")),
                    format!(
                        "ENVI\nsamples = {samples}\nlines = {lines}\nbands = {bands}\n\
                         header offset = {offset}\ndata type = {code}\ninterleave = {il}\n\
                         byte order = {}\nwavelength = {{500, 600, 700, 800}}\n",
                        u8::from(big)
                    ),
                )
                .unwrap();
                let mut r = EnviReader::open(&img).unwrap();
                assert_eq!(r.header().data_type.code(), code);
                let whole = read_all(&mut r);
                assert_eq!(whole, expected, "{name}");
                let parts: Vec<LineBlock> = r.blocks(2).collect::<Result<_, _>>().unwrap();
                let views: Vec<_> = parts.iter().map(|p| p.data.view()).collect();
                assert_eq!(
                    concatenate(Axis(0), &views).unwrap(),
                    expected,
                    "{name} in blocks"
                );
                let one = r.read_block(3, 1).unwrap();
                assert_eq!(
                    one.data,
                    expected.slice(ndarray::s![3..4, .., ..]),
                    "{name} line 3"
                );
            }
        }
    }
}

/// `(a, b, c)` for every index of an `[na, nb, nc]` array in row-major order.
fn indices(na: usize, nb: usize, nc: usize) -> impl Iterator<Item = (usize, usize, usize)> {
    (0..na).flat_map(move |a| (0..nb).flat_map(move |b| (0..nc).map(move |c| (a, b, c))))
}

#[test]
fn open_accepts_the_header_or_the_binary_by_path() {
    let hdr = fixture(&format!("{NG_PIXEL}.hdr"));
    let img = fixture(&format!("{NG_PIXEL}.img"));
    let a = EnviReader::open(&hdr).unwrap();
    let b = EnviReader::open(&img).unwrap();
    assert_eq!(a.binary_path(), img.as_path());
    assert_eq!(b.binary_path(), img.as_path());
    assert_eq!(a.info().path, b.info().path);
    // Through the format dispatch too.
    let boxed = hsi_edge::read::open(&img).unwrap();
    assert_eq!(boxed.info().shape.bands, 432);
    assert_eq!(Path::new(&boxed.info().header.cube_id), Path::new(NG_PIXEL));
}
