//! Breeding rules and decisions on a hand-made trial where each rule fires exactly once.

use std::io::Write as _;

use arrow_array::{Array, ListArray, StringArray};
use chrono::NaiveDate;
use hsi_lakehouse::Error;
use hsi_lakehouse::breeding::decide::{arrow_schema, to_record_batch};
use hsi_lakehouse::breeding::{
    ALL_RULES_PASSED, BreedingRules, DEFAULT_RULES_TOML, Decision, DecisionRow, decide,
};
use hsi_lakehouse::gold::PlotIndicesRow;
use hsi_lakehouse::refdata::YieldRow;

fn plot_row(
    line: &str,
    plot: &str,
    day: &str,
    ndvi: Option<f64>,
    ndwi: Option<f64>,
    check: bool,
) -> PlotIndicesRow {
    PlotIndicesRow {
        farm_id: "F1".into(),
        field_id: "A".into(),
        plot_id: plot.into(),
        acquisition_date: day.parse::<NaiveDate>().unwrap(),
        row: 1,
        pixel_count: 100,
        ndvi_mean: ndvi,
        ndvi_stddev: Some(0.01),
        ndvi_p10: ndvi,
        ndvi_p50: ndvi,
        ndvi_p90: ndvi,
        ndwi_mean: ndwi,
        ndre_mean: Some(0.3),
        cire_mean: Some(2.0),
        mcari_mean: Some(0.2),
        line_id: line.into(),
        trial_id: "T1".into(),
        is_check: check,
        crop: "wheat".into(),
        calibration_version: "cal".into(),
        source_cube_ids: vec!["c1".into()],
        silver_snapshot_id: 1,
    }
}

/// Three plots of `line`, one date each, with the given season NDVI/NDWI.
fn line_rows(line: &str, plots: usize, ndvi: f64, ndwi: f64, check: bool) -> Vec<PlotIndicesRow> {
    (0..plots)
        .map(|i| {
            plot_row(
                line,
                &format!("{line}-{i}"),
                "2025-06-10",
                Some(ndvi),
                Some(ndwi),
                check,
            )
        })
        .collect()
}

fn yield_row(line: &str, season: i32, t: f64) -> YieldRow {
    YieldRow {
        farm_id: "F1".into(),
        field_id: "A".into(),
        line_id: line.into(),
        season,
        yield_t_ha: t,
    }
}

/// The trial: checks CHK1 (NDVI 0.76) and CHK2 (0.74) → check NDVI 0.75, threshold 0.7125;
/// check yields 5.2 and 4.8 → reference 5.0 t/ha, threshold 4.75 t/ha.
fn trial() -> (Vec<PlotIndicesRow>, Vec<YieldRow>) {
    let mut rows = Vec::new();
    rows.extend(line_rows("CHK1", 3, 0.76, 0.20, true));
    rows.extend(line_rows("CHK2", 3, 0.74, 0.20, true));
    // L_PASS: plot-date means 0.70, 0.72, 0.74 → season NDVI 0.72; NDWI 0.15 and 0.13 on two
    // dates (and null on a VNIR-only date) → 0.14.
    rows.push(plot_row(
        "L_PASS",
        "L_PASS-0",
        "2025-06-10",
        Some(0.70),
        Some(0.15),
        false,
    ));
    rows.push(plot_row(
        "L_PASS",
        "L_PASS-1",
        "2025-06-10",
        Some(0.72),
        Some(0.13),
        false,
    ));
    rows.push(plot_row(
        "L_PASS",
        "L_PASS-2",
        "2025-07-01",
        Some(0.74),
        None,
        false,
    ));
    rows.extend(line_rows("L_FEW", 2, 0.80, 0.20, false));
    rows.extend(line_rows("L_NDVI", 3, 0.60, 0.20, false));
    rows.extend(line_rows("L_DRY", 3, 0.78, 0.02, false));
    rows.extend(line_rows("L_YIELD", 3, 0.77, 0.20, false));
    // Another season must not count: it would lift L_NDVI above the threshold.
    rows.push(plot_row(
        "L_NDVI",
        "L_NDVI-0",
        "2024-06-10",
        Some(0.99),
        Some(0.3),
        false,
    ));

    let yields = vec![
        yield_row("CHK1", 2023, 5.0),
        yield_row("CHK1", 2024, 5.4), // CHK1 mean 5.2
        yield_row("CHK2", 2024, 4.8),
        yield_row("L_PASS", 2024, 5.0),
        yield_row("L_PASS", 2026, 1.0), // a later season: ignored when deciding 2025
        yield_row("L_FEW", 2024, 5.5),
        yield_row("L_NDVI", 2024, 5.1),
        yield_row("L_DRY", 2024, 5.3),
        yield_row("L_YIELD", 2024, 4.0),
    ];
    (rows, yields)
}

