//! Integration tests of turris-webhooks, in one binary.

mod axum_extractor;
mod conformance;
mod debounce;
mod delivery;
mod envelope;
mod fuzz;
mod receiver;
mod renewal;
mod retry;
mod rotation;
mod signature;
mod url;
