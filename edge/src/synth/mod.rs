//! Synthetic field-trial generator. CONTRACT STUB: to be implemented.
