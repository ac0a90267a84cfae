//! The synthetic field trial: files, attributes, radiometry and expected values checked against
//! the real USGS spectra and hand-computed numbers.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use hsi_edge::cube::{CubeReader, DataKind, Radiometry};
use hsi_edge::read::hdf5::Hdf5Reader;
use hsi_edge::synth::{
    self, Layout, PixelClass, SpectralLibrary, SynthConfig, SynthOutput, TrialDesign,
};
use hsi_edge::testdata::usgs_spectra;
use ndarray::Array1;

/// Band 30 of the library is 677.17 nm (nearest to 680), band 46 is 798.46 nm (nearest to
/// 800): read off the CSV header by hand.
const B680: usize = 30;
const B800: usize = 46;

fn small(noise: bool) -> SynthConfig {
    SynthConfig {
        seed: 7,
        lines: 60,
        samples: 80,
        plot_rows: 2,
        plot_cols: 3,
        n_cubes: 2,
        lines_per_block: 16,
        noise,
        ..SynthConfig::default()
    }
}

fn run(cfg: &SynthConfig, dir: &Path) -> SynthOutput {
    synth::generate(cfg, &usgs_spectra().unwrap(), dir).unwrap()
}

fn library() -> SpectralLibrary {
    SpectralLibrary::load(&usgs_spectra().unwrap()).unwrap()
}

fn ndvi(r: &[f64]) -> f64 {
    (r[B800] - r[B680]) / (r[B800] + r[B680])
}

#[test]
fn small_trial_writes_every_file_and_plot_properties() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(true);
    let out = run(&cfg, dir.path());
    let names: Vec<String> = out
        .cubes
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        ["cubes/synth-20240614.h5", "cubes/synth-20240621.h5"]
    );
    for p in out
        .cubes
        .iter()
        .chain([&out.plots_geojson, &out.yields_csv, &out.expected_csv])
    {
        assert!(p.is_file(), "{}", p.display());
    }

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out.plots_geojson).unwrap()).unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    assert_eq!(
        doc["crs"]["properties"]["name"],
        "urn:ogc:def:crs:EPSG::32614"
    );
    let features = doc["features"].as_array().unwrap();
    assert_eq!(features.len(), 6);
    let mut reps: BTreeMap<String, usize> = BTreeMap::new();
    let mut checks = 0;
    for f in features {
        let p = &f["properties"];
        assert_eq!(p["farm_id"], cfg.farm_id.as_str());
        assert_eq!(p["field_id"], cfg.field_id.as_str());
        assert_eq!(p["trial_id"], cfg.trial_id.as_str());
        assert_eq!(p["crop"], "wheat");
        let plot_id = p["plot_id"].as_str().unwrap();
        let row = p["row"].as_u64().unwrap();
        assert!(
            plot_id.starts_with(&format!("R{row:02}C")),
            "{plot_id} row {row}"
        );
        *reps
            .entry(p["line_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
        checks += usize::from(p["is_check"].as_bool().unwrap());

        // Closed ring on pixel edges: 25 × 22 pixels of 5 cm = 1.25 m × 1.1 m.
        assert_eq!(f["geometry"]["type"], "Polygon");
        let ring: Vec<(f64, f64)> = f["geometry"]["coordinates"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[0], ring[4]);
        let twice_area: f64 = ring
            .windows(2)
            .map(|w| w[0].0 * w[1].1 - w[1].0 * w[0].1)
            .sum();
        assert!(
            (twice_area / 2.0 - 1.25 * 1.1).abs() < 1e-3,
            "counter-clockwise area {}",
            twice_area / 2.0
        );
    }
    assert!(reps.values().all(|n| *n >= 2), "{reps:?}");
    assert_eq!(reps.len(), 3);
    assert!(checks >= 2, "a check line in at least two plots");

    // Plot R01C01 starts at line 3, sample 4 (see the layout docs): its north-west corner.
    let r01c01 = features.iter().find(|f| f["id"] == "R01C01").unwrap();
    let nw = &r01c01["geometry"]["coordinates"][0][3];
    assert!((nw[0].as_f64().unwrap() - (500_000.0 + 4.0 * 0.05)).abs() < 1e-6);
    assert!((nw[1].as_f64().unwrap() - (4_400_000.0 - 3.0 * 0.05)).abs() < 1e-6);
}

#[test]
fn cubes_open_with_the_right_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(true);
    let out = run(&cfg, dir.path());
    let lib = library();
    let r = Hdf5Reader::open(&out.cubes[1]).unwrap();
    let info = r.info();
    let h = &info.header;
    assert_eq!(h.cube_id, "synth-20240621");
    assert_eq!(
        (
            h.farm_id.as_str(),
            h.field_id.as_str(),
            h.region.as_str(),
            h.sensor_id.as_str()
        ),
        ("farm-ks-001", "field-07", "us-central", "synth-av95")
    );
    assert_eq!(
        h.acquisition_time,
        Utc.with_ymd_and_hms(2024, 6, 14, 17, 0, 0).unwrap() + Duration::days(7)
    );
    assert_eq!(h.crs, Some(32614));
    assert_eq!(
        h.geotransform,
        Some([500_000.0, 0.05, 0.0, 4_400_000.0, 0.0, -0.05])
    );
    assert_eq!(
        (info.shape.lines, info.shape.samples, info.shape.bands),
        (60, 80, 224)
    );
    assert_eq!(info.kind, DataKind::RawDn);
    assert_eq!(r.chunk_lines(), Some(16));
    // The library's band order, including AVIRIS's overlap: 687.00 nm then 664.30 nm.
    assert_eq!(info.bands.wavelength_nm, lib.wavelength_nm);
    assert_eq!(info.bands.wavelength_nm[31..33], [687.0, 664.3]);
    let fwhm = info.bands.fwhm_nm.as_ref().unwrap();
    assert!(fwhm.iter().all(|f| (9.0..=11.0).contains(f)), "{fwhm:?}");
    let Some(Radiometry::FlatField(ff)) = &info.radiometry else {
        panic!("expected flat-field frames")
    };
    assert!(ff.dark.iter().all(|d| (90.0..=270.0).contains(d)));
    assert!(
        ff.panel_reflectance
            .iter()
            .all(|p| (0.979..=0.99).contains(p))
    );
    // Column pattern and vignetting: detector columns differ.
    assert_ne!(ff.dark.row(0), ff.dark.row(9));
    assert!(ff.white[[40, 46]] > ff.white[[0, 46]]);
}

