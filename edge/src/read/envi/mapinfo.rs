//! The ENVI `map info` value: georeferencing of the pixel grid.
//!
//! ```text
//! map info = { UTM , 1.000 , 1.000 , 277811.628 , 4483607.425 , 3.1 , 3.1 , 13 , North , WGS-84 ,
//!              units=Meters , rotation=53.0 }
//! ```
//!
//! Positional fields: projection name; reference pixel x (sample) and y (line), 1-based, where
//! pixel (1, 1) is the upper-left **corner** of the upper-left pixel; map x (easting) and y
//! (northing) of that reference point; pixel size in x and y (positive numbers, y grows
//! downward in the image and decreases on the map). For `UTM` the zone and `North`/`South`
//! follow, then the datum; for `Geographic Lat/Lon` the datum follows. Named fields
//! (`units=`, `rotation=`) may appear anywhere after the positional ones.
//!
//! [`MapInfo::geotransform`] gives the GDAL-order affine transform the same way GDAL's ENVI
//! driver does: `rotation` is in degrees, counter-clockwise, and rotates the grid about the
//! reference point (AVIRIS-NG orthocorrected chips carry rotations of ±27° to 75°).

use std::path::Path;

use crate::error::{Error, Result};

/// UTM hemisphere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hemisphere {
    /// Northern hemisphere (EPSG 326xx for WGS-84).
    North,
    /// Southern hemisphere (EPSG 327xx for WGS-84).
    South,
}

/// A parsed `map info`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapInfo {
    /// Projection name as written (`UTM`, `Geographic Lat/Lon`, ...).
    pub projection: String,
    /// Reference pixel `[x (sample), y (line)]`, 1-based; `[1, 1]` is the upper-left corner of
    /// the upper-left pixel.
    pub reference_pixel: [f64; 2],
    /// Map x (easting) of the reference point.
    pub easting: f64,
    /// Map y (northing) of the reference point.
    pub northing: f64,
    /// Pixel size `[x, y]` in map units, both positive.
    pub pixel_size: [f64; 2],
    /// UTM zone (1–60), for `UTM`.
    pub zone: Option<u32>,
    /// UTM hemisphere, for `UTM`.
    pub hemisphere: Option<Hemisphere>,
    /// Datum as written (`WGS-84`, `North America 1983`, ...), when given.
    pub datum: Option<String>,
    /// Map units (`units=Meters`), when given.
    pub units: Option<String>,
    /// Grid rotation in degrees, counter-clockwise (`rotation=`); 0 when absent.
    pub rotation_deg: f64,
}

const KEY: &str = "map info";

