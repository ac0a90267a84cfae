//! The versioned breeding rule set.
//!
//! Rules live in a TOML file shipped with the project, `lakehouse/rules/breeding_rules.toml`,
//! embedded in the binary as [`DEFAULT_RULES_TOML`] and overridable with a file of the same
//! shape. Parsing is strict: unknown keys are rejected (a misspelt rule must not silently turn
//! into "no rule"), and every value is range-checked. Every decision row records
//! [`BreedingRules::rules_version`].

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The default rule set, as shipped in `lakehouse/rules/breeding_rules.toml`.
pub const DEFAULT_RULES_TOML: &str = include_str!("../../rules/breeding_rules.toml");

const DEFAULT_ORIGIN: &str = "embedded lakehouse/rules/breeding_rules.toml";

/// Thresholds for Advance/Discard (see the rules file for each rule's meaning).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreedingRules {
    /// Version of the rule set, recorded on every decision (e.g. `"2026.1"`).
    pub rules_version: String,
    /// Minimum distinct plots per line per trial and season.
    pub min_plots: u32,
    /// Minimum line NDVI as a fraction of the checks' NDVI.
    pub ndvi_vs_checks_min: f64,
    /// Minimum season NDWI (water-stress floor).
    pub water_stress_floor: f64,
    /// Minimum historical yield as a fraction of the checks' historical yield.
    pub yield_vs_checks_min: f64,
}

impl BreedingRules {
    /// The embedded default rules.
    pub fn embedded() -> Result<Self> {
        Self::from_toml_str(DEFAULT_RULES_TOML, DEFAULT_ORIGIN)
    }

    /// Parse and validate rules from TOML text; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let rules: BreedingRules =
            toml::from_str(text).map_err(|e| Error::config(origin, e.to_string().trim_end()))?;
        rules.validate(origin)?;
        Ok(rules)
    }

    /// Read, parse and validate a rules file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Check every value's range.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |reason: String| Err(Error::config(origin, reason));
        if self.rules_version.trim().is_empty() {
            return bad("`rules_version` must not be empty".into());
        }
        if self.min_plots == 0 {
            return bad("`min_plots` must be at least 1".into());
        }
        for (key, v) in [
            ("ndvi_vs_checks_min", self.ndvi_vs_checks_min),
            ("yield_vs_checks_min", self.yield_vs_checks_min),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("`{key}` must be a positive fraction, found {v}"));
            }
        }
        let floor = self.water_stress_floor;
        if !(floor.is_finite() && (-1.0..=1.0).contains(&floor)) {
            return bad(format!(
                "`water_stress_floor` must be an NDWI value in [-1, 1], found {floor}"
            ));
        }
        Ok(())
    }
}