/// `(DN − dark)/(white − dark)·panel` for one pixel, computed here from the file's frames.
fn flat_field(dn: &[f32], ff: &hsi_edge::cube::FlatFieldFrames, sample: usize) -> Vec<f64> {
    (0..dn.len())
        .map(|b| {
            let (d, w) = (
                f64::from(ff.dark[[sample, b]]),
                f64::from(ff.white[[sample, b]]),
            );
            (f64::from(dn[b]) - d) / (w - d) * f64::from(ff.panel_reflectance[b])
        })
        .collect()
}

#[test]
fn noise_free_flat_field_reproduces_the_library_mixtures() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(false);
    let out = run(&cfg, dir.path());
    let lib = library();
    let green = lib.get("Lawn_Grass").unwrap();
    let dry = lib.get("Dry_Long_Grass").unwrap();
    let soil = lib.get("Stonewall_Playa").unwrap();
    let layout = Layout::new(&cfg).unwrap();
    for (k, path) in out.cubes.iter().enumerate() {
        let mut r = Hdf5Reader::open(path).unwrap();
        let Some(Radiometry::FlatField(ff)) = r.info().radiometry.clone() else {
            panic!("no flat field")
        };
        let cube_id = r.info().header.cube_id.clone();
        for plot in layout.plots() {
            let e = out
                .expected
                .iter()
                .find(|e| e.cube_id == cube_id && e.plot_id == plot.plot_id)
                .unwrap();
            // The crop pixel nearest the plot centre.
            let (cl, cs) = (
                (plot.lines.start + plot.lines.end) / 2,
                (plot.samples.start + plot.samples.end) / 2,
            );
            let (line, sample) = (0..8)
                .flat_map(|d| [(cl, cs + d), (cl, cs - d)])
                .find(|&(l, s)| layout.class_at(l, s) == PixelClass::Crop(plot.index))
                .unwrap();
            let block = r.read_block(line, 1).unwrap();
            let dn: Vec<f32> = block.data.slice(ndarray::s![0, sample, ..]).to_vec();
            let refl = flat_field(&dn, &ff, sample);
            let v = e.vigor;
            for b in 0..224 {
                let want = v * f64::from(green[b]) + (1.0 - v) * f64::from(dry[b]);
                assert!(
                    (refl[b] - want).abs() <= 1e-3,
                    "cube {k} {} band {b}: {} vs {want}",
                    plot.plot_id,
                    refl[b]
                );
            }
            // The inter-row pixel right after the crop columns is soil.
            let soil_sample = plot.samples.start + layout.crop_px;
            assert_eq!(
                layout.class_at(line, soil_sample),
                PixelClass::InterRow(plot.index)
            );
            let dn: Vec<f32> = block.data.slice(ndarray::s![0, soil_sample, ..]).to_vec();
            let refl = flat_field(&dn, &ff, soil_sample);
            for b in 0..224 {
                assert!(
                    (refl[b] - f64::from(soil[b])).abs() <= 1e-3,
                    "soil band {b}"
                );
            }
        }
        // An alley pixel (the cube's corner) is soil too.
        let block = r.read_block(0, 1).unwrap();
        let dn: Vec<f32> = block.data.slice(ndarray::s![0, 0, ..]).to_vec();
        let refl = flat_field(&dn, &ff, 0);
        assert!((0..224).all(|b| (refl[b] - f64::from(soil[b])).abs() <= 1e-3));
    }
}

