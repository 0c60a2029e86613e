//! Webhook delivery in the server: outbox, leases, retries, debounce and restarts.
//!
//! Each test runs real servers (delivery workers on) against a fresh database on both
//! backends, with a receiver on loopback that verifies every signature. Waiting polls a
//! condition with a generous deadline ([`harness::eventually`]); nothing sleeps a fixed time.

mod batch;
mod debounce;
mod fairness;
mod harness;
mod health;
mod leases;
mod memory;
mod queue;
mod recover;
mod restart;
mod rotation;