fn by_line<'a>(decisions: &'a [DecisionRow], line: &str) -> &'a DecisionRow {
    decisions.iter().find(|d| d.line_id == line).unwrap()
}

fn close(actual: Option<f64>, expected: f64) {
    let a = actual.expect("value present");
    assert!(
        (a - expected).abs() < 1e-12,
        "expected {expected}, found {a}"
    );
}

/// The 2026.1 rule set the hand-made trial below was designed around (fixed here, so the
/// shipped defaults can evolve without changing what these tests check).
fn rules_2026_1() -> BreedingRules {
    BreedingRules {
        rules_version: "2026.1".into(),
        min_plots: 3,
        ndvi_vs_checks_min: 0.95,
        water_stress_floor: 0.05,
        yield_vs_checks_min: 0.95,
    }
}

#[test]
fn each_rule_fires_once_and_one_line_passes_all() {
    let rules = rules_2026_1();
    let (rows, yields) = trial();
    let decisions = decide(&rows, &yields, &rules, 2025);
    let lines: Vec<_> = decisions.iter().map(|d| d.line_id.as_str()).collect();
    assert_eq!(
        lines,
        [
            "CHK1", "CHK2", "L_DRY", "L_FEW", "L_NDVI", "L_PASS", "L_YIELD"
        ]
    );
    assert!(
        decisions
            .iter()
            .all(|d| d.trial_id == "T1" && d.season == 2025 && d.rules_version == "2026.1")
    );

    let pass = by_line(&decisions, "L_PASS");
    assert_eq!(pass.decision, Decision::Advance);
    assert_eq!(pass.reasons, [ALL_RULES_PASSED]);
    assert_eq!(pass.n_plots, 3);
    close(pass.ndvi_mean, 0.72);
    close(pass.ndwi_mean, 0.14);
    close(pass.check_ndvi_ref, 0.75);
    close(pass.yield_mean, 5.0);
    close(pass.check_yield_ref, 5.0);
    assert!(!pass.is_check);

    let expect_discard = |line: &str, reason: &str| {
        let d = by_line(&decisions, line);
        assert_eq!(d.decision, Decision::Discard, "{line}");
        assert_eq!(d.reasons, [reason], "{line}");
    };
    expect_discard("L_FEW", "only 2 plots (< min_plots 3)");
    expect_discard(
        "L_NDVI",
        "season NDVI 0.6000 < 0.95 × checks' NDVI 0.7500 = 0.7125 (ndvi_vs_checks_min)",
    );
    expect_discard(
        "L_DRY",
        "season NDWI 0.0200 < water_stress_floor 0.05 (water_stress_floor)",
    );
    expect_discard(
        "L_YIELD",
        "historical yield 4.00 t/ha < 0.95 × checks' yield 5.00 t/ha = 4.75 t/ha (yield_vs_checks_min)",
    );
    assert_eq!(
        by_line(&decisions, "L_NDVI").n_plots,
        3,
        "the 2024 plot-date is not counted"
    );

    // Checks are evaluated like any line: both are within 5 % of their mean, so Advance.
    for check in ["CHK1", "CHK2"] {
        let d = by_line(&decisions, check);
        assert!(d.is_check);
        assert_eq!(d.decision, Decision::Advance, "{check}");
        assert_eq!(d.reasons, [ALL_RULES_PASSED]);
    }
    close(by_line(&decisions, "CHK1").yield_mean, 5.2);
}

