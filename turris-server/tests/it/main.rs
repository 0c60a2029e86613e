//! Integration tests of the reference server, in one binary.

#[macro_use]
mod support;

mod api;
mod console;
mod delivery;
mod demo;
mod store;
mod sync;
