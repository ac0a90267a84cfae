//! Breeding decisions: versioned rules and `gold.breeding_decisions` (DESIGN §8).
//!
//! - [`rules`](mod@rules): the rule set, a strict TOML file shipped as `lakehouse/rules/breeding_rules.toml`.
//! - [`decide`](mod@decide): per trial, season and line metrics, the `Advance`/`Discard` verdict and
//!   its reasons.
//!
//! ```
//! use hsi_lakehouse::breeding::{BreedingRules, decide};
//!
//! # fn main() -> hsi_lakehouse::Result<()> {
//! let rules = BreedingRules::embedded()?;
//! assert_eq!(rules.rules_version, "2026.2");
//! // No observations in 2026: no decisions.
//! assert!(decide(&[], &[], &rules, 2026).is_empty());
//! # Ok(()) }
//! ```

pub mod decide;
pub mod rules;

pub use decide::{ALL_RULES_PASSED, Decision, DecisionRow, decide};
pub use rules::{BreedingRules, DEFAULT_RULES_TOML};
