//! The runtime reports errors with the crate's one error type, [`crate::Error`]: besides reading,
//! calibrating and encoding, it has variants for the outbox and state stores
//! ([`Error::Corrupt`]), Kafka ([`Error::Kafka`]), S3 ([`Error::S3`]) and shutdown
//! ([`Error::Shutdown`]). Every variant names what it was working on (file, cube id, topic, S3
//! key), and [`Error::retryable`] tells the retry loops whether trying again can help.

pub use crate::error::{Error, Result};