impl MapInfo {
    /// Parse the text between the braces of a `map info` value. `path` names the header in errors.
    pub fn parse(path: &Path, value: &str) -> Result<MapInfo> {
        let mut positional = Vec::new();
        let mut units = None;
        let mut rotation_deg = 0.0;
        for item in value.split(',').map(str::trim) {
            match item.split_once('=') {
                Some((name, v)) => match name.trim().to_ascii_lowercase().as_str() {
                    "units" => units = Some(v.trim().to_owned()),
                    "rotation" => rotation_deg = number(path, "rotation", v)?,
                    _ => {}
                },
                None => positional.push(item),
            }
        }
        let [projection, rx, ry, east, north, sx, sy, rest @ ..] = positional.as_slice() else {
            return Err(Error::invalid(
                path,
                KEY,
                format!(
                    "needs at least 7 fields (projection, reference pixel x and y, easting, \
                     northing, pixel size x and y), found {}",
                    positional.len()
                ),
            ));
        };
        if projection.is_empty() {
            return Err(Error::invalid(path, KEY, "the projection name is empty"));
        }
        let pixel_size = [
            number(path, "pixel size x", sx)?,
            number(path, "pixel size y", sy)?,
        ];
        if pixel_size.iter().any(|&s| s <= 0.0) {
            return Err(Error::invalid(
                path,
                KEY,
                format!(
                    "pixel sizes must be positive, found {} and {}",
                    pixel_size[0], pixel_size[1]
                ),
            ));
        }
        let mut info = MapInfo {
            projection: (*projection).to_owned(),
            reference_pixel: [
                number(path, "reference pixel x", rx)?,
                number(path, "reference pixel y", ry)?,
            ],
            easting: number(path, "easting", east)?,
            northing: number(path, "northing", north)?,
            pixel_size,
            zone: None,
            hemisphere: None,
            datum: None,
            units,
            rotation_deg,
        };
        let non_empty = |s: Option<&&str>| s.filter(|s| !s.is_empty()).map(|s| (*s).to_owned());
        if info.is_utm() {
            if let Some(zone) = rest.first() {
                info.zone = Some(match zone.parse::<u32>() {
                    Ok(z @ 1..=60) => z,
                    _ => {
                        return Err(Error::invalid(
                            path,
                            KEY,
                            format!("UTM zone `{zone}` is not a number from 1 to 60"),
                        ));
                    }
                });
            }
            if let Some(h) = rest.get(1) {
                info.hemisphere = Some(match h.to_ascii_lowercase().as_str() {
                    "north" | "n" => Hemisphere::North,
                    "south" | "s" => Hemisphere::South,
                    _ => {
                        return Err(Error::invalid(
                            path,
                            KEY,
                            format!("UTM hemisphere `{h}` is neither North nor South"),
                        ));
                    }
                });
            }
            info.datum = non_empty(rest.get(2));
        } else if info
            .projection
            .to_ascii_lowercase()
            .starts_with("geographic")
        {
            info.datum = non_empty(rest.first());
        }
        Ok(info)
    }

    /// Whether the projection is UTM.
    pub fn is_utm(&self) -> bool {
        self.projection.eq_ignore_ascii_case("utm")
    }

    /// The GDAL-order geotransform: `x = gt[0] + col·gt[1] + row·gt[2]`,
    /// `y = gt[3] + col·gt[4] + row·gt[5]`, with `(col, row)` = `(0, 0)` at the upper-left corner
    /// of the upper-left pixel.
    ///
    /// Without rotation: `gt = [E − (rx−1)·sx, sx, 0, N + (ry−1)·sy, 0, −sy]`. With a rotation
    /// θ (counter-clockwise) the pixel axes turn by θ about the reference point:
    /// `gt[1] = cos θ·sx`, `gt[2] = sin θ·sy`, `gt[4] = sin θ·sx`, `gt[5] = −cos θ·sy`
    /// (GDAL's ENVI driver gives the same numbers for square pixels and reference pixel (1, 1)).
    pub fn geotransform(&self) -> [f64; 6] {
        let theta = self.rotation_deg.to_radians();
        // Snap the round-off of multiples of 90° so unrotated grids stay exact.
        let snap = |v: f64| if v.abs() < 1e-12 { 0.0 } else { v };
        let (sin, cos) = (snap(theta.sin()), snap(theta.cos()));
        let [sx, sy] = self.pixel_size;
        let (g1, g2, g4, g5) = (cos * sx, sin * sy, sin * sx, -cos * sy);
        let dx = self.reference_pixel[0] - 1.0;
        let dy = self.reference_pixel[1] - 1.0;
        [
            self.easting - dx * g1 - dy * g2,
            g1,
            g2,
            self.northing - dx * g4 - dy * g5,
            g4,
            g5,
        ]
    }