#[test]
fn every_failure_is_listed_and_skips_are_explained() {
    let rules = rules_2026_1();
    let (mut rows, yields) = trial();
    // A line failing three rules at once.
    rows.extend(line_rows("L_BAD", 1, 0.50, -0.10, false));
    // A new line: no NDWI (VNIR-only days) and no yield history.
    for i in 0..3 {
        rows.push(plot_row(
            "L_NEW",
            &format!("N{i}"),
            "2025-06-10",
            Some(0.80),
            None,
            false,
        ));
    }
    let decisions = decide(&rows, &yields, &rules, 2025);
    let bad = by_line(&decisions, "L_BAD");
    assert_eq!(bad.decision, Decision::Discard);
    assert_eq!(
        bad.reasons,
        [
            "only 1 plots (< min_plots 3)",
            "season NDVI 0.5000 < 0.95 × checks' NDVI 0.7500 = 0.7125 (ndvi_vs_checks_min)",
            "season NDWI -0.1000 < water_stress_floor 0.05 (water_stress_floor)",
            "yield_vs_checks_min skipped: no yield history for the line up to season 2025",
        ]
    );
    let new = by_line(&decisions, "L_NEW");
    assert_eq!(new.decision, Decision::Advance);
    assert_eq!(
        new.reasons,
        [
            ALL_RULES_PASSED,
            "water_stress_floor skipped: no NDWI (no SWIR band near 1240 nm)",
            "yield_vs_checks_min skipped: no yield history for the line up to season 2025",
        ]
    );
    assert_eq!((new.ndwi_mean, new.yield_mean), (None, None));
}

#[test]
fn a_trial_without_checks_skips_the_relative_rules() {
    let rules = rules_2026_1();
    let rows = line_rows("L1", 3, 0.4, 0.2, false);
    let yields = vec![yield_row("L1", 2024, 3.0)];
    let decisions = decide(&rows, &yields, &rules, 2025);
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0].decision, Decision::Advance);
    assert_eq!(
        decisions[0].reasons,
        [
            ALL_RULES_PASSED,
            "ndvi_vs_checks_min skipped: no check line with NDVI in the trial",
            "yield_vs_checks_min skipped: no yield history for the trial's checks up to season 2025",
        ]
    );
    assert_eq!(decisions[0].check_ndvi_ref, None);
    assert!(
        decide(&rows, &yields, &rules, 2024).is_empty(),
        "no observations in 2024"
    );
}

#[test]
fn decisions_arrow_batch() {
    let rules = rules_2026_1();
    let (rows, yields) = trial();
    let decisions = decide(&rows, &yields, &rules, 2025);
    let batch = to_record_batch(&decisions).unwrap();
    assert_eq!(batch.schema(), arrow_schema());
    assert_eq!(batch.num_rows(), 7);
    let decision = batch.column_by_name("decision").unwrap();
    let decision = decision.as_any().downcast_ref::<StringArray>().unwrap();
    let verdicts: Vec<_> = (0..7).map(|i| decision.value(i)).collect();
    assert_eq!(
        verdicts,
        [
            "Advance", "Advance", "Discard", "Discard", "Discard", "Advance", "Discard"
        ]
    );
    let reasons = batch.column_by_name("reasons").unwrap();
    let reasons = reasons.as_any().downcast_ref::<ListArray>().unwrap();
    let few = reasons.value(3);
    let few = few.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(few.value(0), "only 2 plots (< min_plots 3)");
    assert_eq!(batch.column_by_name("ndwi_mean").unwrap().null_count(), 0);
}

