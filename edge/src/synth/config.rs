//! [`SynthConfig`]: what to generate, with sizes picked from a byte target.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Bands of the bundled USGS library (AVIRIS-1995 channels); used to size cubes before the
/// library is loaded.
pub const LIBRARY_BANDS: usize = 224;
/// Smallest cube [`SynthConfig::with_target_bytes`] picks.
pub const MIN_TARGET_BYTES: u64 = 10_000_000;
/// Largest cube [`SynthConfig::with_target_bytes`] picks (4 GiB).
pub const MAX_TARGET_BYTES: u64 = 4 << 30;
/// Largest number of acquisition dates.
pub const MAX_CUBES: usize = 104;
/// Target size of one `/cube` chunk (a line block) when sizing from bytes.
const TARGET_CHUNK_BYTES: u64 = 8 << 20;

/// Configuration of a synthetic field trial (serde: unknown keys are refused; missing keys
/// take the [`Default`] values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed of every random choice (layout, genotypes, frames, noise).
    pub seed: u64,
    /// Lines (along track) per cube.
    pub lines: usize,
    /// Samples (across track) per line.
    pub samples: usize,
    /// Farm id.
    pub farm_id: String,
    /// Field id.
    pub field_id: String,
    /// Region (first element of the raw-cube object key).
    pub region: String,
    /// Breeding trial id.
    pub trial_id: String,
    /// Sensor id.
    pub sensor_id: String,
    /// Base cube id; cube `k` is named by [`SynthConfig::cube_id_for`].
    pub cube_id: String,
    /// Acquisition time of the first cube (UTC); later cubes follow a week apart.
    pub acquisition_time: DateTime<Utc>,
    /// EPSG code of the map coordinates (32614 = WGS 84 / UTM zone 14N).
    pub crs: u32,
    /// Ground size of a pixel in metres.
    pub pixel_size_m: f64,
    /// Map coordinates (x, y) of the cube's upper-left pixel corner.
    pub origin: (f64, f64),
    /// Rows of plots in the field (along the lines).
    pub plot_rows: usize,
    /// Columns of plots in the field (along the samples).
    pub plot_cols: usize,
    /// Lines per generated block, which is also the chunk height of `/cube`.
    pub lines_per_block: usize,
    /// Add shot and read noise to the DNs.
    pub noise: bool,
    /// Deflate level for `/cube` chunks, `None` for uncompressed.
    pub deflate: Option<u8>,
    /// Number of cubes (acquisition dates, one week apart).
    pub n_cubes: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 42,
            lines: 150,
            samples: 150,
            farm_id: "farm-ks-001".into(),
            field_id: "field-07".into(),
            region: "us-central".into(),
            trial_id: "YT-2024-W01".into(),
            sensor_id: "synth-av95".into(),
            cube_id: "synth".into(),
            acquisition_time: Utc
                .with_ymd_and_hms(2024, 6, 14, 17, 0, 0)
                .single()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            crs: 32614,
            pixel_size_m: 0.05,
            origin: (500_000.0, 4_400_000.0),
            plot_rows: 3,
            plot_cols: 6,
            lines_per_block: 32,
            noise: true,
            deflate: None,
            n_cubes: 1,
        }
    }
}

impl SynthConfig {
    /// A configuration whose cubes hold about `bytes` of u16 DNs: near-square
    /// `lines × samples` with `lines·samples·224·2 ≈ bytes`, the plot grid scaled so plots stay
    /// about 35 × 25 pixels, and blocks of about 8 MiB. `bytes` is clamped to
    /// [`MIN_TARGET_BYTES`]`..=`[`MAX_TARGET_BYTES`] (10 MB → 149 × 150, 4 GiB → 3096 × 3097).
    pub fn with_target_bytes(bytes: u64) -> Self {
        let bytes = bytes.clamp(MIN_TARGET_BYTES, MAX_TARGET_BYTES);
        let pixel_bytes = LIBRARY_BANDS as u64 * 2;
        let pixels = (bytes / pixel_bytes).max(1);
        let lines = ((pixels as f64).sqrt().round() as u64).max(1);
        let samples = ((pixels as f64 / lines as f64).round() as u64).max(1);
        let line_bytes = samples * pixel_bytes;
        SynthConfig {
            lines: lines as usize,
            samples: samples as usize,
            plot_rows: (lines / 36).clamp(2, 80) as usize,
            plot_cols: (samples / 26).clamp(2, 120) as usize,
            lines_per_block: (TARGET_CHUNK_BYTES / line_bytes).clamp(1, 256) as usize,
            ..SynthConfig::default()
        }
    }

