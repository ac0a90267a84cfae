//! Advance/Discard decisions per trial, season and breeding line → `gold.breeding_decisions`.
//!
//! ## Metrics
//!
//! For a season (calendar year of `acquisition_date`), the plot-level rows of
//! `gold.plot_indices` are grouped by `(trial_id, line_id)`:
//!
//! - `n_plots`: distinct `(farm_id, field_id, plot_id)` of the line in the trial that season;
//! - `ndvi_mean` / `ndwi_mean`: the mean of the line's plot-date means (each plot-date weighs
//!   the same), null when none is non-null;
//! - `check_ndvi_ref`: the mean, over the trial's check lines, of their `ndvi_mean` (each check
//!   line weighs the same). A line is a check when any of its plots in the trial is marked
//!   `is_check`;
//! - `yield_mean`: the mean `yield_t_ha` of the line over the whole yield history up to and
//!   including the season (all farms and fields; later seasons are ignored so that re-deciding a
//!   past season gives the same answer);
//! - `check_yield_ref`: the mean, over the trial's check lines that have a yield history, of
//!   their `yield_mean`.
//!
//! ## Rules (see [`BreedingRules`])
//!
//! | rule | fails when | skipped when |
//! |---|---|---|
//! | `min_plots` | `n_plots < min_plots` | never |
//! | `ndvi_vs_checks_min` | `ndvi_mean < ndvi_vs_checks_min · check_ndvi_ref` | no NDVI for the line, or no check NDVI in the trial |
//! | `water_stress_floor` | `ndwi_mean < water_stress_floor` | no NDWI (VNIR-only sensors) |
//! | `yield_vs_checks_min` | `yield_mean < yield_vs_checks_min · check_yield_ref` | no yield history for the line, or for the trial's checks |
//!
//! All rules are evaluated, so `reasons` lists every failure with its numbers; a line with no
//! failure gets `"all rules passed"`. A skipped rule never causes a Discard and is noted in
//! `reasons` after the verdict. Check lines are evaluated exactly like the others: compared with
//! the mean of all checks (themselves included) they usually pass, but a check clearly weaker
//! than the other checks can be Discarded, which is worth knowing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock};

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::Datelike;

use super::rules::BreedingRules;
use crate::error::Result;
use crate::gold::PlotIndicesRow;
use crate::gold::columns::{make_batch, string_list_array, string_list_type};
use crate::gold::stats::Mean;
use crate::refdata::YieldRow;

/// The Iceberg table these rows go to.
pub const TABLE: &str = "gold.breeding_decisions";

/// The reason given when no rule failed.
pub const ALL_RULES_PASSED: &str = "all rules passed";

/// The verdict for a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Keep the line in the programme.
    Advance,
    /// Drop the line.
    Discard,
}

impl Decision {
    /// `"Advance"` or `"Discard"`, as stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Advance => "Advance",
            Decision::Discard => "Discard",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `gold.breeding_decisions`.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRow {
    /// Trial.
    pub trial_id: String,
    /// Season (calendar year).
    pub season: i32,
    /// Breeding line.
    pub line_id: String,
    /// Whether the line is a check in this trial.
    pub is_check: bool,
    /// Distinct plots of the line in the trial this season.
    pub n_plots: i64,
    /// Season NDVI (mean of plot-date means).
    pub ndvi_mean: Option<f64>,
    /// Season NDWI (mean of plot-date means).
    pub ndwi_mean: Option<f64>,
    /// Mean season NDVI of the trial's check lines.
    pub check_ndvi_ref: Option<f64>,
    /// Historical mean yield of the line, t/ha.
    pub yield_mean: Option<f64>,
    /// Mean historical yield of the trial's check lines, t/ha.
    pub check_yield_ref: Option<f64>,
    /// The verdict.
    pub decision: Decision,
    /// Failed rules with numbers (or [`ALL_RULES_PASSED`]), then notes on skipped rules.
    pub reasons: Vec<String>,
    /// The rule set's version.
    pub rules_version: String,
}

/// The Arrow schema of `gold.breeding_decisions`.
pub fn arrow_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        let metric = |n: &str| Field::new(n, DataType::Float64, true);
        Arc::new(Schema::new(vec![
            Field::new("trial_id", DataType::Utf8, false),
            Field::new("season", DataType::Int32, false),
            Field::new("line_id", DataType::Utf8, false),
            Field::new("is_check", DataType::Boolean, false),
            Field::new("n_plots", DataType::Int64, false),
            metric("ndvi_mean"),
            metric("ndwi_mean"),
            metric("check_ndvi_ref"),
            metric("yield_mean"),
            metric("check_yield_ref"),
            Field::new("decision", DataType::Utf8, false),
            Field::new("reasons", string_list_type(), false),
            Field::new("rules_version", DataType::Utf8, false),
        ]))
    });
    SCHEMA.clone()
}

