//! Integration tests of the reference server, in one binary.

mod api;
mod db;
mod delivery;
mod store;
mod sync;
