//! Runnable examples of the Turris crates: see the `[[example]]` targets in `Cargo.toml`.
#![forbid(unsafe_code)]
