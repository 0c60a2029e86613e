//! Tests of the HubSpot sandbox (feature `sandbox`), over real HTTP on loopback.

mod associations;
mod contract;
mod crm;
mod helpers;
mod oauth;
mod rate_limits;
mod search;
mod webhooks;