    /// Parse a size such as `10MB`, `2GB`, `4GiB`, `512 KiB`, `1.5GB` or `1000000` (bytes).
    /// Decimal units (kB, MB, GB, TB) are powers of 1000, binary ones (KiB, MiB, GiB, TiB)
    /// powers of 1024; units are case-insensitive.
    pub fn parse_size(text: &str) -> Result<u64> {
        let bad = |reason: String| Error::Config {
            origin: format!("size `{text}`"),
            reason,
        };
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let value: f64 = number
            .parse()
            .map_err(|_| bad("expected a number followed by a unit such as MB or GiB".into()))?;
        let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "m" | "mb" => 1_000_000,
            "g" | "gb" => 1_000_000_000,
            "t" | "tb" => 1_000_000_000_000,
            "kib" => 1 << 10,
            "mib" => 1 << 20,
            "gib" => 1 << 30,
            "tib" => 1 << 40,
            other => {
                return Err(bad(format!(
                    "unknown unit `{other}` (use B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)"
                )));
            }
        };
        let bytes = value * scale as f64;
        if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
            return Err(bad("size must be at least one byte".into()));
        }
        Ok(bytes.round() as u64)
    }

    /// Id of cube `k`: `{cube_id}-{yyyymmdd}` of its acquisition date.
    pub fn cube_id_for(&self, k: usize) -> String {
        format!(
            "{}-{}",
            self.cube_id,
            self.acquisition_time_for(k).format("%Y%m%d")
        )
    }

    /// Acquisition time of cube `k`: the configured time plus `k` weeks.
    pub fn acquisition_time_for(&self, k: usize) -> DateTime<Utc> {
        self.acquisition_time + Duration::weeks(k as i64)
    }

    /// GDAL-order geotransform of every cube: north-up, square pixels, origin at the
    /// upper-left corner of pixel (0, 0).
    pub fn geotransform(&self) -> [f64; 6] {
        let (x0, y0) = self.origin;
        [x0, self.pixel_size_m, 0.0, y0, 0.0, -self.pixel_size_m]
    }

    /// Check the values that the layout and the writer rely on.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: String| Error::Config {
            origin: format!("synth `{key}`"),
            reason,
        };
        for (key, value) in [
            ("farm_id", &self.farm_id),
            ("field_id", &self.field_id),
            ("region", &self.region),
            ("trial_id", &self.trial_id),
            ("sensor_id", &self.sensor_id),
            ("cube_id", &self.cube_id),
        ] {
            if value.trim().is_empty() {
                return Err(bad(key, "must not be empty".into()));
            }
            if value.contains(['/', '\\', ',', '"', '\n']) {
                return Err(bad(
                    key,
                    format!("`{value}` must not contain / \\ , \" or newlines"),
                ));
            }
        }
        if self.lines == 0 || self.samples == 0 {
            return Err(bad(
                "lines",
                format!(
                    "{}x{} pixels: both must be positive",
                    self.lines, self.samples
                ),
            ));
        }
        if self.plot_rows == 0 || self.plot_cols == 0 || self.plot_rows * self.plot_cols < 4 {
            return Err(bad(
                "plot_rows",
                format!(
                    "{}x{} plots: a trial needs at least 4 plots (2 lines x 2 replicates)",
                    self.plot_rows, self.plot_cols
                ),
            ));
        }
        if self.lines_per_block == 0 {
            return Err(bad("lines_per_block", "must be positive".into()));
        }
        if !(self.pixel_size_m.is_finite() && self.pixel_size_m > 0.0) {
            return Err(bad(
                "pixel_size_m",
                format!("{} must be a positive number", self.pixel_size_m),
            ));
        }
        if !(self.origin.0.is_finite() && self.origin.1.is_finite()) {
            return Err(bad("origin", "must be finite".into()));
        }
        if self.crs == 0 {
            return Err(bad("crs", "must be an EPSG code".into()));
        }
        if let Some(level) = self.deflate
            && level > 9
        {
            return Err(bad("deflate", format!("level {level} is not in 0..=9")));
        }
        if self.n_cubes == 0 || self.n_cubes > MAX_CUBES {
            return Err(bad(
                "n_cubes",
                format!("{} is not in 1..={MAX_CUBES}", self.n_cubes),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(SynthConfig::parse_size("10MB").ok(), Some(10_000_000));
        assert_eq!(SynthConfig::parse_size("2GB").ok(), Some(2_000_000_000));
        assert_eq!(SynthConfig::parse_size("4GiB").ok(), Some(4_294_967_296));
        assert_eq!(SynthConfig::parse_size(" 512 KiB ").ok(), Some(524_288));
        assert_eq!(SynthConfig::parse_size("1.5gb").ok(), Some(1_500_000_000));
        assert_eq!(SynthConfig::parse_size("1000").ok(), Some(1000));
        assert!(SynthConfig::parse_size("ten MB").is_err());
        assert!(SynthConfig::parse_size("10 parsecs").is_err());
        assert!(SynthConfig::parse_size("0").is_err());
        assert!(SynthConfig::parse_size("").is_err());
    }

    #[test]
    fn target_bytes_pick_near_square_cubes() {
        let c = SynthConfig::with_target_bytes(10_000_000);
        // 10e6 / 448 = 22321 pixels; sqrt = 149.4 → 149 lines, 22321 / 149 = 149.8 → 150.
        assert_eq!((c.lines, c.samples), (149, 150));
        assert_eq!((c.plot_rows, c.plot_cols), (4, 5));
        assert_eq!(c.lines_per_block, 124); // 8 MiB / (150 · 448 B)
        let c = SynthConfig::with_target_bytes(4 << 30);
        assert_eq!((c.lines, c.samples), (3096, 3097));
        let bytes = (c.lines * c.samples * LIBRARY_BANDS * 2) as f64;
        assert!((bytes / (4u64 << 30) as f64 - 1.0).abs() < 0.001);
        assert_eq!(c.lines_per_block, 6);
        // Out-of-range targets are clamped.
        assert_eq!(SynthConfig::with_target_bytes(1).lines, 149);
        assert_eq!(SynthConfig::with_target_bytes(u64::MAX).lines, 3096);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn cubes_are_a_week_apart_and_named_by_date() {
        let c = SynthConfig {
            n_cubes: 3,
            ..SynthConfig::default()
        };
        assert_eq!(c.cube_id_for(0), "synth-20240614");
        assert_eq!(c.cube_id_for(2), "synth-20240628");
        assert_eq!(
            c.acquisition_time_for(1).to_rfc3339(),
            "2024-06-21T17:00:00+00:00"
        );
    }

    #[test]
    fn configs_parse_from_toml_and_refuse_unknown_keys() {
        let c: SynthConfig = toml::from_str("seed = 7\nlines = 60\nacquisition_time = \"2024-07-01T16:00:00Z\"\norigin = [1.0, 2.0]")
            .unwrap();
        assert_eq!(
            (c.seed, c.lines, c.samples, c.origin),
            (7, 60, 150, (1.0, 2.0))
        );
        assert!(toml::from_str::<SynthConfig>("colour = \"red\"").is_err());
        let bad = SynthConfig {
            plot_rows: 1,
            plot_cols: 3,
            ..SynthConfig::default()
        };
        assert!(matches!(bad.validate(), Err(Error::Config { .. })));
    }
}
