//! Integration tests of the reference server, in one binary.

#[macro_use]
mod support;

mod api;
mod delivery;
mod demo;
mod store;
mod sync;