#[test]
fn default_rules_file_parses() {
    let rules = BreedingRules::embedded().unwrap();
    assert_eq!(
        rules,
        BreedingRules {
            rules_version: "2026.2".into(),
            min_plots: 2,
            ndvi_vs_checks_min: 0.95,
            water_stress_floor: 0.03,
            yield_vs_checks_min: 0.95,
        }
    );
    // The shipped file and the embedded copy are the same text.
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/breeding_rules.toml"
    ))
    .unwrap();
    assert_eq!(on_disk, DEFAULT_RULES_TOML);
}

/// The shipped rules file as it was at 2026.1 (these tests edit its text).
fn rules_2026_1_toml() -> String {
    DEFAULT_RULES_TOML
        .replace("rules_version = \"2026.2\"", "rules_version = \"2026.1\"")
        .replace("min_plots = 2", "min_plots = 3")
        .replace("water_stress_floor = 0.03", "water_stress_floor = 0.05")
}

#[test]
fn unknown_and_missing_fields_are_rejected() {
    let with_typo = rules_2026_1_toml().replace("min_plots = 3", "min_plot = 3");
    let err = BreedingRules::from_toml_str(&with_typo, "rules.toml").unwrap_err();
    assert!(matches!(err, Error::ConfigFile { .. }));
    let msg = err.to_string();
    assert!(msg.starts_with("configuration rules.toml: "), "{msg}");
    assert!(msg.contains("unknown field `min_plot`"), "{msg}");

    let extra = format!("{}\nmax_plots = 9\n", rules_2026_1_toml());
    let msg = BreedingRules::from_toml_str(&extra, "rules.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("unknown field `max_plots`"), "{msg}");

    let missing = rules_2026_1_toml().replace("water_stress_floor = 0.05", "");
    let msg = BreedingRules::from_toml_str(&missing, "rules.toml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("missing field `water_stress_floor`"), "{msg}");
}

#[test]
fn out_of_range_values_are_rejected() {
    let cases = [
        (
            "min_plots = 3",
            "min_plots = 0",
            "`min_plots` must be at least 1",
        ),
        (
            "ndvi_vs_checks_min = 0.95",
            "ndvi_vs_checks_min = -0.5",
            "`ndvi_vs_checks_min` must be a positive fraction, found -0.5",
        ),
        (
            "yield_vs_checks_min = 0.95",
            "yield_vs_checks_min = nan",
            "`yield_vs_checks_min` must be a positive fraction, found NaN",
        ),
        (
            "water_stress_floor = 0.05",
            "water_stress_floor = 3.0",
            "`water_stress_floor` must be an NDWI value in [-1, 1], found 3",
        ),
        (
            "rules_version = \"2026.1\"",
            "rules_version = \" \"",
            "`rules_version` must not be empty",
        ),
    ];
    for (from, to, reason) in cases {
        let text = rules_2026_1_toml().replace(from, to);
        let err = BreedingRules::from_toml_str(&text, "r.toml").unwrap_err();
        assert_eq!(err.to_string(), format!("configuration r.toml: {reason}"));
    }
}

#[test]
fn rules_from_a_file() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let text = rules_2026_1_toml()
        .replace("\"2026.1\"", "\"2026.2-test\"")
        .replace("min_plots = 3", "min_plots = 2");
    f.write_all(text.as_bytes()).unwrap();
    let rules = BreedingRules::from_file(f.path()).unwrap();
    assert_eq!(
        (rules.rules_version.as_str(), rules.min_plots),
        ("2026.2-test", 2)
    );
    let (rows, yields) = trial();
    let few = decide(&rows, &yields, &rules, 2025)
        .into_iter()
        .find(|d| d.line_id == "L_FEW")
        .unwrap();
    assert_eq!(
        (few.decision, few.rules_version.as_str()),
        (Decision::Advance, "2026.2-test")
    );
}
