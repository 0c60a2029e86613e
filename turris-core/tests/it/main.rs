//! Integration tests of turris-core's public API: property tests and an end-to-end sync flow.

mod filter_props;
mod fuzz;
mod mapping_props;
mod sync_flow;
