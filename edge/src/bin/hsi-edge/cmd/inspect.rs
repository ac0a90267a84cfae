//! `hsi-edge inspect`.

use std::process::ExitCode;

use hsi_edge::cube::Radiometry;
use hsi_edge::read;

use crate::cli::InspectArgs;

pub fn run(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let calibrator = hsi_edge::calib::select::make_calibrator(args.device)?;
    let active = hsi_edge::calib::select::describe(calibrator.as_ref());
    let reader = read::open(&args.cube)?;
    let info = reader.info();
    let h = &info.header;
    let wl = &info.bands.wavelength_nm;
    let (min, max) = wl
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &w| {
            (a.min(w), b.max(w))
        });
    let sorted = wl.windows(2).all(|w| w[0] <= w[1]);
    let bad = info
        .bands
        .good
        .as_ref()
        .map(|g| g.iter().filter(|ok| !**ok).count());
    let radiometry = match &info.radiometry {
        Some(Radiometry::FlatField(_)) => "dark + white panel (flat field)",
        Some(Radiometry::Gain(_)) => "dark + gain/offset (radiance)",
        None => "none",
    };
    if args.json {
        let v = serde_json::json!({
            "path": info.path,
            "format": info.format,
            "header": h,
            "shape": info.shape,
            "kind": info.kind,
            "raw_bytes": info.raw_bytes,
            "ignore_value": info.ignore_value,
            "bands": {
                "count": wl.len(), "min_nm": min, "max_nm": max, "sorted": sorted,
                "has_fwhm": info.bands.fwhm_nm.is_some(), "bad_bands": bad,
                "wavelength_nm": wl,
            },
            "radiometry": radiometry,
            "calibrator": active,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("file:             {}", info.path.display());
    println!("format:           {}", info.format);
    println!("cube_id:          {}", h.cube_id);
    println!(
        "sensor/farm/field: {} / {} / {}",
        h.sensor_id, h.farm_id, h.field_id
    );
    println!("region:           {}", h.region);
    println!("acquired:         {}", h.acquisition_time.to_rfc3339());
    println!(
        "crs:              {}",
        h.crs
            .map(|c| format!("EPSG:{c}"))
            .unwrap_or_else(|| "-".into())
    );
    if let Some(gt) = h.geotransform {
        println!("geotransform:     {gt:?}");
    }
    println!(
        "shape:            {} lines x {} samples x {} bands ({:.1} MB raw, {:?})",
        info.shape.lines,
        info.shape.samples,
        info.shape.bands,
        info.raw_bytes as f64 / 1e6,
        info.kind
    );
    println!(
        "bands:            {:.2}-{:.2} nm{}{}",
        min,
        max,
        if sorted {
            ""
        } else {
            ", NOT sorted (file order kept)"
        },
        bad.map(|b| format!(", {b} flagged bad (bbl)"))
            .unwrap_or_default()
    );
    if let Some(v) = info.ignore_value {
        println!("no-data value:    {v}");
    }
    println!("radiometry:       {radiometry}");
    println!("calibrator:       {active}");
    Ok(ExitCode::SUCCESS)
}