#[derive(Default)]
struct LineAcc<'a> {
    plots: BTreeSet<(&'a str, &'a str, &'a str)>,
    ndvi: Mean,
    ndwi: Mean,
    is_check: bool,
}

/// Decide every line of every trial observed in `season`, sorted by `(trial_id, line_id)`.
pub fn decide(
    plot_rows: &[PlotIndicesRow],
    yields: &[YieldRow],
    rules: &BreedingRules,
    season: i32,
) -> Vec<DecisionRow> {
    let mut trials: BTreeMap<&str, BTreeMap<&str, LineAcc<'_>>> = BTreeMap::new();
    for r in plot_rows
        .iter()
        .filter(|r| r.acquisition_date.year() == season)
    {
        let line = trials
            .entry(r.trial_id.as_str())
            .or_default()
            .entry(r.line_id.as_str())
            .or_default();
        line.plots.insert((&r.farm_id, &r.field_id, &r.plot_id));
        line.is_check |= r.is_check;
        if let Some(v) = r.ndvi_mean {
            line.ndvi.push(v);
        }
        if let Some(v) = r.ndwi_mean {
            line.ndwi.push(v);
        }
    }

    let mut yield_by_line: HashMap<&str, Mean> = HashMap::new();
    for y in yields.iter().filter(|y| y.season <= season) {
        yield_by_line
            .entry(&y.line_id)
            .or_default()
            .push(y.yield_t_ha);
    }
    let line_yield = |line: &str| yield_by_line.get(line).and_then(Mean::mean);

    let mut out = Vec::new();
    for (trial, lines) in &trials {
        let mut check_ndvi = Mean::default();
        let mut check_yield = Mean::default();
        for (line, acc) in lines.iter().filter(|(_, a)| a.is_check) {
            if let Some(v) = acc.ndvi.mean() {
                check_ndvi.push(v);
            }
            if let Some(v) = line_yield(line) {
                check_yield.push(v);
            }
        }
        let metrics = |line: &str, acc: &LineAcc<'_>| Metrics {
            n_plots: acc.plots.len(),
            ndvi: acc.ndvi.mean(),
            ndwi: acc.ndwi.mean(),
            check_ndvi: check_ndvi.mean(),
            yield_mean: line_yield(line),
            check_yield: check_yield.mean(),
        };
        for (line, acc) in lines {
            let m = metrics(line, acc);
            let (decision, reasons) = evaluate(&m, rules, season);
            out.push(DecisionRow {
                trial_id: (*trial).to_owned(),
                season,
                line_id: (*line).to_owned(),
                is_check: acc.is_check,
                n_plots: i64::try_from(m.n_plots).unwrap_or(i64::MAX),
                ndvi_mean: m.ndvi,
                ndwi_mean: m.ndwi,
                check_ndvi_ref: m.check_ndvi,
                yield_mean: m.yield_mean,
                check_yield_ref: m.check_yield,
                decision,
                reasons,
                rules_version: rules.rules_version.clone(),
            });
        }
    }
    out
}

