//! The Turris integrations domain, with no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
