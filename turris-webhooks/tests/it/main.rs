//! Integration tests of turris-webhooks, in one binary.

mod envelope;
mod signature;
mod url;