/// The numbers a line is judged on.
struct Metrics {
    n_plots: usize,
    ndvi: Option<f64>,
    ndwi: Option<f64>,
    check_ndvi: Option<f64>,
    yield_mean: Option<f64>,
    check_yield: Option<f64>,
}

/// Apply every rule; return the verdict and the reasons.
fn evaluate(m: &Metrics, rules: &BreedingRules, season: i32) -> (Decision, Vec<String>) {
    let mut failed = Vec::new();
    let mut skipped = Vec::new();

    if m.n_plots < rules.min_plots as usize {
        failed.push(format!(
            "only {} plots (< min_plots {})",
            m.n_plots, rules.min_plots
        ));
    }

    match (m.ndvi, m.check_ndvi) {
        (Some(ndvi), Some(reference)) => {
            let threshold = rules.ndvi_vs_checks_min * reference;
            if ndvi < threshold {
                failed.push(format!(
                    "season NDVI {ndvi:.4} < {} × checks' NDVI {reference:.4} = {threshold:.4} (ndvi_vs_checks_min)",
                    rules.ndvi_vs_checks_min
                ));
            }
        }
        (None, _) => skipped.push("ndvi_vs_checks_min skipped: no NDVI for the line".to_owned()),
        (Some(_), None) => skipped
            .push("ndvi_vs_checks_min skipped: no check line with NDVI in the trial".to_owned()),
    }

    match m.ndwi {
        Some(ndwi) if ndwi < rules.water_stress_floor => failed.push(format!(
            "season NDWI {ndwi:.4} < water_stress_floor {} (water_stress_floor)",
            rules.water_stress_floor
        )),
        Some(_) => {}
        None => skipped
            .push("water_stress_floor skipped: no NDWI (no SWIR band near 1240 nm)".to_owned()),
    }

    match (m.yield_mean, m.check_yield) {
        (Some(y), Some(reference)) => {
            let threshold = rules.yield_vs_checks_min * reference;
            if y < threshold {
                failed.push(format!(
                    "historical yield {y:.2} t/ha < {} × checks' yield {reference:.2} t/ha = {threshold:.2} t/ha (yield_vs_checks_min)",
                    rules.yield_vs_checks_min
                ));
            }
        }
        (None, _) => skipped.push(format!(
            "yield_vs_checks_min skipped: no yield history for the line up to season {season}"
        )),
        (Some(_), None) => skipped.push(format!(
            "yield_vs_checks_min skipped: no yield history for the trial's checks up to season {season}"
        )),
    }

    let decision = if failed.is_empty() {
        failed.push(ALL_RULES_PASSED.to_owned());
        Decision::Advance
    } else {
        Decision::Discard
    };
    failed.extend(skipped);
    (decision, failed)
}

/// Build a `gold.breeding_decisions` batch (schema [`arrow_schema()`]).
pub fn to_record_batch(rows: &[DecisionRow]) -> Result<RecordBatch> {
    let strings = |f: fn(&DecisionRow) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(f(r))).collect::<StringArray>())
    };
    let metric = |f: fn(&DecisionRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.trial_id),
        Arc::new(rows.iter().map(|r| r.season).collect::<Int32Array>()),
        strings(|r| &r.line_id),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.is_check))
                .collect::<BooleanArray>(),
        ),
        Arc::new(rows.iter().map(|r| r.n_plots).collect::<Int64Array>()),
        metric(|r| r.ndvi_mean),
        metric(|r| r.ndwi_mean),
        metric(|r| r.check_ndvi_ref),
        metric(|r| r.yield_mean),
        metric(|r| r.check_yield_ref),
        strings(|r| r.decision.as_str()),
        Arc::new(string_list_array(rows.iter().map(|r| r.reasons.as_slice()))),
        strings(|r| &r.rules_version),
    ];
    make_batch(TABLE, arrow_schema(), columns)
}
