//! Integration tests of the reference server, in one binary.

#[macro_use]
mod api;
mod console;
mod db;
mod delivery;
mod demo;
mod store;
mod sync;
