//! Integration tests of the HubSpot client against wiremock (one binary, modules by concept).

mod auth;
mod batch;
mod crm;
mod fuzz;
mod journal;
mod redaction;
mod retries;
mod search;
mod subscriptions;
mod support;
mod token_manager;
mod webhooks;
