//! Point-in-polygon and pixel → plot assignment: holes, edges, multi-polygons, the index.

mod gold_common;

use gold_common::{Px, polygon_plot, rect_plot, silver_batch};
use hsi_lakehouse::gold::{PlotIndex, point_in_rings};

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
}

#[test]
fn holes_are_respected() {
    let rings = vec![square(0.0, 0.0, 10.0, 10.0), square(4.0, 4.0, 6.0, 6.0)];
    assert!(point_in_rings(&rings, 2.0, 2.0));
    assert!(point_in_rings(&rings, 8.0, 5.0));
    assert!(!point_in_rings(&rings, 5.0, 5.0), "inside the hole");
    assert!(!point_in_rings(&rings, 11.0, 5.0), "outside the outer ring");
    // The hole's own boundary follows the same half-open rule: its left edge belongs to the
    // hole (so not to the plot), its right edge to the plot.
    assert!(!point_in_rings(&rings, 4.0, 5.0));
    assert!(point_in_rings(&rings, 6.0, 5.0));
}

#[test]
fn edge_rule_is_half_open_left_bottom_inside() {
    let rings = vec![square(0.0, 0.0, 10.0, 10.0)];
    assert!(point_in_rings(&rings, 0.0, 5.0), "left edge: inside");
    assert!(point_in_rings(&rings, 5.0, 0.0), "bottom edge: inside");
    assert!(!point_in_rings(&rings, 10.0, 5.0), "right edge: outside");
    assert!(!point_in_rings(&rings, 5.0, 10.0), "top edge: outside");
    assert!(
        point_in_rings(&rings, 0.0, 0.0),
        "bottom-left corner: inside"
    );
    assert!(
        !point_in_rings(&rings, 10.0, 10.0),
        "top-right corner: outside"
    );
    // Unclosed rings get their closing edge implied.
    let open = vec![vec![(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]];
    assert!(point_in_rings(&open, 5.0, 5.0));
}

#[test]
fn a_point_on_a_shared_edge_belongs_to_exactly_one_plot() {
    let plots = vec![
        rect_plot("F1", "west", 1, "L1", false, (0.0, 0.0), (10.0, 10.0)),
        rect_plot("F1", "east", 1, "L2", false, (10.0, 0.0), (20.0, 10.0)),
        rect_plot("F1", "north", 2, "L3", false, (0.0, 10.0), (10.0, 20.0)),
    ];
    let index = PlotIndex::new(&plots);
    assert_eq!(
        index.locate("F1", 10.0, 5.0),
        Some(1),
        "shared vertical edge → east"
    );
    assert_eq!(
        index.locate("F1", 5.0, 10.0),
        Some(2),
        "shared horizontal edge → north"
    );
    assert_eq!(index.locate("F1", 9.999, 9.999), Some(0));

    // A slanted shared edge: two triangles split along (0,0)–(1,3). Points (t, 3t) with
    // t = k/8 are exactly on it in binary floating point.
    let below = polygon_plot(
        "F2",
        "below",
        1,
        "L1",
        false,
        vec![vec![vec![(0.0, 0.0), (1.0, 0.0), (1.0, 3.0), (0.0, 0.0)]]],
    );
    let above = polygon_plot(
        "F2",
        "above",
        1,
        "L2",
        false,
        vec![vec![vec![(0.0, 0.0), (1.0, 3.0), (0.0, 3.0), (0.0, 0.0)]]],
    );
    for k in 1..8 {
        let t = f64::from(k) / 8.0;
        let hits = [&below, &above]
            .iter()
            .filter(|p| point_in_rings(&p.polygon, t, 3.0 * t))
            .count();
        assert_eq!(hits, 1, "point ({t}, {}) on the shared edge", 3.0 * t);
    }
}

#[test]
fn multipolygon_parts_and_farm_scoping() {
    let two_parts = polygon_plot(
        "F1",
        "split",
        3,
        "L1",
        false,
        vec![
            vec![square(0.0, 0.0, 1.0, 1.0)],
            vec![square(5.0, 5.0, 6.0, 6.0)],
        ],
    );
    let plots = vec![two_parts];
    let index = PlotIndex::new(&plots);
    assert_eq!(index.locate("F1", 0.5, 0.5), Some(0));
    assert_eq!(index.locate("F1", 5.5, 5.5), Some(0));
    assert_eq!(index.locate("F1", 3.0, 3.0), None, "between the parts");
    assert_eq!(
        index.locate("F2", 0.5, 0.5),
        None,
        "same coordinates, other farm"
    );
    assert_eq!(index.locate("F1", f64::NAN, 0.5), None);
}

#[test]
fn grid_index_agrees_with_brute_force() {
    // 12 × 9 plots of 3 m × 2 m with 0.5 m alleys, one of them with a hole.
    let mut plots = Vec::new();
    for r in 0..9 {
        for c in 0..12 {
            let (x0, y0) = (500_000.0 + 3.5 * c as f64, 4_100_000.0 + 2.5 * r as f64);
            let mut rings = vec![square(x0, y0, x0 + 3.0, y0 + 2.0)];
            if (r, c) == (4, 5) {
                rings.push(square(x0 + 1.0, y0 + 0.5, x0 + 2.0, y0 + 1.5));
            }
            plots.push(polygon_plot(
                "F1",
                &format!("P{r}-{c}"),
                r,
                "L",
                false,
                vec![rings],
            ));
        }
    }
    let index = PlotIndex::new(&plots);
    // A deterministic LCG scatter over (and beyond) the extent.
    let mut state: u64 = 42;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut inside, mut outside) = (0, 0);
    for _ in 0..5000 {
        let x = 499_998.0 + 46.0 * next();
        let y = 4_099_998.0 + 26.0 * next();
        let brute = plots.iter().position(|p| point_in_rings(&p.polygon, x, y));
        assert_eq!(index.locate("F1", x, y), brute, "({x}, {y})");
        if brute.is_some() {
            inside += 1
        } else {
            outside += 1
        }
    }
    assert!(
        inside > 1000 && outside > 1000,
        "{inside} in, {outside} out"
    );
    // The hole of P4-5 (index 4 * 12 + 5) is empty.
    let (hx, hy) = (500_000.0 + 3.5 * 5.0 + 1.5, 4_100_000.0 + 2.5 * 4.0 + 1.0);
    assert_eq!(index.locate("F1", hx, hy), None);
    assert_eq!(index.locate("F1", hx - 1.2, hy), Some(4 * 12 + 5));
}

#[test]
fn assign_batch_maps_pixels_and_leaves_outsiders_unassigned() {
    let plots = vec![
        rect_plot("F1", "P1", 1, "L1", false, (0.0, 0.0), (4.0, 2.0)),
        rect_plot("F1", "P2", 1, "L2", false, (4.0, 0.0), (8.0, 2.0)),
    ];
    let index = PlotIndex::new(&plots);
    let leaf = [0.1_f32];
    let mut other_farm = Px::new(1.0, 1.0, &leaf);
    other_farm.farm = "F9";
    let batch = silver_batch(
        &[800.0],
        &[
            Px::new(1.0, 1.0, &leaf),
            Px::new(5.0, 1.0, &leaf),
            Px::new(9.0, 1.0, &leaf),
            Px::new(4.0, 3.0, &leaf),
            other_farm,
        ],
    );
    assert_eq!(
        index.assign_batch(&batch).unwrap(),
        vec![Some(0), Some(1), None, None, None]
    );
}
