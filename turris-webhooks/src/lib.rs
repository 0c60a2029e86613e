//! Signed Turris webhooks: signing, verification, delivery and debouncing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
