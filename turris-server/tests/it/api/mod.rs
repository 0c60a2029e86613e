//! The HTTP API suite.
