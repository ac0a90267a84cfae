//! # hsi-ingest
//!
//! Cloud ingest workers (SQS dispatcher, Batch worker, Kafka stream consumer). A placeholder
//! until issue 4 lands; it depends on the edge library so the processing code is shared.
//!
//! ```
//! assert!(!hsi_ingest::PIPELINE_NAME.is_empty());
//! ```

/// The value written to the Silver `pipeline` column by cloud workers.
pub const PIPELINE_NAME: &str = "batch";
