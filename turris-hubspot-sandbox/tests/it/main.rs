//! Tests of the HubSpot sandbox over real HTTP on loopback, some of them through the real client.

mod associations;
mod contract;
mod crm;
mod helpers;
mod journal;
mod oauth;
mod rate_limits;
mod search;
mod webhooks;
