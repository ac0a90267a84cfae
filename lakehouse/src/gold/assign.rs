//! Pixel → plot assignment: point-in-polygon behind a uniform-grid spatial index.
//!
//! ## Point-in-polygon rule
//!
//! Even-odd ray casting over *all* rings of a plot (outer rings and holes alike): a ray from the
//! point towards +x crosses the rings an odd number of times exactly when the point is inside.
//! Holes therefore need no special case, and neither do multi-polygon parts.
//!
//! An edge counts as crossed when `y_low <= y < y_high` and the point lies strictly left of the
//! edge at height `y`. This half-open rule decides points exactly on a boundary:
//!
//! - for an axis-aligned rectangle, points on its left and bottom edges are **inside**, points on
//!   its right and top edges are **outside** (and so a pixel on the edge shared by two adjacent
//!   plots belongs to exactly one of them — the one to its right or above);
//! - in general, a point on an edge shared by two plots belongs to exactly one of them. The
//!   intersection is computed from the edge's endpoints ordered by `y`, so both plots compute the
//!   same `f64` and cannot both claim (or both drop) the point.
//!
//! ## Scoping and the index
//!
//! A pixel is only matched against plots of its own `farm_id` (farms may reuse local map
//! coordinates; one farm's fields do not overlap). Per farm, the plots' bounding boxes are
//! registered in a uniform grid of about one cell per plot over the farm's extent; a lookup tests
//! only the plots registered in the pixel's cell. Plots should not overlap; if they do, the plot
//! that comes first in the input wins.

use std::collections::HashMap;

use arrow_array::RecordBatch;

use super::columns::{f64_column, required, required_str, str_column};
use crate::error::Result;
use crate::refdata::Plot;

/// Whether `(x, y)` is inside `rings` under the even-odd rule described in the module docs.
///
/// Rings may be closed (first == last) or not; the closing edge is implied either way.
pub fn point_in_rings(rings: &[Vec<(f64, f64)>], x: f64, y: f64) -> bool {
    let mut inside = false;
    for ring in rings {
        let Some(&last) = ring.last() else { continue };
        let mut prev = last;
        for &cur in ring {
            let (lo, hi) = if prev.1 <= cur.1 {
                (prev, cur)
            } else {
                (cur, prev)
            };
            if lo.1 <= y && y < hi.1 {
                let x_cross = lo.0 + (y - lo.1) * (hi.0 - lo.0) / (hi.1 - lo.1);
                if x < x_cross {
                    inside = !inside;
                }
            }
            prev = cur;
        }
    }
    inside
}

/// Bounding box `(min_x, min_y, max_x, max_y)`.
type BBox = (f64, f64, f64, f64);

/// The uniform grid of one farm.
#[derive(Debug)]
struct FarmGrid {
    extent: BBox,
    nx: usize,
    ny: usize,
    cell_w: f64,
    cell_h: f64,
    /// Row-major cells, each listing plot indices in ascending order.
    cells: Vec<Vec<usize>>,
}

impl FarmGrid {
    fn build(members: &[usize], bboxes: &[BBox]) -> Self {
        let extent = members.iter().fold(
            (
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ),
            |(x0, y0, x1, y1), &i| {
                let b = bboxes[i];
                (x0.min(b.0), y0.min(b.1), x1.max(b.2), y1.max(b.3))
            },
        );
        // About one cell per plot, at most 1024 × 1024.
        let side = ((members.len() as f64).sqrt().ceil() as usize).clamp(1, 1024);
        let (nx, ny) = (side, side);
        let span = |lo: f64, hi: f64, n: usize| {
            let w = (hi - lo) / n as f64;
            if w.is_finite() && w > 0.0 { w } else { 1.0 }
        };
        let cell_w = span(extent.0, extent.2, nx);
        let cell_h = span(extent.1, extent.3, ny);
        let mut grid = FarmGrid {
            extent,
            nx,
            ny,
            cell_w,
            cell_h,
            cells: vec![Vec::new(); nx * ny],
        };
        for &i in members {
            let b = bboxes[i];
            let (cx0, cy0) = grid.cell_of(b.0, b.1);
            let (cx1, cy1) = grid.cell_of(b.2, b.3);
            for cy in cy0..=cy1 {
                for cx in cx0..=cx1 {
                    grid.cells[cy * nx + cx].push(i);
                }
            }
        }
        grid
    }

    /// The cell holding a point already known to be within the extent (clamped to the grid).
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let cx = ((x - self.extent.0) / self.cell_w).floor().max(0.0) as usize;
        let cy = ((y - self.extent.1) / self.cell_h).floor().max(0.0) as usize;
        (cx.min(self.nx - 1), cy.min(self.ny - 1))
    }

    fn candidates(&self, x: f64, y: f64) -> &[usize] {
        let (x0, y0, x1, y1) = self.extent;
        if !(x >= x0 && x <= x1 && y >= y0 && y <= y1) {
            // Also rejects NaN coordinates.
            return &[];
        }
        let (cx, cy) = self.cell_of(x, y);
        &self.cells[cy * self.nx + cx]
    }
}

/// A spatial index over plots, answering "which plot holds this pixel?".
#[derive(Debug)]
pub struct PlotIndex<'a> {
    plots: &'a [Plot],
    bboxes: Vec<BBox>,
    farms: HashMap<&'a str, FarmGrid>,
}

impl<'a> PlotIndex<'a> {
    /// Index `plots`; lookups return indices into this slice.
    pub fn new(plots: &'a [Plot]) -> Self {
        let bboxes: Vec<BBox> = plots.iter().map(Plot::bbox).collect();
        let mut by_farm: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (i, p) in plots.iter().enumerate() {
            by_farm.entry(p.farm_id.as_str()).or_default().push(i);
        }
        let farms = by_farm
            .into_iter()
            .map(|(farm, members)| (farm, FarmGrid::build(&members, &bboxes)))
            .collect();
        PlotIndex {
            plots,
            bboxes,
            farms,
        }
    }

    /// The plots this index was built over.
    pub fn plots(&self) -> &'a [Plot] {
        self.plots
    }

    /// The index of the plot of `farm_id` containing `(x, y)`, if any.
    pub fn locate(&self, farm_id: &str, x: f64, y: f64) -> Option<usize> {
        let grid = self.farms.get(farm_id)?;
        grid.candidates(x, y).iter().copied().find(|&i| {
            let (x0, y0, x1, y1) = self.bboxes[i];
            x >= x0 && x <= x1 && y >= y0 && y <= y1 && point_in_rings(&self.plots[i].polygon, x, y)
        })
    }

    /// Locate every pixel of a Silver batch (columns `farm_id`, `x`, `y`).
    pub fn assign_batch(&self, batch: &RecordBatch) -> Result<Vec<Option<usize>>> {
        const SILVER: &str = "silver.reflectance";
        let farm = str_column(batch, SILVER, "farm_id")?;
        let xs = f64_column(batch, SILVER, "x")?;
        let ys = f64_column(batch, SILVER, "y")?;
        (0..batch.num_rows())
            .map(|i| {
                Ok(self.locate(
                    required_str(&farm, SILVER, "farm_id", i)?,
                    required(xs, SILVER, "x", i)?,
                    required(ys, SILVER, "y", i)?,
                ))
            })
            .collect()
    }
}
