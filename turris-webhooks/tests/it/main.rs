//! Integration tests of turris-webhooks, in one binary.

mod conformance;
mod debounce;
mod delivery;
mod envelope;
mod receiver;
mod signature;
mod url;
