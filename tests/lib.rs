//! End-to-end tests across the Turris crates live in this package's test targets.
#![forbid(unsafe_code)]