#[test]
fn expected_ndvi_matches_provenance_and_is_ordered_by_vigor() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(true);
    let out = run(&cfg, dir.path());
    let lib = library();
    let as_f64 = |name: &str| -> Vec<f64> {
        lib.get(name)
            .unwrap()
            .iter()
            .map(|v| f64::from(*v))
            .collect()
    };
    let (green, dry, soil) = (
        as_f64("Lawn_Grass"),
        as_f64("Dry_Long_Grass"),
        as_f64("Stonewall_Playa"),
    );

    // PROVENANCE.md: NDVI(680/800) lawn grass 0.892, dry long grass 0.059.
    assert!((ndvi(&green) - 0.892).abs() < 0.01, "{}", ndvi(&green));
    assert!((ndvi(&dry) - 0.059).abs() < 0.01, "{}", ndvi(&dry));
    let lib_ndvi = synth::normalized_difference(&lib.wavelength_nm, &green, 800.0, 680.0).unwrap();
    assert_eq!(lib_ndvi, ndvi(&green));

    assert_eq!(out.expected.len(), 2 * 6);
    for cube in [cfg.cube_id_for(0), cfg.cube_id_for(1)] {
        let mut plots: Vec<_> = out.expected.iter().filter(|e| e.cube_id == cube).collect();
        assert_eq!(plots.len(), 6);
        for e in &plots {
            // 25 × 22 pixels, 14 of every 22 columns crop (see the layout docs).
            assert_eq!((e.pixels, e.crop_pixels), (550, 350));
            let crop: Vec<f64> = green
                .iter()
                .zip(&dry)
                .map(|(g, d)| e.vigor * g + (1.0 - e.vigor) * d)
                .collect();
            let by_hand = (350.0 * ndvi(&crop) + 200.0 * ndvi(&soil)) / 550.0;
            assert!(
                (e.ndvi_mean - by_hand).abs() < 1e-12,
                "{} {} vs {by_hand}",
                e.plot_id,
                e.ndvi_mean
            );
            assert!(e.ndwi_mean.is_some() && e.ndre_mean.is_some());
        }
        plots.sort_by(|a, b| a.vigor.total_cmp(&b.vigor));
        for w in plots.windows(2) {
            assert!(w[0].ndvi_mean < w[1].ndvi_mean, "{w:?}");
        }
    }
    // Plots of the same line share the genotype, checks are the first line.
    let design = TrialDesign::new(cfg.seed, 6);
    for e in &out.expected {
        let line = design
            .lines
            .iter()
            .find(|l| l.line_id == e.line_id)
            .unwrap();
        assert_eq!(e.is_check, line.is_check);
        assert!((e.vigor - line.vigor).abs() <= 0.03 + 0.04 + 1e-12);
    }

    // The CSV holds the same rows.
    let text = std::fs::read_to_string(&out.expected_csv).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("cube_id,plot_id,line_id,pixels,ndvi_mean,ndwi_mean,")
    );
    for (row, e) in lines.zip(&out.expected) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(
            (f[0], f[1], f[2], f[3]),
            (
                e.cube_id.as_str(),
                e.plot_id.as_str(),
                e.line_id.as_str(),
                "550"
            )
        );
        assert!((f[4].parse::<f64>().unwrap() - e.ndvi_mean).abs() < 1e-6);
    }
}

