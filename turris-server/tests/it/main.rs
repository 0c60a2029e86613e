//! Integration tests of the reference server, in one binary.

mod api;
mod db;
mod delivery;
mod demo;
mod store;
mod sync;