    /// The EPSG code of the map coordinates, when the header pins it down: UTM on WGS-84
    /// (326zz north, 327zz south), on NAD83 (269zz, zones 1–23 north) or on NAD27 (267zz,
    /// zones 1–22 north), in metres. `None` otherwise (no datum, other projections, feet...).
    pub fn epsg(&self) -> Option<u32> {
        if !self.is_utm() {
            return None;
        }
        if let Some(units) = &self.units
            && !matches!(
                units.to_ascii_lowercase().as_str(),
                "meters" | "metres" | "m"
            )
        {
            return None;
        }
        let zone = self.zone?;
        let north = self.hemisphere? == Hemisphere::North;
        let datum: String = self
            .datum
            .as_deref()?
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        match datum.as_str() {
            "WGS84" => Some(if north { 32600 } else { 32700 } + zone),
            "NAD83" | "NORTHAMERICA1983" if north && zone <= 23 => Some(26900 + zone),
            "NAD27" | "NORTHAMERICA1927" if north && zone <= 22 => Some(26700 + zone),
            _ => None,
        }
    }
}

fn number(path: &Path, field: &str, text: &str) -> Result<f64> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(Error::invalid(
            path,
            KEY,
            format!("{field} `{}` is not a finite number", text.trim()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<MapInfo> {
        MapInfo::parse(Path::new("a.hdr"), v)
    }

    #[test]
    fn unrotated_utm_grid() {
        let m =
            parse("UTM, 2, 3, 500000, 4000000, 2.0, 0.5, 33, South, WGS-84, units=Meters").unwrap();
        assert_eq!(m.zone, Some(33));
        assert_eq!(m.hemisphere, Some(Hemisphere::South));
        assert_eq!(m.epsg(), Some(32733));
        // Reference pixel (2, 3) sits one pixel right and two down from the corner.
        assert_eq!(
            m.geotransform(),
            [499_998.0, 2.0, 0.0, 4_000_001.0, 0.0, -0.5]
        );
    }

    #[test]
    fn rotation_turns_the_axes_about_the_reference_point() {
        let m = parse("UTM, 2, 1, 100, 200, 1, 1, 12, North, WGS-84, rotation=90").unwrap();
        // θ = 90°: one sample right moves +1 north, one line down moves +1 east.
        let gt = m.geotransform();
        assert_eq!(gt, [100.0, 0.0, 1.0, 199.0, 1.0, 0.0]);
        // The reference point (corner of pixel (2, 1) = col 1, row 0) maps back to (100, 200).
        assert_eq!(gt[0] + gt[1] + 0.0 * gt[2], 100.0);
        assert_eq!(gt[3] + gt[4] + 0.0 * gt[5], 200.0);
        assert_eq!(m.epsg(), Some(32612));
    }

    #[test]
    fn epsg_needs_a_known_datum_and_metres() {
        assert_eq!(
            parse("UTM, 1, 1, 0, 0, 1, 1, 17, North").unwrap().epsg(),
            None
        );
        let nad83 = parse("UTM, 1, 1, 0, 0, 1, 1, 17, North, North America 1983").unwrap();
        assert_eq!(nad83.epsg(), Some(26917));
        let feet = parse("UTM, 1, 1, 0, 0, 1, 1, 17, North, WGS-84, units=Feet").unwrap();
        assert_eq!(feet.epsg(), None);
        let geo = parse("Geographic Lat/Lon, 1, 1, -105.1, 40.2, 1e-4, 1e-4, WGS-84").unwrap();
        assert_eq!(geo.datum.as_deref(), Some("WGS-84"));
        assert_eq!(geo.epsg(), None);
    }

    #[test]
    fn malformed_map_info_is_refused() {
        for bad in [
            "UTM, 1, 1, 0, 0, 1",
            "UTM, 1, 1, east, 0, 1, 1",
            "UTM, 1, 1, 0, 0, 0, 1",
            "UTM, 1, 1, 0, 0, 1, 1, 61, North",
            "UTM, 1, 1, 0, 0, 1, 1, 13, Up",
            "UTM, 1, 1, 0, 0, 1, 1, rotation=x",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("a.hdr: invalid `map info`"),
                "{bad}: {err}"
            );
        }
    }
}