#[test]
fn noisy_cubes_calibrate_to_the_expected_plot_ndvi() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        n_cubes: 1,
        ..small(true)
    };
    let out = run(&cfg, dir.path());
    let layout = Layout::new(&cfg).unwrap();
    let mut r = Hdf5Reader::open(&out.cubes[0]).unwrap();
    let Some(Radiometry::FlatField(ff)) = r.info().radiometry.clone() else {
        panic!("no flat field")
    };
    let block = r.read_block(0, 60).unwrap();
    let mut sums: BTreeMap<usize, (f64, usize)> = BTreeMap::new();
    for ((line, sample), _) in ndarray::Array2::<u8>::zeros((60, 80)).indexed_iter() {
        let plot = match layout.class_at(line, sample) {
            PixelClass::Crop(p) | PixelClass::InterRow(p) => p,
            PixelClass::Alley => continue,
        };
        let dn: Array1<f32> = block.data.slice(ndarray::s![line, sample, ..]).to_owned();
        let refl = flat_field(dn.as_slice().unwrap(), &ff, sample);
        let entry = sums.entry(plot).or_default();
        entry.0 += ndvi(&refl);
        entry.1 += 1;
    }
    for (plot, (sum, n)) in sums {
        let e = &out.expected[plot];
        assert_eq!(n, e.pixels);
        assert!(
            (sum / n as f64 - e.ndvi_mean).abs() < 0.01,
            "{}: {} vs {}",
            e.plot_id,
            sum / n as f64,
            e.ndvi_mean
        );
    }
}

#[test]
fn yields_parse_and_grow_with_vigor() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        lines: 100,
        samples: 150,
        plot_rows: 4,
        plot_cols: 6,
        n_cubes: 1,
        ..small(true)
    };
    let out = run(&cfg, dir.path());
    let text = std::fs::read_to_string(&out.yields_csv).unwrap();
    let mut rows = text.lines();
    assert_eq!(
        rows.next(),
        Some("farm_id,field_id,line_id,season,yield_t_ha")
    );
    let mut per_line: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut seasons = std::collections::BTreeSet::new();
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f.len(), 5, "{row}");
        assert_eq!((f[0], f[1]), ("farm-ks-001", "field-07"));
        seasons.insert(f[3].parse::<i32>().unwrap());
        let y: f64 = f[4].parse().unwrap();
        assert!((0.1..15.0).contains(&y), "{row}");
        per_line.entry(f[2].to_owned()).or_default().push(y);
    }
    assert_eq!(seasons.into_iter().collect::<Vec<_>>(), [2021, 2022, 2023]);
    let design = TrialDesign::new(cfg.seed, 24);
    assert_eq!(per_line.len(), 12);
    // Pearson correlation between a line's vigor and its mean yield.
    let pairs: Vec<(f64, f64)> = design
        .lines
        .iter()
        .map(|l| {
            let ys = &per_line[&l.line_id];
            assert_eq!(ys.len(), 3);
            (l.vigor, ys.iter().sum::<f64>() / 3.0)
        })
        .collect();
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let vx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    let corr = cov / (vx * vy).sqrt();
    assert!(corr > 0.8, "vigor/yield correlation {corr}");
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let cfg = small(true);
    let (x, y) = (run(&cfg, a.path()), run(&cfg, b.path()));
    for (p, q) in [
        (&x.expected_csv, &y.expected_csv),
        (&x.yields_csv, &y.yields_csv),
        (&x.plots_geojson, &y.plots_geojson),
    ] {
        assert_eq!(
            std::fs::read(p).unwrap(),
            std::fs::read(q).unwrap(),
            "{}",
            p.display()
        );
    }
    let pixels = |p: &Path| Hdf5Reader::open(p).unwrap().read_block(0, 60).unwrap().data;
    assert_eq!(pixels(&x.cubes[1]), pixels(&y.cubes[1]));
    // Block size does not change the noise.
    let z = run(
        &SynthConfig {
            lines_per_block: 7,
            ..cfg.clone()
        },
        c.path(),
    );
    assert_eq!(pixels(&x.cubes[0]), pixels(&z.cubes[0]));
    let other = run(&SynthConfig { seed: 8, ..cfg }, c.path());
    assert_ne!(
        std::fs::read(&x.expected_csv).unwrap(),
        std::fs::read(&other.expected_csv).unwrap()
    );
}
